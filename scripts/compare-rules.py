#!/usr/bin/env python3
"""Compares goroutine-leak detectors on the labelled scenarios of tests/scenarios/ (Python 3 stdlib only).

    scripts/compare-rules.py [--scenarios DIR] [--dir ROOT] [--leakwatch PATH] [--json] [--only NAME ...]

Input: DIR/manifest.json and DIR/NAME.tar.xz (written by scripts/record-scenarios.py), or, with --dir, already
extracted directories ROOT/NAME/<unix_ms>.<ext>. The total goroutine count of each sample is read from the
profiles themselves: the "goroutine profile: total N" header of a debug=1 .txt (a debug=2 .txt: the number of
"goroutine N [" records), and for a debug=0 .pb.gz the sum of Sample.value over Profile.sample (a tiny
protobuf wire reader below); go_goroutines is the same number.

Detectors, each given the same totals:
- deriv: the Prometheus rule `deriv(go_goroutines[W]) > X for F`. It is evaluated every interval (15 s) from
  the first sample to the last; deriv is the least-squares slope, per second, of the samples in (t-W, t]
  (no value with fewer than 2); the alert fires at the first evaluation where the condition has held at
  every evaluation since it became true and for at least F. Grid: W in {5m,10m,15m,30m,1h}, X in 31
  log-spaced thresholds from 0.001 to 1 goroutines/s (10 per decade), F in {0,5m,10m,15m,30m}: 775 rules.
  A rule is zero-FP when it never fires in a healthy scenario and, in a leak scenario, never fires on an
  alert that became active (pending) before leak_start_ms (so a warm-up ramp running into the leak is no
  credit). "best" is the zero-FP rule with the fewest missed leaks, then the smallest sum of delays (then
  the smallest max delay, then the shortest W and F); "oracle" (per scenario) is the smallest delay any
  zero-FP rule reaches on that scenario, i.e. what a rule tuned for it alone, without false positives
  elsewhere, could do.
- seed: the rule of the seed article (section 3.3 of /work/shared/seeds/003_*): k = least-squares slope, per
  second, of the last 12 samples (the article samples every 5 s; our samples are 15 s apart, so the window
  is 3 min, not 1); baseline = 1.8 x the median of every earlier k (applied once 12 earlier k exist); alert
  when k > baseline for 3 consecutive samples, or at once when k > 5 goroutines/s (the absolute cap). A
  streak that began before the leak is a false positive, as for deriv.
- leakwatch (with --leakwatch PATH): `PATH replay DIR` on each extracted scenario; its first "firing" line.
  For a leak scenario it is a detection when that alert's "pending" line (same target, scope, function)
  is at or after leak_start_ms; the cell also says which function leakwatch named (the first firing with
  scope "stack") when it is not expected_function. Firing in a healthy scenario, on an alert pending
  before the leak, or (scope "stack") naming another function is a false positive.

Delay = first firing - leak_start_ms, in minutes. "FP at t=Xm" gives the first false firing in minutes since
the scenario's first sample. Output: a markdown table (or, with --json, everything as one JSON document).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIN = 60_000

WINDOWS_MIN = [5, 10, 15, 30, 60]
FORS_MIN = [0, 5, 10, 15, 30]
THRESHOLDS = [10 ** (-3 + i / 10) for i in range(31)]  # goroutines per second

# ------------------------------------------------------------------------------------------------ input


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of each field of one protobuf message; value is an int for
    varints, bytes for length-delimited fields (fixed32/64 are skipped)."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
            yield num, wt, v
        elif wt == 2:
            ln, i = _varint(buf, i)
            yield num, wt, buf[i:i + ln]
            i += ln
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")


def pb_total(data: bytes) -> int:
    """Sum of the first value of every Sample (profile.proto: Profile.sample = 2, Sample.value = 2, packed
    or not). For a goroutine profile that is the number of goroutines."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    total = 0
    for num, wt, sample in _fields(data):
        if num != 2 or wt != 2:
            continue
        for snum, swt, v in _fields(sample):
            if snum != 2:
                continue
            if swt == 0:
                total += v
            else:  # packed: the first varint is the goroutine count
                total += _varint(v, 0)[0]
            break
    return total


def text_total(data: bytes) -> int:
    m = re.match(rb"\s*goroutine profile: total (\d+)", data)
    if m:
        return int(m.group(1))
    return len(re.findall(rb"(?m)^goroutine \d+ \[", data))  # debug=2


def sample_total(name: str, data: bytes) -> int:
    return pb_total(data) if name.endswith(".pb.gz") else text_total(data)


NAME_RE = re.compile(r"^(\d+)\.(txt|pb\.gz)$")


