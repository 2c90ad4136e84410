#!/usr/bin/env python3
"""Authentication to targets, spelled as in Prometheus' scrape configs: basic_auth (inline and file secrets),
authorization with a credentials_file rotated under a running daemon (then deleted: auth_error, then restored),
http_headers with a secret value, and tls_config with a client certificate (mTLS). A refused request is
counted as `unauthorized` (the target answered 401 or 403), a secret file leakwatch cannot read as
`auth_error`, a refused handshake as `connect_error`. No secret ever shows in the daemon's logs, /metrics
or its other pages.

The targets are leaky instances with -basic-auth, -bearer-file, -require-header and -tls -mtls-out."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import base64
import os
import secrets
import urllib.error
import urllib.request

import harness
from harness import IntegrationTest, config, job

# As test_tls.py: short enough that a few scrapes take seconds, with the timeout below the interval.
INTERVAL, TIMEOUT = "1s", "900ms"


def secret(kind: str) -> str:
    """A random value that cannot occur in a log or a page by chance, so finding it there means it leaked."""
    return f"{kind}-{secrets.token_hex(16)}"


def replace_file(path: str, content: str) -> None:
    """Writes `content` to a temporary file beside `path` and renames it over `path`, as the kubelet updates a
    secret volume: a reader sees the old file or the new one, never a partial one, and the new one is a new
    inode (leakwatch must notice it, not keep what it read from the old one). Mode 0600, as a secret's."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content)
    os.replace(tmp, path)


