#!/usr/bin/env python3
"""Scenario c: a hung target times out on time, and does not hold up the schedule of a healthy target polled by
the same daemon."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import time

import harness
from harness import IntegrationTest, config, job

OBSERVE_SECONDS = 10.0
HUNG_INTERVAL, HUNG_TIMEOUT = 2.0, 1.0
HEALTHY_INTERVAL = 1.0
# The scrape must not end before its timeout, and should end soon after it. The upper bound is generous: the
# machine has 2 cores and other tests may run beside this one.
DURATION_SLACK = 1.5


class HungTarget(IntegrationTest):
    def test_hung_target_times_out_and_healthy_keeps_schedule(self):
        hung = self.start_target("hostile", "-mode", "hang", name="hung")
        ok = self.start_target("leaky", "-baseline", "2", name="healthy")
        d = self.start_daemon(config(
            job("hung", [hung.addr], interval=f"{HUNG_INTERVAL:g}s", timeout=f"{HUNG_TIMEOUT:g}s"),
            job("healthy", [ok.addr], interval=f"{HEALTHY_INTERVAL:g}s", timeout="500ms")))
        h = dict(service="hung", target=hung.addr)
        s = dict(service="healthy", target=ok.addr)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= 1, timeout=15, result="timeout", **h)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= 1, timeout=15, result="success", **s)

        def counts():
            m = d.metrics()
            return (time.monotonic(),
                    harness.value(m, "leakwatch_scrapes_total", 0.0, result="success", **s),
                    harness.value(m, "leakwatch_scrapes_total", 0.0, result="timeout", **h))

        t0, s0, h0 = counts()
        deadline = t0 + OBSERVE_SECONDS
        while time.monotonic() < deadline:  # bounded: OBSERVE_SECONDS
            self.assertEqual(d.status("/-/healthy", timeout=2), 200)
            time.sleep(1.0)
        t1, s1, h1 = counts()
        elapsed = t1 - t0

        healthy_scrapes = s1 - s0
        self.assertGreaterEqual(healthy_scrapes, elapsed / HEALTHY_INTERVAL - 2,
                                f"healthy target: {healthy_scrapes} scrapes in {elapsed:.1f}s at 1s interval")
        self.assertLessEqual(healthy_scrapes, elapsed / HEALTHY_INTERVAL + 2,
                             f"healthy target: {healthy_scrapes} scrapes in {elapsed:.1f}s at 1s interval")
        hung_timeouts = h1 - h0
        self.assertGreaterEqual(hung_timeouts, elapsed / HUNG_INTERVAL - 2,
                                f"hung target: {hung_timeouts} timeouts in {elapsed:.1f}s at 2s interval")

        m = d.metrics()
        duration = harness.value(m, "leakwatch_scrape_duration_seconds", **h)
        self.assertIsNotNone(duration)
        # 10 ms below the timeout allowed only for rounding between the daemon's clock and the float it prints.
        self.assertGreaterEqual(duration, HUNG_TIMEOUT - 0.01, "timed out before scrape_timeout")
        self.assertLess(duration, HUNG_TIMEOUT + DURATION_SLACK, "timed out long after scrape_timeout")
        self.assertEqual(harness.value(m, "leakwatch_scrape_success", **h), 0)
        self.assertEqual(harness.value(m, "leakwatch_scrape_success", **s), 1)
        self.assertEqual(harness.value(m, "leakwatch_scrapes_total", 0.0, result="success", **h), 0)
        self.assertLess(harness.value(m, "leakwatch_scrape_duration_seconds", **s), 0.5)


if __name__ == "__main__":
    harness.main()
