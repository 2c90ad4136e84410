#!/usr/bin/env python3
"""Live detection: the real daemon polls a real leaking Go program and a healthy one next to it. The leak's
stack alert goes to firing naming main.leakChanSend (and the target's total alert with it), the healthy
target raises nothing, stack series are bounded by max_stack_series, the time to the goroutine limit is
exported, and a target removed by a reload (SIGHUP) takes its detection series with it.

Windows and durations are shortened (1 s polls, 2 m window, 15 s of evidence, `for: 5s`, no warm-up) so the
test takes seconds; the decision code is the same as with the defaults."""

import signal
import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import harness
from harness import IntegrationTest, config, job

FAST = {"window": "2m", "min_duration": "15s", "min_samples": 8, "for": "5s", "warmup": "0s",
        "max_stack_series": 3, "goroutine_limit": 100000}
NO_PROOF = {"poll": "never"}
DEBUG2 = {"interval": "5s", "min_interval": "2s"}


class Detection(IntegrationTest):
    def test_leak_fires_and_healthy_stays_quiet(self):
        leaking = self.start_target("leaky", "-baseline", "20", "-kind", "chansend", "-leak-every", "250ms",
                                    "-leak-batch", "1", name="leaking")
        healthy = self.start_target("leaky", "-baseline", "20", "-kind", "chansend", name="healthy")
        # The trend alone: leaky's emulated goroutineleak profile would otherwise prove the leak at once.
        # debug=2 every 5 s (and while a group is pending, every 2 s) instead of debug=1: the same detection.
        jobs = [job("shop", [leaking.addr, healthy.addr], interval="1s", timeout="900ms",
                    goroutineleak=NO_PROOF, debug2=DEBUG2)]
        cfg = config(*jobs, detection=FAST)
        d = self.start_daemon(cfg)
        leak = dict(service="shop", target=leaking.addr)
        calm = dict(service="shop", target=healthy.addr)

        state = self.wait_metric(d, "leakwatch_stack_alert_state", lambda v: v == 2, timeout=90,
                                 function="main.leakChanSend", **leak)
        self.assertEqual(state, 2)
        m = d.metrics()
        series = harness.select(m, "leakwatch_stack_alert_state", function="main.leakChanSend", **leak)
        labels = dict(next(iter(series)))
        self.assertRegex(labels["location"], r"main\.go:\d+$")
        self.assertRegex(labels["signature"], r"^[0-9a-f]{16}$")
        # About 4 goroutines a second; the robust slope is in goroutines per second.
        growth = harness.value(m, "leakwatch_stack_growth_per_second", function="main.leakChanSend", **leak)
        self.assertGreater(growth, 2)
        self.assertLess(growth, 6)
        self.assertLess(harness.value(m, "leakwatch_stack_trend_p_value", function="main.leakChanSend", **leak),
                        0.01)
        # Some of those polls were debug=2, read like the others (the healthy target too, on its schedule).
        for sel in (leak, calm):
            self.assertGreaterEqual(harness.value(m, "leakwatch_profile_fetches_total", 0.0, profile="goroutine",
                                                  format="debug2", **sel), 1, sel)
            self.assertGreaterEqual(harness.value(m, "leakwatch_profile_fetches_total", 0.0, profile="goroutine",
                                                  format="debug1", **sel), 1, sel)
            self.assertEqual(harness.value(m, "leakwatch_scrapes_total", result="parse_error", **sel), 0, sel)
        # The total grows because of that stack, so its alert follows.
        self.wait_metric(d, "leakwatch_goroutines_alert_state", lambda v: v == 2, timeout=30, **leak)
        eta = d.value("leakwatch_goroutines_limit_eta_seconds", **leak)
        self.assertIsNotNone(eta)
        self.assertGreater(eta, 1000)  # ~100,000 goroutines away at ~4/s

        # Cardinality: at most max_stack_series groups plus the (other) series per target.
        m = d.metrics()
        for sel in (leak, calm):
            n = len(harness.select(m, "leakwatch_stack_goroutines", **sel))
            self.assertGreaterEqual(n, 2, sel)
            self.assertLessEqual(n, FAST["max_stack_series"] + 1, sel)
        other = harness.value(m, "leakwatch_stack_goroutines", function="(other)", **calm)
        self.assertIsNotNone(other)

        # The healthy target: nothing pending or firing, anywhere.
        self.assertEqual(harness.value(m, "leakwatch_goroutines_alert_state", **calm), 0)
        for labels, v in harness.select(m, "leakwatch_stack_alert_state", **calm).items():
            self.assertEqual(v, 0, dict(labels))
        self.assertIsNone(harness.value(m, "leakwatch_goroutines_limit_eta_seconds", None, **calm))

        # A reload that drops the leaking target removes its detection series too.
        self.write_config(config(job("shop", [healthy.addr], interval="1s", timeout="900ms",
                                     goroutineleak=NO_PROOF, debug2=DEBUG2), detection=FAST))
        d.proc.signal(signal.SIGHUP)
        harness.wait_until(lambda: not harness.select(d.metrics(), "leakwatch_stack_goroutines", **leak),
                           timeout=15, desc="the removed target's stack series to go")
        m = d.metrics()
        for name in ("leakwatch_goroutines_alert_state", "leakwatch_goroutines_growth_per_second",
                     "leakwatch_stack_alert_state", "leakwatch_goroutines_limit_eta_seconds"):
            self.assertEqual(harness.select(m, name, **leak), {}, name)
        self.assertIsNotNone(harness.value(m, "leakwatch_goroutines_alert_state", **calm))


if __name__ == "__main__":
    harness.main()
