"""Shared helpers for the integration tests: they run the real leakwatch daemon against real Go targets.

Python 3 standard library only. Everything listens on 127.0.0.1, every wait is bounded in time, every process
started here is stopped by PID (SIGTERM, then SIGKILL after a bound) in a cleanup and again at exit, and is
also killed by the kernel if this Python process dies (PR_SET_PDEATHSIG). Temporary directories are removed;
a failing test first prints the tail of every log it collected.

Each test file is run as
    python3 test_X.py --leakwatch PATH [--targets-dir DIR] [--bin-dir DIR] [--work-dir DIR] [unittest args]
--bin-dir holds the built Go targets (leaky, hostile); when they are missing there they are built with
`go build` into it, so a file also runs standalone without CTest's fixture.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from typing import Any, Callable, Iterable

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))


class Options:
    leakwatch: str = ""
    targets_dir: str = os.path.join(SOURCE_DIR, "tests", "targets")
    bin_dir: str = ""
    work_dir: str = ""


OPTS = Options()

# --------------------------------------------------------------------------------------------- processes

_live: dict[int, "Proc"] = {}


def _pdeathsig() -> None:
    """Runs in the child before exec: the kernel sends it SIGKILL if this Python process dies first."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - non-Linux
        pass


class Proc:
    """A child process whose stdout and stderr go to files in a log directory."""

    def __init__(self, name: str, argv: list[str], log_dir: str, env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.stdout_path = os.path.join(log_dir, f"{name}.stdout")
        self.stderr_path = os.path.join(log_dir, f"{name}.stderr")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
            env=env, preexec_fn=_pdeathsig, close_fds=True)
        self.pid = self.popen.pid
        self.returncode: int | None = None
        _live[self.pid] = self

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stdout(self) -> str:
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self) -> str:
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if the process is still running after `timeout` seconds."""
        try:
            self.returncode = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._forget()
        return self.returncode

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, grace: float = 5.0) -> int:
        """SIGTERM, then SIGKILL if still running after `grace` seconds. Returns the exit code."""
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait_exit(grace) is None:
                self.signal(signal.SIGKILL)
                self.wait_exit(10.0)
        self.returncode = self.popen.wait(timeout=10.0)
        self._forget()
        return self.returncode

    def _forget(self) -> None:
        _live.pop(self.pid, None)
        for f in (self._out, self._err):
            if not f.closed:
                f.close()

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            if text:
                parts.append(f"--- {self.name} {label} (last {min(lines, len(text))} of {len(text)} lines) ---")
                parts.extend(text[-lines:])
        return "\n".join(parts)


@atexit.register
def _stop_all() -> None:
    for proc in list(_live.values()):
        try:
            proc.stop(grace=2.0)
        except Exception:
            pass


def _sigterm_to_exit(signum, frame):  # so finally blocks and atexit run when CTest stops us
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _sigterm_to_exit)

# ------------------------------------------------------------------------------------------------ waiting


class Fatal(AssertionError):
    """Raised by a wait_until predicate when waiting longer cannot help (e.g. the process died)."""


def wait_until(pred: Callable[[], Any], timeout: float, desc: str = "condition", interval: float = 0.1) -> Any:
    """Polls pred() until it returns something truthy, which is returned; fails the test after `timeout` s.

    An exception raised by pred counts as "not yet" (the last one is reported on failure), except Fatal,
    which fails at once."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = pred()
            if last:
                return last
        except Fatal:
            raise
        except Exception as e:  # noqa: BLE001 - reported below
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {desc}; last value: {last!r}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------- HTTP

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy: loopback only


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body[:200]!r})"


def http_get(url: str, timeout: float = 5.0) -> Response:
    """GET without raising on HTTP error statuses (connection errors and timeouts still raise)."""
    req = urllib.request.Request(url, headers={"User-Agent": "leakwatch-integration"})
    try:
        with _opener.open(req, timeout=timeout) as r:
            return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def http_status(url: str, timeout: float = 5.0) -> int | None:
    """The status code, or None if the request failed before one was received."""
    try:
        return http_get(url, timeout).status
    except (OSError, urllib.error.URLError):
        return None


# ------------------------------------------------------------------------------------- Prometheus text

Labels = frozenset  # of (name, value) pairs
Metrics = dict  # {(metric name, Labels): float}

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?\d+))?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}.get(m.group(1), "\\" + m.group(1)), v)


def parse_prometheus(text: str) -> Metrics:
    """Prometheus text exposition (0.0.4) into {(name, frozenset(labels.items())): value}.

    Raises ValueError on a line it cannot read or a series that appears twice."""
    out: Metrics = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {lineno}: not a sample: {line!r}")
        name, body, value = m.group(1), m.group(2), m.group(3)
        labels: dict[str, str] = {}
        if body:
            inner = body[1:-1]
            pos = 0
            while pos < len(inner):
                lm = _LABEL.match(inner, pos)
                if not lm:
                    raise ValueError(f"line {lineno}: bad labels: {body!r}")
                labels[lm.group(1)] = _unescape(lm.group(2))
                pos = lm.end()
        key = (name, frozenset(labels.items()))
        if key in out:
            raise ValueError(f"line {lineno}: duplicate series {name}{labels}")
        v = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}.get(value)
        out[key] = float(value) if v is None else v
    return out


