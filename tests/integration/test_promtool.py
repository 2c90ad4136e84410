#!/usr/bin/env python3
"""Scenario h: `promtool check metrics` finds nothing to say about /metrics (with successful and failing targets,
so every family has series). Fails when promtool is not installed."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import os
import shutil
import subprocess

import harness
from harness import IntegrationTest, config, job

PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if os.access("/usr/bin/promtool", os.X_OK) else None)


class Promtool(IntegrationTest):
    def test_metrics_pass_promtool_lint(self):
        ok = self.start_target("leaky", "-baseline", "2", name="leaky")
        dead_port = harness.free_port()  # nothing listens there: connect_error
        d = self.start_daemon(config(
            job("payments", [ok.addr], labels={"team": "payments"}),
            job("dead", [f"127.0.0.1:{dead_port}"])))
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, service="payments", target=ok.addr)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= 1, result="connect_error", service="dead")
        text = d.metrics_text()
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""), f"/metrics was:\n{text}")


if __name__ == "__main__":
    if PROMTOOL is None:
        # scripts/setup.sh installs it; a skip here would let a lint regression through unnoticed.
        print("promtool not found: install the Debian package 'prometheus' (scripts/setup.sh does)", file=sys.stderr)
        sys.exit(1)
    harness.main()