def totals_from_archive(path: str) -> list[tuple[int, int]]:
    out = []
    with tarfile.open(path, "r:xz") as tar:
        for m in tar:
            base = os.path.basename(m.name)
            match = NAME_RE.match(base)
            if m.isfile() and match:
                out.append((int(match.group(1)), sample_total(base, tar.extractfile(m).read())))
    return sorted(out)


def totals_from_dir(path: str) -> list[tuple[int, int]]:
    out = []
    for base in os.listdir(path):
        match = NAME_RE.match(base)
        if match:
            with open(os.path.join(path, base), "rb") as f:
                out.append((int(match.group(1)), sample_total(base, f.read())))
    return sorted(out)


# ------------------------------------------------------------------------------------------------ rules


def slope(points: list[tuple[float, float]]) -> float | None:
    n = len(points)
    if n < 2:
        return None
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((t - mt) ** 2 for t, _ in points)
    if sxx == 0:
        return None
    return sum((t - mt) * (y - my) for t, y in points) / sxx


def eval_grid(samples: list[tuple[int, int]], interval_ms: int) -> list[int]:
    first, last = samples[0][0], samples[-1][0]
    return list(range(first, last + 1, interval_ms))


def deriv_series(samples: list[tuple[int, int]], grid: list[int], window_ms: int) -> list[float | None]:
    """deriv(go_goroutines[W]) at each grid time: LS slope per second over samples in (t-W, t]."""
    out = []
    lo = hi = 0
    n = len(samples)
    # running sums over the window, times in seconds relative to the first sample
    t0 = samples[0][0]
    st = sy = stt = sty = 0.0
    cnt = 0
    for t in grid:
        while hi < n and samples[hi][0] <= t:
            x, y = (samples[hi][0] - t0) / 1000, samples[hi][1]
            st += x; sy += y; stt += x * x; sty += x * y; cnt += 1
            hi += 1
        while lo < hi and samples[lo][0] <= t - window_ms:
            x, y = (samples[lo][0] - t0) / 1000, samples[lo][1]
            st -= x; sy -= y; stt -= x * x; sty -= x * y; cnt -= 1
            lo += 1
        if cnt < 2:
            out.append(None)
            continue
        den = cnt * stt - st * st
        out.append(None if den <= 1e-9 else (cnt * sty - st * sy) / den)
    return out


def true_runs(grid: list[int], cond: list[bool]) -> list[tuple[int, int]]:
    """(start, end) grid times of each maximal run of consecutive true evaluations."""
    runs, start = [], None
    for t, c in zip(grid, cond):
        if c and start is None:
            start = t
        elif not c and start is not None:
            runs.append((start, prev))
            start = None
        prev = t
    if start is not None:
        runs.append((start, prev))
    return runs