def status_with(url: str, headers: dict) -> int:
    """The status leaky answers to a GET with these headers (the harness's http_get sends none of its own)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


class TargetAuth(IntegrationTest):
    # helpers -------------------------------------------------------------------------------------------

    def results(self, d: harness.Daemon, service: str, target: str) -> dict:
        """{result: count} of leakwatch_scrapes_total for one job's target."""
        got = harness.select(d.metrics(), "leakwatch_scrapes_total", service=service, target=target)
        return {dict(k)["result"]: v for k, v in got.items()}

    def expect_results(self, d: harness.Daemon, target: str, want: dict, count: int = 2, timeout: float = 15) -> None:
        """Waits until each job of `want` (job name -> result) has `count` scrapes with its result, then checks
        every job: scrape_success matches, a failing job never succeeded, a succeeding one reports goroutines."""

        def all_classified():
            if not d.proc.alive():
                raise harness.Fatal(f"leakwatch exited with {d.proc.popen.returncode}")
            m = d.metrics()
            return all(harness.value(m, "leakwatch_scrapes_total", 0.0, result=result, service=name,
                                     target=target) >= count for name, result in want.items())

        try:
            harness.wait_until(all_classified, timeout, f"every job to have {count} scrapes with its result", 0.25)
        except harness.Fatal:
            raise
        except AssertionError:
            pass  # the per-job assertions below say which
        m = d.metrics()
        for name, result in want.items():
            sel = dict(service=name, target=target)
            with self.subTest(job=name):
                got = {dict(k)["result"]: v for k, v in harness.select(m, "leakwatch_scrapes_total", **sel).items()}
                self.assertGreaterEqual(got.get(result, 0), count, f"{name}: want {result}; scrapes_total {got}")
                self.assertEqual(harness.value(m, "leakwatch_scrape_success", **sel), 1 if result == "success" else 0)
                if result == "success":
                    self.assertGreater(harness.value(m, "leakwatch_goroutines", **sel), 0)
                else:
                    self.assertEqual(got.get("success", 0), 0, f"{name}: scrapes_total {got}")

    def assert_no_secret_leaked(self, d: harness.Daemon, secret_values: dict) -> None:
        """Fetches the daemon's pages, stops it (so its last log lines are written too) and checks that no value
        of `secret_values` (description -> value) appears in the pages or in its stdout and stderr, which the
        harness's Proc writes to files. It runs with --log.level=debug (the harness passes it), its most
        talkative, and after failing scrapes, whose errors are the likeliest place for a credential to slip."""
        for what, v in secret_values.items():
            self.assertGreaterEqual(len(v), 16, f"{what}: too short to be told from chance")
        places = {}
        for path in ("/metrics", "/", "/-/healthy", "/-/ready"):
            r = d.get(path)
            self.assertEqual(r.status, 200, f"GET {path}")
            places[f"GET {path}"] = r.text
        d.proc.stop()
        places["leakwatch stdout"] = d.proc.stdout()
        places["leakwatch stderr"] = d.proc.stderr()
        self.assertTrue(places["leakwatch stderr"], "leakwatch logged nothing: the check would prove nothing")
        for what, v in secret_values.items():
            for where, text in places.items():
                if v in text:
                    # The line, not the whole text: the harness prints the log tails anyway.
                    line = next(ln for ln in text.splitlines() if v in ln)
                    self.fail(f"{what} leaked into {where}: {line[:300]!r}")

    # tests ---------------------------------------------------------------------------------------------

    def test_basic_auth(self):
        user, password, wrong = "scraper", secret("password"), secret("wrong-password")
        t = self.start_target("leaky", "-basic-auth", f"{user}:{password}", "-baseline", "2", name="leaky-basic")
        password_file = os.path.join(self.tmp, "password")
        user_file = os.path.join(self.tmp, "username")
        replace_file(password_file, password + "\n")  # a trailing newline, as `echo` writes: trimmed (Prometheus)
        replace_file(user_file, user + "\n")
        d = self.start_daemon(config(
            job("basic_file", [t.addr], INTERVAL, TIMEOUT,
                basic_auth={"username": user, "password_file": password_file}),
            job("basic_both_files", [t.addr], INTERVAL, TIMEOUT,
                basic_auth={"username_file": user_file, "password_file": password_file}),
            job("basic_wrong", [t.addr], INTERVAL, TIMEOUT, basic_auth={"username": user, "password": wrong})))
        self.expect_results(d, t.addr, {"basic_file": "success", "basic_both_files": "success",
                                        "basic_wrong": "unauthorized"})
        self.assertEqual(d.status("/-/healthy"), 200)
        self.assert_no_secret_leaked(d, {
            "the password": password,
            "the wrong password": wrong,
            # What goes on the wire: a log of the request's header fields would show these, not the password.
            "the basic auth credentials": base64.b64encode(f"{user}:{password}".encode()).decode(),
            "the wrong basic auth credentials": base64.b64encode(f"{user}:{wrong}".encode()).decode(),
        })

    def test_bearer_token_rotation(self):
        old, new = secret("token-old"), secret("token-new")
        leaky_token = os.path.join(self.tmp, "leaky-token")  # what the target accepts
        token_file = os.path.join(self.tmp, "token")  # what leakwatch sends
        replace_file(leaky_token, old + "\n")
        replace_file(token_file, old + "\n")
        t = self.start_target("leaky", "-bearer-file", leaky_token, "-baseline", "2", name="leaky-bearer")
        url = f"http://{t.addr}/debug/pprof/goroutine?debug=1"
        # No `type`: it defaults to Bearer, as in Prometheus.
        d = self.start_daemon(config(
            job("bearer", [t.addr], INTERVAL, TIMEOUT, authorization={"credentials_file": token_file}),
            job("bearer_none", [t.addr], INTERVAL, TIMEOUT)))
        sel = dict(service="bearer", target=t.addr)
        self.expect_results(d, t.addr, {"bearer": "success", "bearer_none": "unauthorized"})

        # Rotate on both sides, without a reload. Scrapes between the two renames may be refused; afterwards
        # the target refuses the old token, so new successes prove leakwatch sends the new one.
        replace_file(leaky_token, new + "\n")
        replace_file(token_file, new + "\n")
        self.assertEqual(status_with(url, {"Authorization": f"Bearer {old}"}), 401, "leaky still takes the old token")
        self.assertEqual(status_with(url, {"Authorization": f"Bearer {new}"}), 200, "leaky refuses the new token")
        s0 = d.value("leakwatch_scrapes_total", 0.0, result="success", **sel)
        # +2, not +1: a scrape sent just before the rotation may complete after s0 was read.
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= s0 + 2, timeout=8, result="success", **sel)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, timeout=3, **sel)

        # leakwatch's credentials file goes away: nothing is sent, the poll is an auth_error, and the daemon
        # keeps serving.
        os.remove(token_file)
        a0 = d.value("leakwatch_scrapes_total", 0.0, result="auth_error", **sel)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= a0 + 2, timeout=8, result="auth_error", **sel)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 0, timeout=3, **sel)
        self.assertTrue(d.proc.alive(), "leakwatch died when its credentials file went away")
        self.assertEqual(d.status("/-/healthy"), 200)
        self.assertEqual(d.status("/-/ready"), 200)
        d.metrics_text()  # still answers /metrics (raises if not 200)

        # Back again: success again, still without a reload.
        replace_file(token_file, new + "\n")
        s1 = d.value("leakwatch_scrapes_total", 0.0, result="success", **sel)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= s1 + 2, timeout=8, result="success", **sel)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, timeout=3, **sel)
        self.assertEqual(harness.value(d.metrics(), "leakwatch_scrape_success", service="bearer_none",
                                       target=t.addr), 0)
        self.assert_no_secret_leaked(d, {"the old token": old, "the new token": new})

    def test_http_headers(self):
        value, wrong = secret("header"), secret("wrong-header")
        t = self.start_target("leaky", "-require-header", f"X-Leaky-Key:{value}", "-baseline", "2",
                              name="leaky-header")
        d = self.start_daemon(config(
            job("header_secret", [t.addr], INTERVAL, TIMEOUT, http_headers={"X-Leaky-Key": {"secrets": [value]}}),
            job("header_wrong", [t.addr], INTERVAL, TIMEOUT, http_headers={"X-Leaky-Key": {"secrets": [wrong]}}),
            job("header_missing", [t.addr], INTERVAL, TIMEOUT)))
        # leaky answers 403 to a request without the header value: unauthorized, like a 401.
        self.expect_results(d, t.addr, {"header_secret": "success", "header_wrong": "unauthorized",
                                        "header_missing": "unauthorized"})
        self.assert_no_secret_leaked(d, {"the header's secret value": value, "the wrong header value": wrong})

    def test_mtls(self):
        ca = os.path.join(self.tmp, "leaky-cert.pem")
        client_dir = os.path.join(self.tmp, "client")
        t = self.start_target("leaky", "-tls", "-cert-out", ca, "-mtls-out", client_dir, "-baseline", "2",
                              name="leaky-mtls")
        cert, key = os.path.join(client_dir, "client.pem"), os.path.join(client_dir, "client-key.pem")
        d = self.start_daemon(config(
            job("mtls", [t.addr], INTERVAL, TIMEOUT, scheme="https",
                tls_config={"ca_file": ca, "cert_file": cert, "key_file": key}),
            # The server is verified, but no client certificate is offered: leaky refuses the handshake (with
            # TLS 1.3 the client learns it on its first read, still a transport error: connect_error).
            job("mtls_no_cert", [t.addr], INTERVAL, TIMEOUT, scheme="https", tls_config={"ca_file": ca})))
        self.expect_results(d, t.addr, {"mtls": "success", "mtls_no_cert": "connect_error"})
        # It was the missing client certificate that failed, not the server's verification (Go's words).
        self.assertIn("client didn't provide a certificate", t.proc.stderr())
        with open(key) as f:
            # A short last line (say "Ag==") could occur by chance; a P-256 key's lines are 64, 64 and 56 long.
            body = [ln for ln in f.read().splitlines() if len(ln) >= 16 and not ln.startswith("-----")]
        self.assertGreaterEqual(len(body), 2, f"{key}: too little PEM body to look for")
        self.assert_no_secret_leaked(d, {f"line {i + 1} of the client key": ln for i, ln in enumerate(body)})


if __name__ == "__main__":
    harness.main()
