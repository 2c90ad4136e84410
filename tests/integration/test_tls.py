#!/usr/bin/env python3
"""Scenario e: HTTPS targets. With the target's certificate as ca_file the scrape succeeds; without it (and
insecure_skip_verify false) verification fails and is counted as connect_error; insecure_skip_verify true
succeeds. server_name is the name verified: a name in the certificate succeeds, another one fails."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import os

import harness
from harness import IntegrationTest, config, job

# job name -> (tls_config or None, expected scrape_success)
CASES = {
    "tls_ca": ({"ca_file": "CA"}, 1),
    "tls_no_ca": (None, 0),
    "tls_no_ca_explicit": ({"insecure_skip_verify": False}, 0),
    "tls_insecure": ({"insecure_skip_verify": True}, 1),
    "tls_server_name_ok": ({"ca_file": "CA", "server_name": "localhost"}, 1),
    "tls_server_name_wrong": ({"ca_file": "CA", "server_name": "wrong.invalid"}, 0),
}


class Https(IntegrationTest):
    def test_tls_verification(self):
        ca = os.path.join(self.tmp, "leaky-cert.pem")
        t = self.start_target("leaky", "-tls", "-cert-out", ca, "-baseline", "2", name="leaky-tls")
        self.assertTrue(os.path.getsize(ca) > 0)
        jobs = []
        for name, (tls, _) in CASES.items():
            extra = {"scheme": "https"}
            if tls is not None:
                extra["tls_config"] = {k: (ca if v == "CA" else v) for k, v in tls.items()}
            jobs.append(job(name, [t.addr], interval="1s", timeout="900ms", **extra))
        d = self.start_daemon(config(*jobs))

        def result(name, want):
            return "success" if want == 1 else "connect_error"

        def all_classified():
            if not d.proc.alive():
                raise harness.Fatal(f"leakwatch exited with {d.proc.popen.returncode}")
            m = d.metrics()
            return all(harness.value(m, "leakwatch_scrapes_total", 0.0, result=result(name, want),
                                     service=name, target=t.addr) >= 2 for name, (_, want) in CASES.items())

        try:
            harness.wait_until(all_classified, 15, "every job to have 2 scrapes with its expected result", 0.25)
        except harness.Fatal:
            raise
        except AssertionError:
            pass  # the per-job assertions below say which
        m = d.metrics()
        for name, (_, want) in CASES.items():
            sel = dict(service=name, target=t.addr)
            with self.subTest(job=name):
                got = {dict(k)["result"]: v for k, v in harness.select(m, "leakwatch_scrapes_total", **sel).items()}
                self.assertGreaterEqual(got.get(result(name, want), 0), 2, f"{name}: scrapes_total {got}")
                self.assertEqual(harness.value(m, "leakwatch_scrape_success", **sel), want)
                if want == 1:
                    self.assertGreater(harness.value(m, "leakwatch_goroutines", **sel), 0)
                else:
                    self.assertEqual(got.get("success", 0), 0, f"{name}: scrapes_total {got}")
        self.assertEqual(d.status("/-/healthy"), 200)


if __name__ == "__main__":
    harness.main()