def first_fire(runs: list[tuple[int, int]], hold_ms: int, interval_ms: int) -> tuple[int, int] | None:
    """(active since, firing at) of the first alert, or None."""
    for start, end in runs:
        if end - start >= hold_ms:
            # the first grid time at or after start + hold
            k = -(-hold_ms // interval_ms)
            return start, start + k * interval_ms
    return None


def seed_rule(samples: list[tuple[int, int]]) -> tuple[int, int] | None:
    """(active since, firing at) of the first alert, or None."""
    ks: list[float] = []
    streak = 0
    for i in range(len(samples)):
        if i + 1 < 12:
            continue
        win = [((t - samples[0][0]) / 1000, y) for t, y in samples[i - 11:i + 1]]
        k = slope(win)
        if k is None:
            continue
        if k > 5.0:
            return samples[i][0], samples[i][0]
        if len(ks) >= 12 and k > 1.8 * statistics.median(ks):
            streak += 1
            if streak >= 3:
                return samples[i - 2][0], samples[i][0]
        else:
            streak = 0
        ks.append(k)
    return None


# ------------------------------------------------------------------------------------------- outcomes


def outcome(sc: dict, alert: tuple[int, int] | None) -> dict:
    """{"fire_ms", "fp_ms": first false firing or None, "delay_min": float or None} of an alert (active
    since, firing at). In a leak scenario an alert that was already active (pending) before the leak
    began is a false positive too, even when it fires after: what set it off was not the leak."""
    res = {"fire_ms": None, "fp_ms": None, "fp_why": None, "delay_min": None}
    if alert is None:
        return res
    active_ms, fire_ms = alert
    res["fire_ms"] = fire_ms
    if sc["kind"] == "healthy":
        res["fp_ms"] = fire_ms
    elif active_ms < sc["leak_start_ms"]:
        res["fp_ms"] = fire_ms
        res["fp_why"] = "before the leak" if fire_ms < sc["leak_start_ms"] else "pending before the leak"
    else:
        res["delay_min"] = (fire_ms - sc["leak_start_ms"]) / MIN
    return res


def cell(sc: dict, res: dict | None, extra: str = "") -> str:
    if res is None:
        return "-"
    if res["fp_ms"] is not None:
        where = f" ({res['fp_why']})" if res.get("fp_why") else ""
        return f"FP at t={(res['fp_ms'] - sc['first_ms']) / MIN:.1f}m{where}"
    if sc["kind"] == "healthy":
        return "no alert"
    if res["delay_min"] is None:
        return "missed"
    return f"{res['delay_min']:.1f}m{extra}"


def run_leakwatch(binary: str, sc: dict, scen_dir: str, timeout: float, config: str | None = None) -> dict:
    cmd = [binary, "replay", scen_dir] + ([f"--config.file={config}"] if config else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{binary} replay {scen_dir} exited {proc.returncode}: {proc.stderr[-2000:]}")
    first = first_wrong = named = None
    pending: dict[tuple, int] = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        ev = json.loads(line)
        key = (ev.get("target"), ev.get("scope"), ev.get("function"))
        t = int(ev["t_ms"])
        if ev.get("state") == "pending":
            pending.setdefault(key, t)
        elif ev.get("state") == "resolved":
            pending.pop(key, None)
        if ev.get("state") != "firing":
            continue
        if first is None:
            first = (pending.get(key, t), t)
        if ev.get("scope") == "stack":
            if named is None:
                named = ev.get("function")
            if sc["kind"] == "leak" and ev.get("function") != sc["expected_function"] and first_wrong is None:
                first_wrong = (t, ev.get("function"))
    res = outcome(sc, first)
    if first_wrong is not None and (res["fp_ms"] is None or first_wrong[0] < res["fp_ms"]):
        res["fp_ms"], res["fp_why"] = first_wrong[0], f"named {first_wrong[1]}"
    res["named"] = named
    return res


# ------------------------------------------------------------------------------------------------- main


def fmt_rule(w: int, x: float, f: int) -> str:
    wtxt = "1h" if w == 60 else f"{w}m"
    return f"deriv(go_goroutines[{wtxt}]) > {x:.3g} for {f}m"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default=os.path.join(REPO, "tests", "scenarios"),
                    help="directory with manifest.json and NAME.tar.xz")
    ap.add_argument("--dir", help="read extracted ROOT/NAME directories instead of the archives")
    ap.add_argument("--leakwatch", help="also run `PATH replay DIR` on every scenario")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per leakwatch replay")
    ap.add_argument("--config", help="with --leakwatch: a leakwatch config whose detection settings the replay uses")
    ap.add_argument("--only", nargs="+", metavar="NAME")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    args = ap.parse_args()

    with open(os.path.join(args.scenarios, "manifest.json")) as f:
        manifest = json.load(f)
    scenarios = [s for s in manifest["scenarios"] if not args.only or s["name"] in args.only]
    tmp = tempfile.mkdtemp(prefix="compare-rules.") if args.leakwatch and not args.dir else None
    try:
        for sc in scenarios:
            if args.dir:
                sc["_dir"] = os.path.join(args.dir, sc["name"])
                sc["_samples"] = totals_from_dir(sc["_dir"])
            else:
                archive = os.path.join(args.scenarios, f"{sc['name']}.tar.xz")
                sc["_samples"] = totals_from_archive(archive)
                if tmp:
                    with tarfile.open(archive, "r:xz") as tar:
                        tar.extractall(tmp)
                    sc["_dir"] = os.path.join(tmp, sc["name"])
            sc["first_ms"] = sc["_samples"][0][0]

        # deriv grid
        rules = {}  # (w, x, f) -> {name: outcome}
        for sc in scenarios:
            samples = sc["_samples"]
            interval_ms = int(sc.get("interval_s", 15) * 1000)
            grid = eval_grid(samples, interval_ms)
            for w in WINDOWS_MIN:
                d = deriv_series(samples, grid, w * MIN)
                for x in THRESHOLDS:
                    runs = true_runs(grid, [v is not None and v > x for v in d])
                    for f in FORS_MIN:
                        rules.setdefault((w, x, f), {})[sc["name"]] = outcome(
                            sc, first_fire(runs, f * MIN, interval_ms))
        leaks = [s["name"] for s in scenarios if s["kind"] == "leak"]
        zero_fp = {k: v for k, v in rules.items() if all(o["fp_ms"] is None for o in v.values())}

        def score(item):
            (w, x, f), outs = item
            delays = [outs[n]["delay_min"] for n in leaks if outs[n]["delay_min"] is not None]
            return (len(leaks) - len(delays), sum(delays), max(delays, default=0), w, f, x)

        ranked = sorted(zero_fp.items(), key=score)
        best_key, best = ranked[0] if ranked else (None, None)
        oracle = {}
        for n in leaks:
            ds = [(o[n]["delay_min"], k) for k, o in zero_fp.items() if o[n]["delay_min"] is not None]
            oracle[n] = min(ds, key=lambda p: (p[0], p[1])) if ds else None

        # What the healthy scenarios cost: the best rule if only the leak scenarios' own lead-ins counted,
        # and where that rule false-fires.
        leak_only = {k: v for k, v in rules.items() if all(v[n]["fp_ms"] is None for n in leaks)}
        lo_key, lo = min(leak_only.items(), key=score) if leak_only else (None, None)
        lo_fps = {} if lo is None else {
            s["name"]: (lo[s["name"]]["fp_ms"] - s["first_ms"]) / MIN
            for s in scenarios if s["kind"] == "healthy" and lo[s["name"]]["fp_ms"] is not None}

        seed = {sc["name"]: outcome(sc, seed_rule(sc["_samples"])) for sc in scenarios}
        lw = {}
        if args.leakwatch:
            for sc in scenarios:
                lw[sc["name"]] = run_leakwatch(args.leakwatch, sc, sc["_dir"], args.timeout, args.config)

        if args.json:
            doc = {
                "grid": {"windows_min": WINDOWS_MIN, "fors_min": FORS_MIN, "thresholds_per_s": THRESHOLDS},
                "rules": len(rules), "zero_fp_rules": len(zero_fp),
                "best_deriv": None if best_key is None else {
                    "rule": fmt_rule(*best_key), "window_min": best_key[0], "threshold_per_s": best_key[1],
                    "for_min": best_key[2], "missed": score((best_key, best))[0]},
                "best_deriv_ignoring_healthy": None if lo_key is None else {
                    "rule": fmt_rule(*lo_key), "missed": score((lo_key, lo))[0],
                    "sum_delay_min": score((lo_key, lo))[1], "healthy_fp_at_min": lo_fps},
                "scenarios": [],
            }
            for sc in scenarios:
                n = sc["name"]
                row = {k: v for k, v in sc.items() if not k.startswith("_")}
                row["samples_read"] = len(sc["_samples"])
                row["best_deriv"] = best[n] if best else None
                row["deriv_ignoring_healthy"] = lo[n] if lo else None
                row["seed"] = seed[n]
                if n in oracle:
                    row["oracle_deriv"] = None if oracle[n] is None else {
                        "delay_min": oracle[n][0], "rule": fmt_rule(*oracle[n][1])}
                if lw:
                    row["leakwatch"] = lw[n]
                doc["scenarios"].append(row)
            json.dump(doc, sys.stdout, indent=2)
            print()
            return 0

        print("| scenario | kind | leakwatch delay | best deriv() delay | seed rule delay | deriv() oracle |")
        print("|---|---|---|---|---|---|")
        for sc in scenarios:
            n = sc["name"]
            lwc = "-"
            if lw:
                named = lw[n].get("named")
                extra = ""
                if sc["kind"] == "leak" and named != sc["expected_function"]:
                    extra = f" (named {named})" if named else " (no stack named)"
                lwc = cell(sc, lw[n], extra)
            if n in oracle:
                orc = "missed" if oracle[n] is None else f"{oracle[n][0]:.1f}m ({fmt_rule(*oracle[n][1])})"
            else:
                orc = ""
            print(f"| {n} | {sc['kind']} | {lwc} | {cell(sc, best[n]) if best else '-'} | {cell(sc, seed[n])} | {orc} |")
        print()
        if best_key:
            s = score((best_key, best))
            if s[0] == len(leaks) and leaks:
                print(f"Best zero-FP deriv rule: none catches a leak ({len(zero_fp)} of {len(rules)} rules have no "
                      f"false positive, and every one of them misses all {len(leaks)} leaks).")
            else:
                print(f"Best zero-FP deriv rule: `{fmt_rule(*best_key)}` ({len(zero_fp)} of {len(rules)} rules have "
                      f"no false positive; it misses {s[0]} of {len(leaks)} leaks, sum of delays {s[1]:.1f} min).")
        else:
            print(f"No deriv rule of the {len(rules)} is free of false positives.")
        if lo_key and leaks:
            s = score((lo_key, lo))
            fps = ", ".join(f"{n} at t={t:.1f}m" for n, t in lo_fps.items()) or "none"
            print(f"Ignoring the healthy scenarios, the best would be `{fmt_rule(*lo_key)}` (misses {s[0]}, sum of "
                  f"delays {s[1]:.1f} min); its false positives on healthy scenarios: {fps}.")
        print("Delays in minutes after the leak began; FP times in minutes since the scenario's first sample.")
        print("deriv() oracle: the fastest zero-FP rule for that leak alone (still no FP on any scenario).")
        return 0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
