#!/usr/bin/env python3
"""Scenario f: a bad config. `check-config` reports every problem as file:line:column and exits 1; the daemon
refuses to start on it (exits 1, promptly, never serving)."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import os
import re

import harness
from harness import IntegrationTest, config, job

# Two unknown keys, at 3:3 and 6:5 (1-based line:column of the key).
BAD = """\
global:
  scrape_interval: 1s
  scrape_timout: 1s
scrape_configs:
  - job_name: payments
    scrape_intervall: 2s
    static_configs:
      - targets: ["127.0.0.1:6060"]
"""

BAD_VALUE = """\
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: payments
    scrape_timeout: ten parsecs
    static_configs:
      - targets: ["127.0.0.1:6060"]
"""


class BadConfig(IntegrationTest):
    def diagnostics(self, stderr: str, path: str) -> dict:
        """{(line, column): message} of the `path:line:column: message` lines."""
        out = {}
        for line in stderr.splitlines():
            m = re.match(re.escape(path) + r":(\d+):(\d+): (.*)$", line.strip())
            if m:
                out[(int(m.group(1)), int(m.group(2)))] = m.group(3)
        return out

    def test_check_config_reports_unknown_keys(self):
        path = self.write_config(BAD, "bad.yml")
        r = self.run_leakwatch("check-config", path)
        self.assertEqual(r.returncode, 1, f"stdout={r.stdout!r} stderr={r.stderr!r}")
        diags = self.diagnostics(r.stderr, path)
        self.assertIn((3, 3), diags, f"no diagnostic at {path}:3:3 in stderr:\n{r.stderr}")
        self.assertIn((6, 5), diags, f"no diagnostic at {path}:6:5 in stderr:\n{r.stderr}")
        self.assertIn("scrape_timout", diags[(3, 3)])
        self.assertIn("scrape_intervall", diags[(6, 5)])

    def test_check_config_reports_bad_value_line(self):
        path = self.write_config(BAD_VALUE, "bad-value.yml")
        r = self.run_leakwatch("check-config", path)
        self.assertEqual(r.returncode, 1, f"stderr={r.stderr!r}")
        self.assertTrue(any(line == 5 for line, _ in self.diagnostics(r.stderr, path)),
                        f"no diagnostic on line 5 in stderr:\n{r.stderr}")

    def test_check_config_accepts_good_config(self):
        path = self.write_config(config(job("payments", ["127.0.0.1:6060"], labels={"team": "payments"})),
                                 "good.yml")
        r = self.run_leakwatch("check-config", path)
        self.assertEqual(r.returncode, 0, f"stderr={r.stderr!r}")

    def test_check_config_missing_file(self):
        path = os.path.join(self.tmp, "does-not-exist.yml")
        r = self.run_leakwatch("check-config", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path, r.stderr)

    def test_daemon_refuses_bad_config(self):
        path = self.write_config(BAD, "bad.yml")
        port = harness.free_port()
        p = self.spawn("leakwatch", [harness.OPTS.leakwatch, f"--config.file={path}",
                                     f"--web.listen-address=127.0.0.1:{port}"])
        rc = p.wait_exit(10)
        self.assertIsNotNone(rc, "leakwatch kept running on an invalid config")
        self.assertEqual(rc, 1)
        self.assertIn(path, p.stderr())


if __name__ == "__main__":
    harness.main()
