#!/usr/bin/env python3
"""One target whose profile holds invalid UTF-8 (function names, file paths, labels) must not break /metrics for
every target: Prometheus' parser rejects a scrape with one invalid label value, so leakwatch sanitises every value
that comes from a target (U+FFFD for each bad sequence) and escapes quotes and backslashes. `promtool check
metrics` must pass, the healthy neighbour's series must be there, and the log must be valid UTF-8 too."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import os
import shutil
import subprocess

import harness
from harness import IntegrationTest, config, job

PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if os.access("/usr/bin/promtool", os.X_OK) else None)


class LabelUtf8(IntegrationTest):
    def test_invalid_utf8_from_a_target_never_breaks_metrics(self):
        bad = self.start_target("hostile", "-mode", "badutf8", name="badutf8")
        ok = self.start_target("leaky", "-baseline", "3", name="leaky")
        d = self.start_daemon(config(job("bad", [bad.addr]), job("good", [ok.addr])))
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, service="bad", target=bad.addr)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, service="good", target=ok.addr)
        self.wait_metric(d, "leakwatch_stack_goroutines", lambda v: v == 30, service="bad", function="main.leak\ufffdy")

        raw = d.get("/metrics").body
        raw.decode("utf-8")  # strict: raises on any invalid byte
        text = raw.decode("utf-8")
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""), f"/metrics was:\n{text}")

        stacks = harness.select(d.metrics(), "leakwatch_stack_goroutines", service="bad")
        functions = {dict(k).get("function") for k in stacks}
        self.assertIn("main.leak\ufffdy", functions, stacks)
        # An overlong NUL (C0 80) and a UTF-16 surrogate (ED A0 80) are invalid too (one U+FFFD per byte, as
        # the WHATWG decoder does), and the backslash and quote Go left in the name survive as text.
        self.assertIn("main." + "\ufffd" * 5 + 'wait\\"q', functions)
        locations = {dict(k).get("location") for k in stacks}
        self.assertTrue(any(loc and "\ufffd" in loc for loc in locations), locations)
        # The neighbour's series are there beside them.
        self.assertGreater(d.value("leakwatch_goroutines", 0, service="good", target=ok.addr), 0)

        self.assertEqual(d.proc.stop(), 0)
        for path in (d.proc.stdout_path, d.proc.stderr_path):
            with open(path, "rb") as f:
                f.read().decode("utf-8")  # strict: every log line is valid UTF-8


if __name__ == "__main__":
    if PROMTOOL is None:
        print("promtool not found: install the Debian package 'prometheus' (scripts/setup.sh does)", file=sys.stderr)
        sys.exit(1)
    harness.main()
