#!/usr/bin/env python3
"""Scenarios g and i: readiness and build info once running; SIGTERM while a poll hangs exits 0 within 5 s;
SIGINT likewise; --version and --help; HEAD on the probes; POST /-/reload only with --web.enable-lifecycle."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import http.client
import signal
import time

import harness
from harness import IntegrationTest, config, job

EXIT_WITHIN = 5.0


class Lifecycle(IntegrationTest):
    def test_ready_and_build_info(self):
        t = self.start_target("leaky", name="leaky")
        d = self.start_daemon(config(job("payments", [t.addr])), wait_ready=False)
        harness.wait_until(lambda: d.status("/-/ready") == 200, 10, "/-/ready to answer 200")
        self.assertEqual(d.status("/-/healthy"), 200)
        m = d.metrics()
        info = harness.select(m, "leakwatch_build_info")
        self.assertEqual(len(info), 1, f"leakwatch_build_info series: {info}")
        labels, v = next(iter(info.items()))
        names = dict(labels)
        self.assertIn("version", names)
        self.assertIn("revision", names)
        self.assertTrue(names["version"], "empty version label")
        self.assertEqual(v, 1)
        self.assertEqual(d.status("/no-such-page"), 404)

    def request(self, d, method: str, path: str) -> tuple[int, dict, bytes]:
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def test_probes_answer_head_and_reload_needs_the_flag(self):
        t = self.start_target("leaky", name="leaky")
        d = self.start_daemon(config(job("payments", [t.addr])))
        for path in ("/-/healthy", "/-/ready"):
            status, headers, body = self.request(d, "HEAD", path)
            self.assertEqual(status, 200, path)
            self.assertEqual(body, b"", path)
            self.assertGreater(int(headers["Content-Length"]), 0, path)
        status, _, body = self.request(d, "POST", "/-/reload")
        self.assertEqual(status, 403)
        self.assertIn(b"Lifecycle API is not enabled", body)

        on = self.start_daemon(config(job("payments", [t.addr])), "--web.enable-lifecycle")
        status, _, body = self.request(on, "POST", "/-/reload")
        self.assertEqual(status, 200, body)

    def test_sigterm_with_poll_in_flight(self):
        hung = self.start_target("hostile", "-mode", "hang", name="hung")
        # A long timeout, so the poll is still in flight when the signal comes.
        d = self.start_daemon(config(job("hung", [hung.addr], interval="8s", timeout="8s")))
        harness.wait_until(lambda: "accept " in hung.proc.stderr(), 20, "leakwatch to connect to the hung target")
        self.assertNotIn("closed by client", hung.proc.stderr())
        t0 = time.monotonic()
        d.proc.signal(signal.SIGTERM)
        rc = d.proc.wait_exit(EXIT_WITHIN + 5)  # waits a little longer than allowed, to report how long it took
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(rc, f"leakwatch still running {elapsed:.1f}s after SIGTERM")
        self.assertLess(elapsed, EXIT_WITHIN, f"leakwatch took {elapsed:.1f}s to exit after SIGTERM")
        self.assertEqual(rc, 0)

    def test_sigint(self):
        t = self.start_target("leaky", name="leaky")
        d = self.start_daemon(config(job("payments", [t.addr])))
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, service="payments", target=t.addr)
        t0 = time.monotonic()
        d.proc.signal(signal.SIGINT)
        rc = d.proc.wait_exit(EXIT_WITHIN + 5)
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(rc, "leakwatch ignored SIGINT")
        self.assertLess(elapsed, EXIT_WITHIN)
        self.assertEqual(rc, 0)

    def test_version_and_help(self):
        r = self.run_leakwatch("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue((r.stdout + r.stderr).strip(), "--version printed nothing")
        r = self.run_leakwatch("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--config.file", r.stdout + r.stderr)


if __name__ == "__main__":
    harness.main()
