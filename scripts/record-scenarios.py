#!/usr/bin/env python3
"""Records the labelled leak-detection scenarios of tests/scenarios/ from the real Go program in
tests/targets/scenario (Python 3 standard library only; Go from PATH; loopback only).

    scripts/record-scenarios.py [--only NAME ...] [--speed 60] [--interval 15] [--jobs 4]
                                [--bin PATH] [--out DIR] [--archive-dir tests/scenarios] [--no-pack]

For each scenario it runs `scenario -scenario NAME -speed S -seed N` (GOMAXPROCS=1), polls
/debug/pprof/goroutine?debug=1 every `interval / speed` real seconds and writes each body to
OUT/NAME/<virtual_unix_ms>.txt; scenarios with "debug2_every" in SCHEDULE write debug=2 (wait minutes
rewritten to virtual ones, see WAIT MINUTES) every that many polls, at their own lower speed. Each scenario
is built with the Go toolchain SCHEDULE names (GOTOOLCHAIN; default the local `go`). Virtual time is EPOCH_MS + index * 1 day (so scenarios never overlap in time)
+ real time elapsed since the scenario began, times `speed`. A file is named after the moment its request was
sent. `chanrecv` is recorded as debug=0 (`.pb.gz`) so replay reads that format too; see PB_GZ below for how
those files are stored.

Restarts (scenarios `restart`, `leak_restart`, `deploys*`): at the scripted virtual time the recorder stops the process
(SIGTERM, like a rolling deploy), records nothing for RESTART_GAP_S virtual seconds (a few polls, as a real
restart leaves), then starts a fresh process (new port, next seed) and polls that. Every process started here
is stopped by PID on every path, and is killed by the kernel if this script dies (PR_SET_PDEATHSIG).

Then each OUT/NAME is packed into ARCHIVE_DIR/NAME.tar.xz (members NAME/<ms>.<ext>, sorted, with zeroed
owner and mtime so a re-run with the same data packs the same bytes) and ARCHIVE_DIR/manifest.json is
updated (entries of scenarios not recorded in this run are kept). The manifest's fields:
  name, kind ("leak"|"healthy"), expected_function (leak-site function; null when healthy),
  leak_start_ms (virtual unix ms at which the fault behind the leak began, from the program's
  "leak-start virtual_ms=N" stderr line: start of its process on the virtual clock + N; for leak_restart the
  first start; null when healthy), leak_starts_ms (every start, one per process), restarts (virtual ms at
  which the process was stopped, and at which the next one was started), first_ms / last_ms / samples,
  format ("debug1" | "debug0"), debug2_every_s (virtual seconds between debug=2 files, or null), go (the Go
  release of the recorded binary), speed, interval_s, seed, description.

The catalogue (names, kinds, expected functions, descriptions) comes from `scenario -list`; the recording
schedule (virtual duration, restarts, format) is SCHEDULE below. Recording everything at speed 60 takes about
11 minutes with 4 jobs (40 virtual hours; the longest scenario is slowleak, 4 h).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = os.path.join(REPO, "tests", "targets")
EPOCH_MS = 1_700_000_000_000
DAY_MS = 86_400_000
RESTART_GAP_S = 75  # virtual seconds without a process: five 15 s polls

# name: virtual duration (min), restarts [(stop at virtual min, lead-in for the next process or None)],
# format. Leak scenarios get ~2 h of leak after a 20-30 min lead-in (slowleak 3.5 h); healthy ones 3 h or
# more (sinusoid: 1.4 periods of 2.5 h). The order is longest first, for packing the parallel jobs.
#
# With "debug2_every": N, every Nth poll is a debug=2 profile (the others debug=1) and the recording runs at
# "speed" (lower than the default) so that wait minutes mean something; see WAIT MINUTES below. "go" names a
# toolchain for GOTOOLCHAIN (default: the local one), so recordings come from more than one Go release.
SCHEDULE: dict[str, dict] = {
    "slowshared": {"minutes": 240, "speed": 5, "debug2_every": 8},
    "keepalive": {"minutes": 210, "speed": 5, "debug2_every": 8, "go": "go1.27.3"},
    "iowait": {"minutes": 150, "speed": 5, "debug2_every": 8},
    "sleeploop": {"minutes": 150, "speed": 5, "debug2_every": 8, "go": "go1.27.3"},
    "slowleak": {"minutes": 240},
    "tenants": {"minutes": 240},
    "shards": {"minutes": 240},
    "pool": {"minutes": 240},
    "tenants_b": {"minutes": 240, "speed": 5, "debug2_every": 8},
    "shards_b": {"minutes": 240},
    "pool_b": {"minutes": 240, "speed": 5, "debug2_every": 8, "go": "go1.27.3"},
    "deploys_b": {"minutes": 250, "speed": 5, "debug2_every": 8, "restarts": [(50, "1m"), (100, "1m"), (150, "1m"), (200, "1m")]},
    "deploys": {"minutes": 240, "restarts": [(60, "2m"), (120, "2m"), (180, "2m")]},
    "deploys_healthy": {"minutes": 240, "speed": 5, "debug2_every": 8, "go": "go1.27.3", "restarts": [(60, None), (120, None), (180, None)]},
    "sinusoid": {"minutes": 210},
    "leak_restart": {"minutes": 180, "restarts": [(70, "10m")]},
    "restart": {"minutes": 180, "restarts": [(55, None), (125, None)]},
    "bursty": {"minutes": 180},
    "warmup": {"minutes": 180},
    "batch": {"minutes": 180},
    "chansend": {"minutes": 150},
    "chanrecv": {"minutes": 150, "format": "debug0"},
    "ctx": {"minutes": 150},
    "ticker": {"minutes": 150},
    "waitgroup": {"minutes": 150},
    "mutex": {"minutes": 150},
    "httphandler": {"minutes": 150},
}

# WAIT MINUTES. The runtime prints a goroutine's wait (", N minutes") on its own clock, which runs `speed`
# times slower than the virtual one, and only in whole (real) minutes. The recorder therefore polls debug=2
# at every poll of such a scenario (writing it every debug2_every-th) and rewrites each header's minutes to
# virtual ones. The runtime's N >= 1 real minutes bound the virtual wait to [N, N+1) * speed minutes; the
# recorder's own record of how long it has seen that goroutine (by ID) continuously in that state narrows
# it within those bounds (that record can only be too long, never too short: a goroutine that wakes and
# parks again between two polls is not seen to move, which is why the runtime's bound caps it). When the
# runtime prints no minutes (under one real minute), neither does the recorder. So a goroutine that never
# wakes shows its true virtual wait once it passes `speed` minutes, and shorter waits show none: at speed 5
# waits under 5 virtual minutes are not printed (a real process prints them from about 1-3 minutes, the
# GC stamping them late), never longer than they were. The minutes are printed where the runtime prints
# them: after the markers and before ", locked to thread", and never for a running goroutine.
WAIT_HEADER = re.compile(r"^goroutine (\d+) \[([^\]]*)\]", re.M)
MINUTES = re.compile(r", (\d+) minutes")
NO_MINUTES = ("running", "runnable", "idle", "dead", "copystack", "preempted")


def rewrite_minutes(text: str, now_ms: int, seen: dict[int, tuple[str, int]], speed: float) -> str:
    """The debug=2 dump with virtual wait minutes; `seen` (goroutine ID -> (state, since virtual ms)) is
    updated for the next call."""
    current: dict[int, tuple[str, int]] = {}

    def sub(m: re.Match) -> str:
        goid, status = int(m.group(1)), m.group(2)
        mm = MINUTES.search(status)
        real = int(mm.group(1)) if mm else 0
        state = MINUTES.sub("", status)
        lo, hi = real * speed * 60_000, (real + 1) * speed * 60_000 - 1
        prev = seen.get(goid)
        since = prev[1] if prev and prev[0] == state else now_ms - lo
        current[goid] = (state, since)
        # Under one real minute the runtime prints nothing, and neither does the recorder: it cannot see a
        # wake-up between two polls, so its own count could only overstate a wait the runtime says is short.
        minutes = int(min(max(now_ms - since, lo), hi) // 60_000) if real else 0
        if minutes >= 1 and not state.startswith(NO_MINUTES):
            cut = min([i for i in (state.find(", locked to thread"), state.find(", synctest bubble")) if i >= 0],
                      default=len(state))
            state = f"{state[:cut]}, {minutes} minutes{state[cut:]}"
        return f"goroutine {goid} [{state}]"

    out = WAIT_HEADER.sub(sub, text)
    seen.clear()
    seen.update(current)
    return out


# The .pb.gz files: Go's gzip stream is re-written as a gzip stream of stored (level 0) blocks holding the
# same protobuf, with one change: Profile.time_nanos (field 9, the wall-clock time of the recording) is set
# to the sample's virtual time, the one in its file name. Still a valid .pb.gz for any reader (go tool pprof
# reads it), but xz can then find what consecutive profiles share (two deflate streams of near-identical
# input share almost nothing): 600 profiles pack to ~30 KB instead of a few MB.
PB_GZ_LEVEL = 0


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _put_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def set_time_nanos(profile: bytes, nanos: int) -> bytes:
    """The profile.proto message with its top-level field 9 (time_nanos, varint) replaced; other fields are
    copied byte for byte, in order."""
    out, i, n = bytearray(), 0, len(profile)
    while i < n:
        start = i
        key, i = _varint(profile, i)
        wt = key & 7
        if wt == 0:
            _, i = _varint(profile, i)
        elif wt == 2:
            ln, i = _varint(profile, i)
            i += ln
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        if key == (9 << 3):
            out += _put_varint(key) + _put_varint(nanos)
        else:
            out += profile[start:i]
    return bytes(out)

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
_print_lock = threading.Lock()


def say(msg: str) -> None:
    with _print_lock:
        print(msg, flush=True)


def _pdeathsig() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - non-Linux
        pass


_live: dict[int, subprocess.Popen] = {}
_live_lock = threading.Lock()


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always by PID, only our own child."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with _live_lock:
        _live.pop(proc.pid, None)


def build(out_dir: str, toolchain: str = "local") -> str:
    """Builds tests/targets/scenario with the main module's paths recorded as leakwatch/targets/... (as
    scripts/capture-pprof-testdata.sh does), so the profiles do not depend on where the repo lives. A
    toolchain other than "local" is fetched by the go command through the module proxy once (then cached)."""
    path = os.path.join(out_dir, f"scenario-{toolchain}")
    env = dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN=toolchain, GOTELEMETRY="off")
    if toolchain == "local":
        env["GOPROXY"] = "off"
    env.setdefault("GOCACHE", "/tmp/gocache")
    subprocess.run(["go", "build", f"-gcflags=-trimpath={TARGETS}=>leakwatch/targets", "-o", path, "./scenario"],
                   cwd=TARGETS, env=env, check=True)
    return path


def go_version(binary: str) -> str:
    """The Go release a binary was built with ("go1.26.8"), from `go version BINARY`."""
    out = subprocess.run(["go", "version", binary], check=True, capture_output=True, text=True,
                         env=dict(os.environ, GOTOOLCHAIN="local")).stdout
    return out.rsplit(": ", 1)[1].strip()  # "PATH: go1.26.8"


def catalogue(binary: str) -> dict[str, dict]:
    out = subprocess.run([binary, "-list"], check=True, capture_output=True, text=True).stdout
    cat = {}
    for line in out.splitlines():
        entry = json.loads(line)
        cat[entry["name"]] = entry
    return cat


class Recording:
    """One scenario: its process(es), its virtual clock and its output directory."""

    def __init__(self, name: str, index: int, binary: str, args, out_dir: str, log_dir: str):
        self.name, self.binary, self.args = name, binary, args
        self.sched = SCHEDULE[name]
        self.fmt = self.sched.get("format", "debug1")
        self.speed = float(self.sched.get("speed", args.speed))
        self.debug2_every = int(self.sched.get("debug2_every", 0))
        self.seen: dict[int, tuple[str, int]] = {}  # rewrite_minutes()' memory, per process
        self.base_ms = EPOCH_MS + index * DAY_MS
        self.seed = 1000 + index
        self.dir = os.path.join(out_dir, name)
        self.log_dir = log_dir
        self.t0 = 0.0
        self.proc: subprocess.Popen | None = None
        self.proc_start_ms = 0
        self.runs = 0
        self.leak_starts: list[int] = []
        self.restarts: list[dict] = []
        self.samples = 0
        self.failures = 0

    def vms(self, mono: float) -> int:
        """Virtual unix ms of a time.monotonic() reading."""
        return self.base_ms + int(round((mono - self.t0) * self.speed * 1000))

    def start(self, lead_in: str | None) -> str:
        self.seen.clear()  # goroutine IDs start over with the process
        argv = [self.binary, "-scenario", self.name, "-speed", str(self.speed), "-listen", "127.0.0.1:0",
                "-seed", str(self.seed + 100 * self.runs)]
        if lead_in:
            argv += ["-lead-in", lead_in]
        stem = os.path.join(self.log_dir, f"{self.name}.{self.runs}")
        with open(stem + ".stdout", "wb") as out, open(stem + ".stderr", "wb") as err:
            self.proc_start_ms = self.vms(time.monotonic())
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, close_fds=True,
                                         env=dict(os.environ, GOMAXPROCS="1"), preexec_fn=_pdeathsig)
        with _live_lock:
            _live[self.proc.pid] = self.proc
        self.runs += 1
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(stem + ".stdout", "rb") as f:
                first = f.readline().decode()
            if first.endswith("\n") and first.startswith("listening "):
                return first.split()[1]
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: exited with {self.proc.returncode} before listening")
            time.sleep(0.01)
        raise RuntimeError(f"{self.name}: no 'listening' line within 20 s")

    def stop_current(self) -> None:
        if self.proc is None:
            return
        stop(self.proc)
        stem = os.path.join(self.log_dir, f"{self.name}.{self.runs - 1}")
        with open(stem + ".stderr", "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                m = re.search(r"leak-start virtual_ms=(\d+)", line)
                if m:
                    self.leak_starts.append(self.proc_start_ms + int(m.group(1)))
        self.proc = None

    def fetch(self, addr: str, t_ms: int, k: int) -> bytes:
        """Poll k's body: debug=2 (minutes rewritten) every debug2_every-th poll, else the format's."""
        def get(debug: int) -> bytes:
            with _opener.open(f"http://{addr}/debug/pprof/goroutine?debug={debug}", timeout=10) as resp:
                return resp.read()
        if self.debug2_every:
            dump = rewrite_minutes(get(2).decode("utf-8", "surrogateescape"), t_ms, self.seen, self.speed)
            if k % self.debug2_every == 0:
                return dump.encode("utf-8", "surrogateescape")
        if self.fmt == "debug0":
            return restore_pb_gz(get(0), t_ms)
        return get(1)

    def run(self) -> dict:
        os.makedirs(self.dir, exist_ok=True)
        for f in os.listdir(self.dir):
            os.remove(os.path.join(self.dir, f))
        ext = ".pb.gz" if self.fmt == "debug0" else ".txt"
        period = self.args.interval / self.speed
        end_ms = self.sched["minutes"] * 60_000
        restarts = list(self.sched.get("restarts", []))
        self.t0 = time.monotonic()
        try:
            addr = self.start(None)
            k = 0
            while True:
                due = self.t0 + k * period
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                now = time.monotonic()
                elapsed_ms = self.vms(now) - self.base_ms
                if elapsed_ms >= end_ms:
                    break
                if restarts and elapsed_ms >= restarts[0][0] * 60_000:
                    _, lead_in = restarts.pop(0)
                    down = self.vms(time.monotonic())
                    self.stop_current()
                    time.sleep(RESTART_GAP_S / self.speed)
                    addr = self.start(lead_in)
                    self.restarts.append({"stopped_ms": down, "started_ms": self.proc_start_ms})
                    k = int((time.monotonic() - self.t0) / period) + 1
                    continue
                t_ms = self.vms(now)
                try:
                    body = self.fetch(addr, t_ms, k)
                except Exception as e:  # noqa: BLE001 - a failed poll is skipped, as a scraper would
                    self.failures += 1
                    say(f"{self.name}: poll at {t_ms} failed: {e}")
                else:
                    with open(os.path.join(self.dir, f"{t_ms}{ext}"), "wb") as f:
                        f.write(body)
                    self.samples += 1
                k += 1
                behind = int((time.monotonic() - self.t0) / period)
                if behind > k:  # overran by more than a period: skip the missed polls
                    k = behind
        finally:
            self.stop_current()
        files = sorted(os.listdir(self.dir), key=lambda f: int(f.split(".")[0]))
        return {
            "leak_starts_ms": self.leak_starts, "restarts": self.restarts, "samples": self.samples,
            "first_ms": int(files[0].split(".")[0]), "last_ms": int(files[-1].split(".")[0]),
            "failures": self.failures, "format": self.fmt, "seed": self.seed, "speed": self.speed,
            "debug2_every_s": self.debug2_every * self.args.interval if self.debug2_every else None,
            "go": go_version(self.binary),
        }


def restore_pb_gz(body: bytes, t_ms: int) -> bytes:
    """See PB_GZ_LEVEL."""
    profile = set_time_nanos(gzip.decompress(body), t_ms * 1_000_000)
    return gzip.compress(profile, compresslevel=PB_GZ_LEVEL, mtime=0)


def check(name: str, entry: dict, scen_dir: str) -> str:
    """A summary line, and a sanity check that a leak's expected function is in its last profile."""
    files = sorted(os.listdir(scen_dir), key=lambda f: int(f.split(".")[0]))
    last = os.path.join(scen_dir, files[-1])
    with open(last, "rb") as f:
        data = f.read()
    if last.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("utf-8", "replace")
    m = re.match(r"goroutine profile: total (\d+)", text)
    total = m.group(1) if m else "(debug=0)"
    debug2 = text.startswith("goroutine ") and not m
    if debug2:
        total = str(len(WAIT_HEADER.findall(text)))
    fn = entry["expected_function"]
    note = ""
    if fn:
        if fn.encode() not in data:
            raise RuntimeError(f"{name}: expected function {fn} not in the last profile {last}")
        if not last.endswith(".gz"):  # goroutines in stacks whose leak site (first main. frame) is fn
            n = 0
            blocks = text.split("\n\n") if debug2 else text.partition("\n")[2].split("\n\n")
            for block in blocks:
                head, _, frames = block.partition("\n")
                if debug2:  # one goroutine per block; function lines are "pkg.f(args)" without a tab
                    mains = [ln.rsplit("(", 1)[0] for ln in frames.splitlines() if ln.startswith("main.")]
                else:
                    mains = re.findall(r"\t(main\.\S+)\+0x", frames)
                if mains and mains[0] == fn:
                    n += 1 if debug2 else int(head.split()[0])
            note = f", {n} goroutines parked in {fn} at the end"
    return f"{name}: {entry['samples']} samples, last total {total}{note}"


