#!/usr/bin/env python3
"""The labelled scenario suite: every recording in tests/scenarios goes through `leakwatch replay` (the
daemon's own parse-and-detect path) with the default detection settings, and

- no healthy scenario ever reaches `firing` (any scope);
- every leak reaches `firing` on a stack alert naming the leaking function, at or after the leak began;
- no stack alert names any other function;
- the replay is deterministic (the same archive twice gives the same output).

Per-scenario delays, next to Prometheus deriv() rules and the seed article's rule, come from
scripts/compare-rules.py; this test only asserts correctness, never timings."""

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
OPTS = argparse.Namespace()


def replay(directory: str) -> list[dict]:
    r = subprocess.run([OPTS.leakwatch, "replay", directory], capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError(f"leakwatch replay {directory} exited {r.returncode}: {r.stderr[-2000:]}")
    events = []
    for line in r.stdout.splitlines():
        events.append(json.loads(line))  # stdout holds nothing but event objects
    return events


class Scenarios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(HERE, "manifest.json")) as f:
            cls.manifest = json.load(f)["scenarios"]
        cls.tmp = tempfile.TemporaryDirectory(prefix="leakwatch-scenarios-")
        cls.events = {}
        for sc in cls.manifest:
            with tarfile.open(os.path.join(HERE, sc["name"] + ".tar.xz")) as tar:
                tar.extractall(cls.tmp.name)
            cls.events[sc["name"]] = replay(os.path.join(cls.tmp.name, sc["name"]))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_suite_has_both_kinds(self):
        kinds = [sc["kind"] for sc in self.manifest]
        self.assertGreaterEqual(kinds.count("leak"), 8)
        self.assertGreaterEqual(kinds.count("healthy"), 5)

    def test_suite_spans_go_releases_and_debug2(self):
        """Recordings from more than one Go release (tracebacks changed between them), and some with debug=2 on
        a cadence (wait minutes, goroutine IDs), leaks and healthy ones."""
        self.assertGreaterEqual(len({sc["go"] for sc in self.manifest}), 2)
        with_debug2 = [sc for sc in self.manifest if sc.get("debug2_every_s")]
        self.assertGreaterEqual(len([sc for sc in with_debug2 if sc["kind"] == "leak"]), 3)
        self.assertGreaterEqual(len([sc for sc in with_debug2 if sc["kind"] == "healthy"]), 1)
        for sc in with_debug2:
            with self.subTest(scenario=sc["name"]):
                names = sorted(os.listdir(os.path.join(self.tmp.name, sc["name"])))
                debug2 = 0
                for n in names:
                    with open(os.path.join(self.tmp.name, sc["name"], n), "rb") as f:
                        debug2 += re.match(rb"goroutine \d", f.read(12)) is not None  # debug=1: "goroutine profile:"
                expected = sc["samples"] * sc["interval_s"] / sc["debug2_every_s"]
                self.assertGreater(debug2, 0.9 * expected)
                self.assertLess(debug2, 1.1 * expected)

    def test_healthy_scenarios_never_fire(self):
        for sc in self.manifest:
            if sc["kind"] != "healthy":
                continue
            with self.subTest(scenario=sc["name"]):
                firing = [e for e in self.events[sc["name"]] if e["state"] == "firing"]
                self.assertEqual(firing, [], f"{sc['name']}: false alarm")

    def test_every_leak_fires_naming_the_leaking_function(self):
        for sc in self.manifest:
            if sc["kind"] != "leak":
                continue
            with self.subTest(scenario=sc["name"]):
                events = self.events[sc["name"]]
                for e in events:
                    self.assertEqual(e["target"], sc["name"])
                    self.assertIn(e["scope"], ("total", "stack"))
                    self.assertIn(e["state"], ("pending", "firing", "resolved"))
                stack_firing = [e for e in events if e["scope"] == "stack" and e["state"] == "firing"]
                self.assertTrue(stack_firing, f"{sc['name']}: the leak never fired")
                first = stack_firing[0]
                self.assertEqual(first["function"], sc["expected_function"])
                self.assertGreaterEqual(first["t_ms"], sc["leak_start_ms"], "fired before the leak began")
                self.assertGreater(first["slope_per_min"], 0)
                self.assertLess(first["p_value"], 0.05)
                self.assertRegex(first["location"], r"\.go:\d+$")
                wrong = {e["function"] for e in stack_firing} - {sc["expected_function"]}
                self.assertEqual(wrong, set(), f"{sc['name']}: stack alerts naming healthy code")

    def test_a_leak_in_every_instance_is_caught_in_every_instance(self):
        """Frequent deploys (leak_starts_ms has one start per process, the leak in each): every instance after
        the first, which pays warm-up, fires naming the leak within its own life."""
        deploys = [sc for sc in self.manifest if sc["kind"] == "leak" and sc["restarts"]
                   and len(sc["leak_starts_ms"]) == len(sc["restarts"]) + 1 and len(sc["restarts"]) >= 2]
        self.assertTrue(deploys, "no scenario with a leak in every instance")
        for sc in deploys:
            starts = [r["started_ms"] for r in sc["restarts"]]
            ends = [r["stopped_ms"] for r in sc["restarts"][1:]] + [sc["last_ms"]]
            for i, (start, end) in enumerate(zip(starts, ends), 2):
                with self.subTest(scenario=sc["name"], instance=i):
                    fired = [e for e in self.events[sc["name"]] if e["scope"] == "stack" and e["state"] == "firing"
                             and start <= e["t_ms"] <= end]
                    self.assertTrue(fired, f"{sc['name']}: instance {i} ({(end - start) / 60000:.0f} min) not caught")
                    self.assertEqual(fired[0]["function"], sc["expected_function"])

    def test_replay_is_deterministic(self):
        name = next(sc["name"] for sc in self.manifest if sc["kind"] == "leak")
        self.assertEqual(replay(os.path.join(self.tmp.name, name)), self.events[name])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leakwatch", required=True)
    args, rest = ap.parse_known_args()
    OPTS.leakwatch = os.path.abspath(args.leakwatch)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
