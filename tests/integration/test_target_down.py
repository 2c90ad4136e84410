#!/usr/bin/env python3
"""Scenario b: a target that dies shows scrape_success 0 and connect_error scrapes while the daemon stays healthy
and the other target keeps succeeding; when it comes back on the same address it succeeds again."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import signal

import harness
from harness import IntegrationTest, config, job


class TargetDown(IntegrationTest):
    def test_killed_target(self):
        alpha = self.start_target("leaky", "-baseline", "2", name="alpha")
        beta = self.start_target("leaky", "-baseline", "2", name="beta")
        d = self.start_daemon(config(job("alpha", [alpha.addr], interval="1s", timeout="500ms"),
                                     job("beta", [beta.addr], interval="1s", timeout="500ms")))
        a = dict(service="alpha", target=alpha.addr)
        b = dict(service="beta", target=beta.addr)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, **a)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, **b)

        # Crash, not a clean shutdown: SIGKILL.
        alpha.proc.signal(signal.SIGKILL)
        self.assertIsNotNone(alpha.proc.wait_exit(5), "alpha did not die")

        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 0, timeout=10, **a)
        c0 = d.value("leakwatch_scrapes_total", 0.0, result="connect_error", **a)
        b0 = d.value("leakwatch_scrapes_total", 0.0, result="success", **b)
        # Rising, one per interval: at least 2 more within 8 s.
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= c0 + 2, timeout=8,
                         result="connect_error", **a)
        # beta polls on its own phase, so its second success may come up to an interval after alpha's failure.
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= b0 + 2, timeout=3, result="success", **b)
        m = d.metrics()
        self.assertEqual(harness.value(m, "leakwatch_scrape_success", **a), 0)
        self.assertEqual(harness.value(m, "leakwatch_scrape_success", **b), 1)
        self.assertEqual(d.status("/-/healthy"), 200)
        self.assertEqual(d.status("/-/ready"), 200)

        # Back on the same address (Go listeners set SO_REUSEADDR): success again.
        self.start_target("leaky", name="alpha-again", listen=alpha.addr)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, timeout=10, **a)


if __name__ == "__main__":
    harness.main()