def pack(scen_dir: str, name: str, archive: str) -> int:
    def clean(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        ti.mtime = 0
        ti.mode = 0o644 if ti.isfile() else 0o755
        return ti

    tmp = archive + ".tmp"
    with tarfile.open(tmp, "w:xz", preset=9, format=tarfile.PAX_FORMAT) as tar:
        tar.add(scen_dir, arcname=name, recursive=False, filter=clean)
        for f in sorted(os.listdir(scen_dir), key=lambda f: int(f.split(".")[0])):
            tar.add(os.path.join(scen_dir, f), arcname=f"{name}/{f}", filter=clean)
    os.replace(tmp, archive)
    return os.path.getsize(archive)


MANIFEST_ABOUT = [
    "Labelled goroutine-leak scenarios recorded from tests/targets/scenario by scripts/record-scenarios.py.",
    "Each NAME.tar.xz holds NAME/<virtual_unix_ms>.txt (debug=1, or debug=2 every debug2_every_s with wait",
    "minutes in virtual time) or .pb.gz (debug=0) goroutine profiles, one per 15 virtual seconds, for",
    "`leakwatch replay DIR` after extraction. Times are virtual: the program (built with Go `go`) ran",
    "`speed` times faster than the clock its files are named by. A leak's goroutines park in",
    "expected_function, starting at leak_start_ms; healthy scenarios have no leak (any alert is a false",
    "positive). scripts/compare-rules.py compares detectors on them. Regenerate: scripts/record-scenarios.py.",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="record only these scenarios")
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--interval", type=float, default=15.0, help="virtual seconds between polls")
    ap.add_argument("--jobs", type=int, default=4, help="scenarios recorded at once")
    ap.add_argument("--bin", help="a built tests/targets/scenario binary (default: build one)")
    ap.add_argument("--out", help="directory for the raw recordings (default: a temporary one, removed)")
    ap.add_argument("--archive-dir", default=os.path.join(REPO, "tests", "scenarios"))
    ap.add_argument("--no-pack", action="store_true", help="record into --out only; no archives, no manifest")
    args = ap.parse_args()
    if args.no_pack and not args.out:
        ap.error("--no-pack needs --out")

    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    work = tempfile.mkdtemp(prefix="record-scenarios.")
    try:
        binaries: dict[str, str] = {}
        for n in SCHEDULE:
            tc = SCHEDULE[n].get("go", "local")
            if tc not in binaries and (not args.only or n in args.only):
                binaries[tc] = args.bin if args.bin and tc == "local" else build(work, tc)
        cat = catalogue(next(iter(binaries.values())))
        if set(cat) != set(SCHEDULE):
            raise SystemExit(f"catalogue and SCHEDULE differ: {sorted(set(cat) ^ set(SCHEDULE))}")
        # Longest real duration first, for packing the parallel jobs.
        names = sorted((n for n in SCHEDULE if not args.only or n in args.only),
                       key=lambda n: -SCHEDULE[n]["minutes"] / SCHEDULE[n].get("speed", args.speed))
        unknown = set(args.only or []) - set(SCHEDULE)
        if unknown:
            raise SystemExit(f"unknown scenario(s): {sorted(unknown)}")
        out_dir = args.out or os.path.join(work, "out")
        log_dir = os.path.join(args.out, "logs") if args.out else os.path.join(work, "logs")  # programs' output
        os.makedirs(log_dir, exist_ok=True)
        index = {n: i for i, n in enumerate(sorted(SCHEDULE))}  # stable epochs, whatever the run order

        results: dict[str, dict] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futs = {pool.submit(Recording(n, index[n], binaries[SCHEDULE[n].get("go", "local")], args, out_dir,
                                          log_dir).run): n for n in names}
            for fut in concurrent.futures.as_completed(futs):
                n = futs[fut]
                results[n] = fut.result()  # a failed recording raises here, after the others finish
                say(f"{n}: recorded")

        manifest_path = os.path.join(args.archive_dir, "manifest.json")
        entries: dict[str, dict] = {}
        if os.path.exists(manifest_path) and not args.no_pack:
            with open(manifest_path) as f:
                entries = {e["name"]: e for e in json.load(f)["scenarios"]}
        for n in names:
            c, r = cat[n], results[n]
            leak = c["kind"] == "leak"
            if leak and not r["leak_starts_ms"]:
                raise RuntimeError(f"{n}: no leak-start line in the program's log")
            entries[n] = {
                "name": n, "kind": c["kind"], "expected_function": c["expected_function"],
                "leak_start_ms": r["leak_starts_ms"][0] if leak else None,
                "leak_starts_ms": r["leak_starts_ms"], "restarts": r["restarts"],
                "first_ms": r["first_ms"], "last_ms": r["last_ms"], "samples": r["samples"],
                "format": r["format"], "debug2_every_s": r["debug2_every_s"], "go": r["go"],
                "speed": r["speed"], "interval_s": args.interval, "seed": r["seed"], "description": c["description"],
            }
            say(check(n, entries[n], os.path.join(out_dir, n)))
        if args.no_pack:
            return 0
        os.makedirs(args.archive_dir, exist_ok=True)
        for n in names:
            size = pack(os.path.join(out_dir, n), n, os.path.join(args.archive_dir, f"{n}.tar.xz"))
            say(f"{n}: {size / 1024:.0f} KiB packed")
        ordered = [entries[n] for n in cat if n in entries]  # the catalogue's order: leaks, then healthy
        with open(manifest_path + ".tmp", "w") as f:
            json.dump({"about": MANIFEST_ABOUT, "epoch_ms": EPOCH_MS, "scenarios": ordered}, f, indent=2)
            f.write("\n")
        os.replace(manifest_path + ".tmp", manifest_path)
        return 0
    finally:
        with _live_lock:
            procs = list(_live.values())
        for p in procs:
            stop(p, grace=2.0)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
