#!/usr/bin/env python3
"""The goroutineleak profile, two ways.

1. `profile: goroutineleak` jobs poll the endpoint and report under leakwatch_leaked_goroutines, next to an
   ordinary goroutine job on the same target; a job whose profile_path serves the other kind gets parse
   errors, not a count that means something else. Here `leaky` serves an emulation of the profile (it is
   built with a Go that has none; see serveGoroutineLeak there).
2. The runtime's proof beside a goroutine job (`goroutineleak:` poll auto): against leaky built with the
   real profile, by this machine's Go 1.26 with GOEXPERIMENT=goroutineleakprofile and by Go 1.27
   (ctest fixture go_targets_leakproof), a group the runtime proves leaked fires at once with
   evidence="runtime", in warm-up, while a leak the runtime cannot prove (goroutines blocked on a global
   WaitGroup) does not; a target without the profile is "not offered", not a failure."""

import os
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
            job("all", [t.addr], interval="1s", timeout="900ms", goroutineleak={"poll": "never"}),
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


PROVED = 6      # leakChanSend goroutines: each blocks on a channel only it references
UNPROVABLE = 3  # leakWaitGroup goroutines: they wait on a package-level WaitGroup, reachable from a global


class RuntimeProof(IntegrationTest):
    def builds(self) -> list[str]:
        """leaky built with the real profile: Go 1.27 always, Go 1.26 when it is the local Go (see CMake)."""
        found = [b for b in ("go1.26-leakproof/leaky", "go1.27/leaky")
                 if os.path.exists(os.path.join(harness.OPTS.bin_dir, b))]
        self.assertIn("go1.27/leaky", found, "the go_targets_leakproof fixture builds it")
        return found

    def test_proved_group_fires_with_runtime_evidence(self):
        for build in self.builds():
            with self.subTest(build=build):
                t = self.start_target(build, "-baseline", "4", "-kind", "chansend", name=build.split("/")[0])
                self.assertEqual(http_get(f"http://{t.addr}/leak?n={PROVED}").status, 200)
                self.assertEqual(http_get(f"http://{t.addr}/leak?n={UNPROVABLE}&kind=waitgroup").status, 200)
                # Default warm-up (30m): only the proof can make anything fire in this test.
                d = self.start_daemon(config(job("app", [t.addr], interval="1s", timeout="900ms",
                                                 goroutineleak={"interval": "2s"})))
                site = dict(service="app", target=t.addr, function="main.leakChanSend")
                self.wait_metric(d, "leakwatch_stack_alert_state", lambda v: v == 2, evidence="runtime", **site)
                m = d.metrics()
                self.assertEqual(harness.value(m, "leakwatch_stack_leaked_goroutines", **site), PROVED)
                self.assertEqual(harness.value(m, "leakwatch_leaked_goroutines", service="app", target=t.addr),
                                 PROVED)
                self.assertEqual(harness.value(m, "leakwatch_goroutineleak_offered", service="app", target=t.addr),
                                 1)
                self.assertGreaterEqual(harness.value(m, "leakwatch_profile_fetches_total", service="app",
                                                      target=t.addr, profile="goroutineleak", format="debug1"), 1)
                # Reachable from a global: the runtime cannot prove it, and the trend has had no time.
                wg = dict(service="app", target=t.addr, function="main.leakWaitGroup")
                self.assertEqual(harness.value(m, "leakwatch_stack_alert_state", evidence="trend", **wg), 0)
                self.assertIsNone(harness.value(m, "leakwatch_stack_leaked_goroutines", None, **wg))

                # More proved leaks show in the next proof (every 2 s here).
                self.assertEqual(http_get(f"http://{t.addr}/leak?n=4").status, 200)
                self.wait_metric(d, "leakwatch_stack_leaked_goroutines", lambda v: v == PROVED + 4, **site)
                self.assertIn("evidence=runtime", d.proc.stderr())

    def test_target_without_the_profile_is_not_offered(self):
        t = self.start_target("leaky", "-no-goroutineleak", "-kind", "chansend", name="plain")
        self.assertEqual(http_get(f"http://{t.addr}/leak?n=5").status, 200)
        d = self.start_daemon(config(job("app", [t.addr], interval="1s", timeout="900ms",
                                         goroutineleak={"interval": "1s"})))
        where = dict(service="app", target=t.addr)
        self.wait_metric(d, "leakwatch_goroutineleak_scrapes_total", lambda v: v >= 2, result="not_offered", **where)
        m = d.metrics()
        self.assertEqual(harness.value(m, "leakwatch_goroutineleak_offered", **where), 0)
        self.assertIsNone(harness.value(m, "leakwatch_goroutineleak_scrapes_total", None, result="http_error", **where))
        self.assertEqual(harness.value(m, "leakwatch_scrape_success", **where), 1)
        self.assertIsNone(harness.value(m, "leakwatch_leaked_goroutines", None, **where))
        # Said once, at info: a fleet of older Go services must not fill the log.
        self.assertEqual(d.proc.stderr().count("target offers no goroutineleak profile"), 1)


if __name__ == "__main__":
    harness.main()