def select(metrics: Metrics, name: str, **labels: str) -> dict[Labels, float]:
    """Series of `name` whose labels include all of `labels`."""
    want = set(labels.items())
    return {ls: v for (n, ls), v in metrics.items() if n == name and want <= ls}


def value(metrics: Metrics, name: str, default: float | None = None, **labels: str) -> float | None:
    """The one series of `name` matching `labels`; `default` when there is none; an error when ambiguous."""
    found = select(metrics, name, **labels)
    if not found:
        return default
    if len(found) > 1:
        raise AssertionError(f"{name}{labels} matches {len(found)} series: {sorted(map(sorted, found))}")
    return next(iter(found.values()))


# ----------------------------------------------------------------------------------------------- config


def _yaml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid double-quoted YAML scalar


def to_yaml(v: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (enough for leakwatch configs)."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(v, dict):
        for k, item in v.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(item, indent + 1))
            elif isinstance(item, dict):
                lines.append(f"{pad}{k}: {{}}")
            elif isinstance(item, list):
                lines.append(f"{pad}{k}: []")
            else:
                lines.append(f"{pad}{k}: {_yaml_scalar(item)}")
    elif isinstance(v, list):
        for item in v:
            if isinstance(item, dict) and item:
                sub = to_yaml(item, indent + 1).splitlines()
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-")
                lines.append(to_yaml(item, indent + 1))
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    else:
        lines.append(pad + _yaml_scalar(v))
    return "\n".join(lines)


def job(name: str, targets: Iterable[str], interval: str = "1s", timeout: str | None = None,
        labels: dict[str, str] | None = None, **extra: Any) -> dict:
    """One scrape_configs entry."""
    j: dict[str, Any] = {"job_name": name, "scrape_interval": interval}
    if timeout is not None:
        j["scrape_timeout"] = timeout
    j.update(extra)
    sc: dict[str, Any] = {"targets": list(targets)}
    if labels:
        sc["labels"] = labels
    j["static_configs"] = [sc]
    return j


def config(*jobs: dict, **global_: Any) -> dict:
    g = {"scrape_interval": "1s", "scrape_timeout": "1s"}
    g.update(global_)
    return {"global": g, "scrape_configs": list(jobs)}


# ------------------------------------------------------------------------------------------- Go targets


def go_binary(name: str) -> str:
    """Path of a built Go target, building all of them into --bin-dir first if it is missing."""
    path = os.path.join(OPTS.bin_dir, name)
    if not os.access(path, os.X_OK):
        build_go_targets(OPTS.targets_dir, OPTS.bin_dir)
    return path


def build_go_targets(targets_dir: str, bin_dir: str) -> None:
    os.makedirs(bin_dir, exist_ok=True)
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local",
               GOCACHE=os.environ.get("GOCACHE") or os.path.join(bin_dir, "gocache"))
    cmd = ["go", "build", "-o", bin_dir.rstrip("/") + "/", "./leaky", "./hostile"]
    r = subprocess.run(cmd, cwd=targets_dir, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")


class Target:
    """A running Go target and the address it printed."""

    def __init__(self, proc: Proc, addr: str):
        self.proc, self.addr = proc, addr
        self.host, port = addr.rsplit(":", 1)
        self.port = int(port)


# ----------------------------------------------------------------------------------------------- daemon


class Daemon:
    def __init__(self, proc: Proc, port: int, config_path: str):
        self.proc, self.port, self.config_path = proc, port, config_path
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, timeout: float = 5.0) -> Response:
        return http_get(self.base + path, timeout)

    def status(self, path: str, timeout: float = 5.0) -> int | None:
        return http_status(self.base + path, timeout)

    def metrics_text(self) -> str:
        r = self.get("/metrics")
        if r.status != 200:
            raise AssertionError(f"/metrics answered {r.status}: {r.text[:500]}")
        return r.text

    def metrics(self) -> Metrics:
        return parse_prometheus(self.metrics_text())

    def value(self, name: str, default: float | None = None, **labels: str) -> float | None:
        return value(self.metrics(), name, default, **labels)


# ------------------------------------------------------------------------------------------- test base


