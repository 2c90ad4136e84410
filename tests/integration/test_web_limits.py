#!/usr/bin/env python3
"""leakwatch's own port under abuse (README, "Limits of the port"): thousands of idle connections, headers
trickled one byte a second, 1 MiB headers, pipelined floods. Through all of it a well-behaved scraper's
GET /metrics on a fresh connection is answered within a second, and the port's counters say what happened."""

import os
import resource
import socket
import time
import unittest

import harness
from harness import IntegrationTest, config, job

MAX_CONNECTIONS = 512
SCRAPE_DEADLINE = 1.0  # seconds: what "still answers a well-behaved scraper" means here


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_files_needed(n: int) -> None:
    """The test holds `n` sockets at once; the usual soft limit (1024) is below that."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise unittest.SkipTest(f"the hard open-files limit {hard} is below the {want} this test needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class WebLimits(IntegrationTest):
    def setUp(self):
        super().setUp()
        open_files_needed(2500)
        self.latencies: list[float] = []
        self.held: list[socket.socket] = []

    def tearDown(self):
        for s in self.held:
            s.close()
        super().tearDown()

    def connect(self, port: int) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.held.append(s)
        return s

    def scrape(self, d) -> None:
        """One GET /metrics on a new connection, as Prometheus does after an idle close: 200 within a second."""
        start = time.monotonic()
        r = d.get("/metrics", timeout=5)
        took = time.monotonic() - start
        self.latencies.append(took)
        self.assertEqual(r.status, 200)
        self.assertIn("leakwatch_web_connections", r.text)
        self.assertLess(took, SCRAPE_DEADLINE, f"/metrics took {took:.3f} s under abuse")

    def rejected(self, d, reason: str) -> float:
        return d.value("leakwatch_web_rejected_total", 0, reason=reason)

    def test_the_port_holds_under_abuse(self):
        t = self.start_target("leaky", name="target")
        d = self.start_daemon(config(job("payments", [t.addr])), f"--web.max-connections={MAX_CONNECTIONS}")
        self.scrape(d)
        rss_before = rss_kib(d.proc.pid)

        # 1. Thousands of connections that never send anything. The daemon never holds more than the limit.
        for _ in range(2000):
            self.connect(d.port)
        time.sleep(1.2)  # past the grace a new connection gets before it may be displaced
        for _ in range(5):
            self.scrape(d)
        self.assertLessEqual(d.value("leakwatch_web_connections"), MAX_CONNECTIONS)
        # Those past the limit came within the grace of the first ones, so they were refused; each scrape
        # then found a slot: the first displaced an idle one, the rest reused the slot the last one freed.
        turned_away = self.rejected(d, "max_connections") + self.rejected(d, "evicted")
        self.assertGreaterEqual(turned_away, 2000 - MAX_CONNECTIONS)
        self.assertGreaterEqual(self.rejected(d, "evicted"), 1)
        for s in self.held:
            s.close()
        self.held.clear()
        harness.wait_until(lambda: d.value("leakwatch_web_connections") <= 1, 10,
                           "the closed connections to leave the table", 0.1)

        # 2. Slowloris: 300 connections trickle a request line and headers, one byte per second each. The
        #    request-read deadline (10 s from the first byte) ends them, whatever the pace.
        trickle = [self.connect(d.port) for _ in range(300)]
        line = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"z" * 64
        closed_at: dict[int, float] = {}
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < 13 and len(closed_at) < len(trickle):
            for k, s in enumerate(trickle):
                if k in closed_at:
                    continue
                try:
                    s.send(line[i % len(line):i % len(line) + 1])
                except OSError:
                    closed_at[k] = time.monotonic() - start
            i += 1
            self.scrape(d)
            time.sleep(max(0.0, start + i - time.monotonic()))
        for k, s in enumerate(trickle):
            if k in closed_at:
                continue
            s.settimeout(0.5)
            try:
                if s.recv(1) == b"":
                    closed_at[k] = time.monotonic() - start
            except (socket.timeout, OSError):
                pass
        self.assertEqual(len(closed_at), len(trickle), "a trickling connection outlived the request deadline")
        self.assertGreaterEqual(self.rejected(d, "request_timeout"), 250)
        for s in trickle:
            s.close()
        self.held.clear()

        # 3. 1 MiB of headers: answered 431 after 32 KiB, and the rest is never buffered.
        for _ in range(20):
            s = self.connect(d.port)
            try:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * (1 << 20) + b"\r\n\r\n")
            except OSError:
                pass  # the server may close before taking it all
            s.settimeout(5)
            head = s.recv(64)
            self.assertTrue(head.startswith(b"HTTP/1.1 431 "), head)
            s.close()
        self.held.clear()
        self.scrape(d)
        self.assertEqual(self.rejected(d, "header_too_large"), 20)

        # 4. Pipelined floods: 20 connections each send 2,000 requests for /metrics and read none of the
        #    answers. Each is served one request at a time until its unread answers fill the socket, then it
        #    waits (and is closed by the write deadline, or displaced); the scraper is not.
        request = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"
        floods = [self.connect(d.port) for _ in range(20)]
        for s in floods:
            s.setblocking(False)
            try:
                s.send(request * 2000)
            except BlockingIOError:
                pass
        for _ in range(5):
            self.scrape(d)
            time.sleep(0.2)
        for s in floods:
            s.close()
        self.held.clear()

        # A pipelined burst that is read is answered in order, completely.
        s = self.connect(d.port)
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: localhost\r\n\r\n" * 1000 +
                  b"GET /-/healthy HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        s.settimeout(10)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 200 OK\r\n"), 1001)

        self.scrape(d)
        self.assertTrue(d.proc.alive())
        rss_after = rss_kib(d.proc.pid)
        worst = max(self.latencies)
        print(f"scrapes: {len(self.latencies)}, slowest {worst * 1000:.1f} ms, "
              f"median {sorted(self.latencies)[len(self.latencies) // 2] * 1000:.1f} ms; "
              f"evicted {self.rejected(d, 'evicted'):.0f}, request_timeout {self.rejected(d, 'request_timeout'):.0f}, "
              f"header_too_large {self.rejected(d, 'header_too_large'):.0f}; "
              f"RSS {rss_before} KiB before, {rss_after} KiB after")


if __name__ == "__main__":
    harness.main()
