#!/usr/bin/env python3
"""`profile: goroutineleak` polls the goroutineleak endpoint and reports under leakwatch_leaked_goroutines, next to
an ordinary goroutine job on the same target; a job whose profile_path serves the other kind gets parse errors,
not a count that means something else.

Debian's Go 1.19 has no goroutineleak profile, so the `leaky` target serves an emulation of its debug=1 output
(the real format, holding the groups parked in leaky's leak functions); see serveGoroutineLeak there."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import harness
from harness import IntegrationTest, config, http_get, job

LEAK = 25


class GoroutineLeak(IntegrationTest):
    def test_leak_profile_has_its_own_metrics(self):
        t = self.start_target("leaky", "-baseline", "8", "-kind", "mutex", name="leaky")
        self.assertEqual(http_get(f"http://{t.addr}/leak?n={LEAK}").status, 200)
        d = self.start_daemon(config(
            job("all", [t.addr], interval="1s", timeout="900ms"),
            job("leaks", [t.addr], interval="1s", timeout="900ms", profile="goroutineleak"),
            # The ordinary endpoint under a goroutineleak job: a misconfiguration that must not pass as a count.
            job("wrong", [t.addr], interval="1s", timeout="900ms", profile="goroutineleak",
                profile_path="/debug/pprof/goroutine")))

        self.wait_metric(d, "leakwatch_leaked_goroutines", lambda v: v == LEAK, service="leaks", target=t.addr)
        self.wait_metric(d, "leakwatch_goroutines", lambda v: v >= LEAK + 8, service="all", target=t.addr)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= 2, result="parse_error", service="wrong",
                         target=t.addr)
        m = d.metrics()
        self.assertEqual(harness.value(m, "leakwatch_leaked_stack_groups", service="leaks", target=t.addr), 1)
        # Each job reports under its kind's names only.
        self.assertIsNone(harness.value(m, "leakwatch_goroutines", None, service="leaks", target=t.addr))
        self.assertIsNone(harness.value(m, "leakwatch_leaked_goroutines", None, service="all", target=t.addr))
        self.assertIsNone(harness.value(m, "leakwatch_leaked_goroutines", None, service="wrong", target=t.addr))
        self.assertEqual(harness.value(m, "leakwatch_scrape_success", service="wrong", target=t.addr), 0)

        # More leaks show up in the leak profile's count.
        self.assertEqual(http_get(f"http://{t.addr}/leak?n=5").status, 200)
        self.wait_metric(d, "leakwatch_leaked_goroutines", lambda v: v == LEAK + 5, service="leaks", target=t.addr)


if __name__ == "__main__":
    harness.main()
