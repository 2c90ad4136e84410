#!/usr/bin/env python3
"""Scenario a: the exported goroutine count equals what the Go program reports about itself, and a leak of 50
goroutines raises the metric by 50."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import harness
from harness import IntegrationTest, config, http_get, job

# Tolerance between leakwatch_goroutines (the `total` of the debug=1 profile leakwatch fetched) and leaky's
# /goroutines (runtime.NumGoroutine() while we ask). Both count the same long-lived goroutines; they differ only
# in net/http's per-connection goroutines, which exist at one moment and not the other:
#   - in the profile: the connection serving leakwatch's own request (conn.serve running the pprof handler, plus
#     the background-read goroutine net/http starts while a handler runs): +2;
#   - in /goroutines: our own request's connection (+2), leakwatch's idle keep-alive connection if it keeps one
#     (+1), and the goroutines of a just-closed earlier connection that have not returned yet (+0..2).
# So the self-report is between 2 below and 3 above the profile's total in practice; allow 5 either way.
SELF_REPORT_TOLERANCE = 5
# Between two leakwatch scrapes the same connection goroutines are present, so a leak of 50 shows as 50; allow
# for a lingering goroutine of one of our own /goroutines or /leak connections.
RISE_TOLERANCE = 3
LEAK = 50


def self_reported(target) -> int:
    r = http_get(f"http://{target.addr}/goroutines")
    assert r.status == 200, r
    return int(r.text.strip())


class GoroutineCount(IntegrationTest):
    def wait_fresh_scrape(self, d, **sel) -> None:
        """Returns once a scrape that started after this call has finished (the success counter moved by 2)."""
        c = d.value("leakwatch_scrapes_total", 0.0, result="success", **sel)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= c + 2, timeout=10, result="success", **sel)

    def test_count_matches_self_report_and_rises_by_leak(self):
        t = self.start_target("leaky", "-baseline", "8", "-kind", "chansend", name="leaky")
        d = self.start_daemon(config(job("payments", [t.addr], interval="1s", timeout="500ms",
                                         labels={"team": "payments"})))
        sel = dict(service="payments", target=t.addr)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, **sel)

        # Static labels are on every series of the target.
        m = d.metrics()
        for name in ("leakwatch_goroutines", "leakwatch_scrape_success", "leakwatch_scrape_duration_seconds",
                     "leakwatch_scrape_response_bytes"):
            self.assertIsNotNone(harness.value(m, name, team="payments", **sel), f"{name} with team=payments")
        self.assertGreater(harness.value(m, "leakwatch_scrape_response_bytes", **sel), 0)
        self.assertGreater(harness.value(m, "leakwatch_scrape_duration_seconds", **sel), 0)

        self.wait_fresh_scrape(d, **sel)
        before = d.value("leakwatch_goroutines", **sel)
        self_before = self_reported(t)
        # main, 8 workers, dispatcher, signal loop, NotifyContext, Serve: at least 13 besides connections.
        self.assertGreaterEqual(before, 13)
        self.assertLessEqual(abs(before - self_before), SELF_REPORT_TOLERANCE,
                             f"leakwatch_goroutines={before} but /goroutines={self_before}")

        r = http_get(f"http://{t.addr}/leak?n={LEAK}")
        self.assertEqual(r.status, 200, r)
        self.wait_fresh_scrape(d, **sel)
        after = d.value("leakwatch_goroutines", **sel)
        self_after = self_reported(t)
        self.assertLessEqual(abs(after - self_after), SELF_REPORT_TOLERANCE,
                             f"leakwatch_goroutines={after} but /goroutines={self_after}")
        self.assertLessEqual(abs((after - before) - LEAK), RISE_TOLERANCE,
                             f"leakwatch_goroutines went {before} -> {after} after leaking {LEAK}")
        self.assertEqual(d.value("leakwatch_scrape_success", **sel), 1)

    def test_slow_leak_keeps_rising(self):
        # The demo's shape: a leak every 300ms. Each fresh scrape must show more goroutines than the last.
        t = self.start_target("leaky", "-leak-every", "300ms", "-kind", "mutex", name="leaky")
        d = self.start_daemon(config(job("slowleak", [t.addr], interval="1s", timeout="500ms")))
        sel = dict(service="slowleak", target=t.addr)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, **sel)
        seen = []
        for _ in range(3):
            self.wait_fresh_scrape(d, **sel)
            seen.append(d.value("leakwatch_goroutines", **sel))
        self.assertEqual(seen, sorted(seen), f"counts not rising: {seen}")
        self.assertGreater(seen[-1] - seen[0], 2, f"counts barely moved: {seen}")


if __name__ == "__main__":
    harness.main()
