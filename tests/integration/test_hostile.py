#!/usr/bin/env python3
"""Scenario d: each kind of hostile target is classified (too_large, parse_error, http_error, timeout), the size
limit applies to the inflated body of a gzip bomb, and the daemon stays healthy and small throughout."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import re

import harness
from harness import IntegrationTest, config, job

# Small enough that reading up to the limit is quick even in an ASan+UBSan Debug build, big enough that the gzip
# bomb's compressed body (about 2 MiB) fits under it, so only its inflated size can trip the limit.
BODY_LIMIT_MIB = 4
INTERVAL, TIMEOUT = "3s", "2500ms"
# Peak RSS allowed for the daemon while it fends off 200 MiB bodies and a 1.5 GiB gzip bomb with a 4 MiB limit.
# A few buffers of the limit fit easily; holding a whole body or the inflated bomb would not.
MAX_PEAK_RSS_MIB = 512

CASES = [
    # job name, hostile args, expected result
    ("huge", ["-mode", "huge"], "too_large"),
    ("huge_declared", ["-mode", "huge", "-declare-length"], "too_large"),
    ("garbage", ["-mode", "garbage"], "parse_error"),
    ("status500", ["-mode", "status500"], "http_error"),
    ("gzipbomb", ["-mode", "gzipbomb"], "too_large"),
    ("slow", ["-mode", "slow"], "timeout"),
]


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class HostileTargets(IntegrationTest):
    def test_hostile_targets_are_classified(self):
        targets = {name: self.start_target("hostile", *args, name=name) for name, args, _ in CASES}
        ok = self.start_target("leaky", "-baseline", "2", name="healthy")
        jobs = [job(name, [targets[name].addr], interval=INTERVAL, timeout=TIMEOUT) for name, _, _ in CASES]
        jobs.append(job("healthy", [ok.addr], interval="1s", timeout="500ms"))
        d = self.start_daemon(config(*jobs, body_size_limit=f"{BODY_LIMIT_MIB}MiB"))

        for name, _, expected in CASES:
            sel = dict(service=name, target=targets[name].addr)

            def classified(sel=sel, expected=expected):
                if not d.proc.alive():
                    raise harness.Fatal(f"leakwatch exited with {d.proc.popen.returncode}")
                status = d.status("/-/healthy", timeout=3)
                if status != 200:
                    raise harness.Fatal(f"/-/healthy answered {status}")
                v = d.value("leakwatch_scrapes_total", 0.0, result=expected, **sel)
                return v >= 2

            try:
                harness.wait_until(classified, 30, f"{name}: 2 scrapes with result={expected}", 0.25)
            except AssertionError as e:
                got = harness.select(d.metrics(), "leakwatch_scrapes_total", **sel)
                raise AssertionError(f"{e}\n{name}: scrapes_total so far: "
                                     f"{ {dict(k)['result']: v for k, v in got.items()} }") from None

        bomb = re.search(r"gzip bomb: (\d+) bytes inflating to (\d+)", targets["gzipbomb"].proc.stderr())
        self.assertIsNotNone(bomb, "hostile -mode gzipbomb did not log its sizes")
        self.assertLess(int(bomb.group(1)), BODY_LIMIT_MIB << 20, "the compressed bomb alone exceeds the limit")
        self.assertGreater(int(bomb.group(2)), 1 << 30)

        m = d.metrics()
        for name, _, expected in CASES:
            sel = dict(service=name, target=targets[name].addr)
            with self.subTest(target=name):
                self.assertEqual(harness.value(m, "leakwatch_scrape_success", **sel), 0)
                self.assertEqual(harness.value(m, "leakwatch_scrapes_total", 0.0, result="success", **sel), 0)
        self.assertEqual(harness.value(m, "leakwatch_scrape_success", service="healthy", target=ok.addr), 1)
        self.assertEqual(d.status("/-/healthy"), 200)
        self.assertEqual(d.status("/-/ready"), 200)
        self.assertTrue(d.proc.alive())
        rss = peak_rss_mib(d.proc.pid)
        self.assertLess(rss, MAX_PEAK_RSS_MIB, f"daemon peak RSS {rss:.0f} MiB with a {BODY_LIMIT_MIB} MiB limit")


if __name__ == "__main__":
    harness.main()
