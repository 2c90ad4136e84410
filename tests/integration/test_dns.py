#!/usr/bin/env python3
"""Name resolution: a target whose name resolves slowly, or never, costs only its own polls, and never holds up
shutdown. leakwatch runs in its own mount namespace (`unshare -m`, root) with /etc/resolv.conf bind-mounted to
name a DNS server in this process (slowdns.py, 127.0.0.153:53): *.slow.test answers late, *.hang.test never,
so the machine's resolver is not touched. `localhost` resolves from /etc/hosts at once, through the same
getaddrinfo path as any other name (an IP literal would bypass the resolver and prove nothing).

Before the resolver had its own workers, Asio ran every lookup on one private thread: the hung lookups
queued the neighbour's behind them (it failed with `resolve: deadline exceeded`), and SIGTERM waited out
its grace period and then freed the metrics while a loop still used them (ASan: heap-use-after-free)."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import os
import shutil
import signal
import time

import harness
from harness import IntegrationTest, config, job
from slowdns import SlowDNS

RESOLV = "nameserver 127.0.0.153\noptions timeout:30 attempts:1\n"  # a hung query costs glibc 30 s


class Dns(IntegrationTest):
    def setUp(self) -> None:
        super().setUp()
        self.dns = SlowDNS(delay=0.5).start()
        self.addCleanup(self.dns.stop)
        self.resolv = os.path.join(self.tmp, "resolv.conf")
        with open(self.resolv, "w") as f:
            f.write(RESOLV)
        # unshare (without --fork) and sh both exec: the PID the harness stops is leakwatch's.
        self.wrapper = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                        'mount --bind "$0" /etc/resolv.conf && exec "$@"', self.resolv]

    def test_slow_and_hung_names_cost_only_their_own_targets(self):
        t = self.start_target("leaky", "-baseline", "2")
        hung = [f"h{i}.hang.test:{t.port}" for i in range(6)]
        d = self.start_daemon(config(
            job("hung", hung, interval="1s", timeout="800ms"),
            job("slow", [f"s.slow.test:{t.port}"], interval="1s", timeout="900ms"),
            job("near", [f"localhost:{t.port}"], interval="1s", timeout="800ms")), wrapper=self.wrapper)
        self.dns.wait_for_query(".hang.test", 10)
        start = time.monotonic()
        # The neighbour polls on schedule from the start, with every lookup of the hung names in flight.
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= 6, result="success", service="near")
        self.assertLess(time.monotonic() - start, 9)
        m = d.metrics()
        for result in ("timeout", "connect_error"):
            self.assertEqual(harness.value(m, "leakwatch_scrapes_total", None, result=result, service="near"), 0,
                             harness.select(m, "leakwatch_scrapes_total", service="near"))
        self.assertEqual(harness.value(m, "leakwatch_scrape_success", service="near"), 1)
        # A name slower than nothing but faster than the timeout resolves, and is then cached.
        self.assertEqual(harness.value(m, "leakwatch_scrape_success", service="slow"), 1)
        slow_lookups = [q for q in self.dns.queries(".slow.test") if q.type_name == "A"]
        self.assertLessEqual(len(slow_lookups), 2, slow_lookups)  # not one per poll
        # The hung names fail by their own deadline, poll after poll (not once per 30 s glibc timeout).
        for name in hung:
            self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= 3, result="timeout", service="hung",
                             target=name)
        self.assertEqual(d.proc.stop(), 0)

    def test_sigterm_with_a_lookup_that_never_returns_exits_at_once(self):
        t = self.start_target("leaky", "-baseline", "2")
        d = self.start_daemon(config(
            job("hung", [f"h{i}.hang.test:{t.port}" for i in range(4)], interval="1s", timeout="800ms"),
            job("near", [f"localhost:{t.port}"], interval="1s")), wrapper=self.wrapper)
        self.dns.wait_for_query(".hang.test", 10)
        time.sleep(2)  # a few polls of each target, every hung lookup still in flight
        self.assertTrue(d.proc.alive())
        start = time.monotonic()
        d.proc.signal(signal.SIGTERM)
        code = d.proc.wait_exit(5.0)
        elapsed = time.monotonic() - start
        self.assertIsNotNone(code, "leakwatch still running 5 s after SIGTERM")
        self.assertEqual(code, 0, d.proc.log_tail())
        self.assertLess(elapsed, 5.0)
        self.assertNotIn("AddressSanitizer", d.proc.stderr())


if __name__ == "__main__":
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        # The suite runs as root (scripts/test.sh); a skip would let the regression through unnoticed.
        print("test_dns needs root and unshare(1) (util-linux) for a private /etc/resolv.conf", file=sys.stderr)
        sys.exit(1)
    harness.main()
