#!/usr/bin/env python3
"""The scrape path reads every profile format: one real Go target polled as debug0, debug1 and debug2 (three jobs
in one daemon) gives the same goroutine count and the same number of stack groups in each, within the
goroutines that serving the three polls themselves adds."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import harness
from harness import IntegrationTest, config, http_get, job

FORMATS = ("debug0", "debug1", "debug2")
LEAK = 40
# The three polls of one tick run at different offsets, so each profile also sees 0-2 of the connection
# goroutines net/http runs for the other jobs' polls (see test_count.py for the accounting): 2 per other job.
TOLERANCE = 4


class Formats(IntegrationTest):
    def wait_fresh(self, d, service, target):
        c = d.value("leakwatch_scrapes_total", 0.0, result="success", service=service, target=target)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= c + 2, timeout=10, result="success",
                         service=service, target=target)

    def test_all_formats_agree(self):
        t = self.start_target("leaky", "-baseline", "6", "-kind", "select", name="leaky")
        r = http_get(f"http://{t.addr}/leak?n={LEAK}")
        self.assertEqual(r.status, 200, r)
        d = self.start_daemon(config(*(job(f, [t.addr], interval="1s", timeout="900ms", format=f) for f in FORMATS)))
        for f in FORMATS:
            self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, service=f, target=t.addr)
        for f in FORMATS:
            self.wait_fresh(d, f, t.addr)

        m = d.metrics()
        counts = {f: harness.value(m, "leakwatch_goroutines", service=f, target=t.addr) for f in FORMATS}
        groups = {f: harness.value(m, "leakwatch_stack_groups", service=f, target=t.addr) for f in FORMATS}
        for f in FORMATS:
            self.assertEqual(harness.value(m, "leakwatch_scrapes_total", result="parse_error", service=f,
                                           target=t.addr), 0, f"{f}: parse errors")
            # baseline + the leak + main/dispatcher/signal goroutines.
            self.assertGreaterEqual(counts[f], LEAK + 6, f"{f}: {counts}")
        self.assertLessEqual(max(counts.values()) - min(counts.values()), TOLERANCE, f"counts differ: {counts}")
        # The leak is one stack in every format; the rest differ only by the per-connection goroutines.
        self.assertLessEqual(max(groups.values()) - min(groups.values()), TOLERANCE, f"groups differ: {groups}")


if __name__ == "__main__":
    harness.main()