class IntegrationTest(unittest.TestCase):
    """Gives each test a temporary directory, and starts/stops processes inside it."""

    maxDiff = None

    def setUp(self) -> None:
        os.makedirs(OPTS.work_dir, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=self.id().rsplit(".", 1)[-1] + "-", dir=OPTS.work_dir)
        self.procs: list[Proc] = []
        self.addCleanup(self._stop_procs)

    def _stop_procs(self) -> None:
        for p in reversed(self.procs):
            p.stop()

    def run(self, result=None):  # noqa: D401 - print logs of a failed test before its directory goes
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            failed = len(result.failures) + len(result.errors) > before
            if failed:
                for p in getattr(self, "procs", []):
                    sys.stderr.write(p.log_tail() + "\n")
                cfgs = [f for f in os.listdir(self.tmp)] if os.path.isdir(getattr(self, "tmp", "")) else []
                for f in sorted(cfgs):
                    if f.endswith(".yml"):
                        with open(os.path.join(self.tmp, f)) as fh:
                            sys.stderr.write(f"--- {f} ---\n{fh.read()}\n")
            if getattr(self, "tmp", None):
                shutil.rmtree(self.tmp, ignore_errors=True)

    # processes ---------------------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str]) -> Proc:
        p = Proc(name, argv, self.tmp)
        self.procs.append(p)
        return p

    def start_target(self, program: str, *args: str, name: str | None = None, listen: str = "127.0.0.1:0",
                     timeout: float = 20.0) -> Target:
        """Starts a Go target (on a kernel-chosen loopback port by default) and waits for `listening HOST:PORT`."""
        name = name or f"{program}{len(self.procs)}"
        p = self.spawn(name, [go_binary(program), "-listen", listen, *args])

        def listening():
            if not p.alive():
                raise Fatal(f"{name} exited with {p.popen.returncode}")
            first = p.stdout().split("\n", 1)
            if len(first) == 2 and first[0].startswith("listening "):
                return first[0].split(" ", 1)[1].strip()
            return None

        return Target(p, wait_until(listening, timeout, f"{name} to print 'listening'", 0.05))

    def write_config(self, cfg: dict | str, name: str = "leakwatch.yml") -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(cfg if isinstance(cfg, str) else to_yaml(cfg) + "\n")
        return path

    def start_daemon(self, cfg: dict | str, *extra: str, wait_ready: bool = True, timeout: float = 15.0,
                     wrapper: Iterable[str] = ()) -> Daemon:
        """Writes the config, starts leakwatch on a free loopback port and waits for /-/ready (or /-/healthy).
        `wrapper` is a command that execs leakwatch (so the PID stays leakwatch's), e.g. an `unshare` line."""
        path = self.write_config(cfg)
        port = free_port()
        p = self.spawn("leakwatch", [*wrapper, OPTS.leakwatch, f"--config.file={path}",
                                     f"--web.listen-address=127.0.0.1:{port}", "--log.level=debug", *extra])
        d = Daemon(p, port, path)
        endpoint = "/-/ready" if wait_ready else "/-/healthy"

        def up():
            if not p.alive():
                raise Fatal(f"leakwatch exited with {p.popen.returncode}")
            return d.status(endpoint, timeout=1.0) == 200

        wait_until(up, timeout, f"leakwatch {endpoint} to answer 200", 0.1)
        return d

    def run_leakwatch(self, *args: str, timeout: float = 20.0) -> subprocess.CompletedProcess:
        return subprocess.run([OPTS.leakwatch, *args], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)

    # metrics -------------------------------------------------------------------------------------------

    def wait_metric(self, d: Daemon, name: str, pred: Callable[[float], bool], timeout: float = 15.0,
                    **labels: str) -> float:
        """Waits until the one series `name{labels}` exists and pred(value) holds; returns the value."""
        def check():
            if not d.proc.alive():
                raise Fatal(f"leakwatch exited with {d.proc.popen.returncode}")
            v = d.value(name, **labels)
            return (True, v) if v is not None and pred(v) else None

        try:
            return wait_until(check, timeout, f"{name}{labels} to satisfy the condition")[1]
        except Fatal:
            raise
        except AssertionError as e:
            try:
                current = select(d.metrics(), name)
            except Exception as e2:  # noqa: BLE001
                current = e2
            raise AssertionError(f"{e}\ncurrent {name} series: {current}") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leakwatch", required=True, help="the leakwatch binary")
    ap.add_argument("--targets-dir", default=OPTS.targets_dir, help="tests/targets (Go module)")
    ap.add_argument("--bin-dir", default="", help="built Go targets (default: WORK_DIR/bin, built if missing)")
    ap.add_argument("--work-dir", default="", help="scratch space (default: a temporary directory)")
    args, rest = ap.parse_known_args()
    OPTS.leakwatch = os.path.abspath(args.leakwatch)
    OPTS.targets_dir = os.path.abspath(args.targets_dir)
    own_work = not args.work_dir
    OPTS.work_dir = os.path.abspath(args.work_dir) if args.work_dir else tempfile.mkdtemp(prefix="leakwatch-it-")
    OPTS.bin_dir = os.path.abspath(args.bin_dir) if args.bin_dir else os.path.join(OPTS.work_dir, "bin")
    if not os.access(OPTS.leakwatch, os.X_OK):
        sys.exit(f"--leakwatch {OPTS.leakwatch} is not an executable file")
    try:
        prog = unittest.main(module="__main__", argv=[sys.argv[0], *rest], exit=False, verbosity=2)
        ok = prog.result.wasSuccessful() and prog.result.testsRun > 0
    finally:
        _stop_all()
        if own_work:
            shutil.rmtree(OPTS.work_dir, ignore_errors=True)
        else:
            try:
                os.rmdir(OPTS.work_dir)  # only if every test's directory is gone
            except OSError:
                pass
    sys.exit(0 if ok else 1)
