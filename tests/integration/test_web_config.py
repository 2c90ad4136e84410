#!/usr/bin/env python3
"""leakwatch's own port with --web.config.file (exporter-toolkit's format): TLS with basic auth, scraped by
the real Prometheus (Debian package `prometheus`) with basic_auth and a CA, and with a client certificate
against RequireAndVerifyClientCert and client_allowed_sans; changes to the file apply without a restart, a
broken change is refused and the last good config stays in force; a bad file at start exits 1 naming
file:line:column; the rate limit answers 429; no password or hash reaches the log or /metrics.

Certificates are the throw-away ones in tests/testdata/web; password hashes are made here with libxcrypt's
bcrypt (ctypes, libcrypt.so.1). Everything listens on 127.0.0.1; every process is stopped by PID.
Fails (does not skip) when prometheus is not installed.
"""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import base64
import ctypes
import http.client
import json
import os
import secrets
import shutil
import socket
import ssl
import time
import urllib.parse

import harness
from harness import Daemon, Fatal, IntegrationTest, config, job, to_yaml

CERTS = os.path.join(harness.SOURCE_DIR, "tests", "testdata", "web")
CA = os.path.join(CERTS, "ca.crt")
PROMETHEUS = shutil.which("prometheus") or ("/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK)
                                            else None)


def bcrypt(password: str, cost: int = 5) -> str:
    """A bcrypt hash from libxcrypt, the library leakwatch checks passwords with (and Go's bcrypt agrees)."""
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(b"$2b$", cost, None, 0)
    out = lib.crypt(password.encode(), salt)
    if not out or not out.startswith(b"$2b$"):
        raise RuntimeError("libcrypt cannot make bcrypt hashes")
    return out.decode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def tls_context(client: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=CA)
    if client:
        ctx.load_cert_chain(os.path.join(CERTS, client + ".crt"), os.path.join(CERTS, client + ".key"))
    return ctx


def request(port: int, path: str, *, tls: ssl.SSLContext | None = None, auth: str | None = None,
            method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    c = (http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=tls) if tls
         else http.client.HTTPConnection("127.0.0.1", port, timeout=5))
    try:
        c.request(method, path, headers={"Authorization": auth} if auth else {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def refused(port: int, tls: ssl.SSLContext) -> bool:
    """Whether a TLS client is turned away before it gets an HTTP answer (TLS 1.3 sends the server's
    verdict on the client certificate after the client's handshake has finished: it shows at the read)."""
    try:
        request(port, "/-/ready", tls=tls)
    except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected, socket.timeout, OSError):
        return True
    return False


class WebConfig(IntegrationTest):
    def write_web(self, text: str, name: str = "web.yml") -> str:
        # Through a rename, as a Kubernetes secret volume swaps its files.
        path = os.path.join(self.tmp, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        return path

    def start_secured(self, web_path: str, ready, *extra: str, name: str = "leakwatch") -> Daemon:
        """leakwatch with --web.config.file; `ready(port)` says when it serves (the harness' plain-HTTP
        readiness probe cannot pass the web config's TLS or authentication)."""
        t = self.start_target("leaky", name=f"{name}-target")
        cfg = self.write_config(config(job("payments", [t.addr])), f"{name}.yml")
        port = harness.free_port()
        p = self.spawn(name, [harness.OPTS.leakwatch, f"--config.file={cfg}",
                              f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={web_path}",
                              "--log.level=debug", *extra])

        def up():
            if not p.alive():
                raise Fatal(f"{name} exited with {p.popen.returncode}:\n{p.stderr()}")
            try:
                return ready(port)
            except (OSError, ssl.SSLError, http.client.HTTPException):
                return False

        harness.wait_until(up, 15, f"{name} to serve with its web config", 0.1)
        return Daemon(p, port, cfg)

    def test_tls_basic_auth_and_client_certificates_with_real_prometheus(self):
        if PROMETHEUS is None:
            self.fail("prometheus not found: install the Debian package prometheus (scripts/setup.sh does)")
        password = secrets.token_urlsafe(18)
        pw_hash = bcrypt(password)
        web_a = self.write_web(to_yaml({
            "tls_server_config": {"cert_file": os.path.join(CERTS, "server.crt"),
                                  "key_file": os.path.join(CERTS, "server.key")},
            "http_server_config": {"headers": {"X-Content-Type-Options": "nosniff",
                                               "Strict-Transport-Security": "max-age=31536000"}},
            "basic_auth_users": {"prometheus": pw_hash},
        }) + "\n", "web-a.yml")
        a = self.start_secured(
            web_a, lambda port: request(port, "/-/ready", tls=tls_context(), auth=basic("prometheus", password))[0]
            == 200, name="leakwatch-a")

        # Plain HTTP on the TLS port gets no HTTP answer.
        try:
            status = request(a.port, "/metrics")[0]
        except (ConnectionError, http.client.HTTPException, OSError):
            status = None
        self.assertIsNone(status)
        # Without credentials, or with wrong ones: 401 with a Basic challenge; the probes too (they are on the
        # same port, as exporter-toolkit protects every path).
        for auth in (None, basic("prometheus", "wrong"), basic("nobody", password), "Bearer " + password):
            for path in ("/metrics", "/-/healthy"):
                status, headers, _ = request(a.port, path, tls=tls_context(), auth=auth)
                self.assertEqual(status, 401, (path, auth))
                self.assertEqual(headers.get("WWW-Authenticate"), "Basic")
                self.assertEqual(headers.get("X-Content-Type-Options"), "nosniff")
        status, headers, body = request(a.port, "/metrics", tls=tls_context(), auth=basic("prometheus", password))
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Strict-Transport-Security"), "max-age=31536000")
        self.assertIn(b"leakwatch_build_info", body)

        # A second leakwatch that authenticates clients by certificate: RequireAndVerifyClientCert against
        # the test CA, and only a certificate naming prometheus.test.
        web_b = self.write_web(to_yaml({
            "tls_server_config": {"cert_file": os.path.join(CERTS, "server.crt"),
                                  "key_file": os.path.join(CERTS, "server.key"),
                                  "client_auth_type": "RequireAndVerifyClientCert",
                                  "client_ca_file": CA,
                                  "client_allowed_sans": ["prometheus.test"]},
        }) + "\n", "web-b.yml")
        b = self.start_secured(web_b, lambda port: request(port, "/-/ready", tls=tls_context("client"))[0] == 200,
                               name="leakwatch-b")
        self.assertTrue(refused(b.port, tls_context()), "no client certificate")
        self.assertTrue(refused(b.port, tls_context("client-other-ca")), "a certificate from another CA")
        self.assertTrue(refused(b.port, tls_context("client-unlisted")), "a certificate without an allowed SAN")

        # The real Prometheus scrapes both as users configure it: https, a CA, a password file or a client
        # certificate. The wrong-password job must be down.
        pw_file = os.path.join(self.tmp, "password")
        with open(pw_file, "w") as f:
            f.write(password + "\n")
        wrong_file = os.path.join(self.tmp, "wrong-password")
        with open(wrong_file, "w") as f:
            f.write("not-" + password + "\n")
        tls_ca = {"ca_file": CA}
        prom_cfg = self.write_config(to_yaml({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {"job_name": "basic-auth", "scheme": "https", "tls_config": tls_ca,
                 "basic_auth": {"username": "prometheus", "password_file": pw_file},
                 "static_configs": [{"targets": [f"127.0.0.1:{a.port}"]}]},
                {"job_name": "wrong-password", "scheme": "https", "tls_config": tls_ca,
                 "basic_auth": {"username": "prometheus", "password_file": wrong_file},
                 "static_configs": [{"targets": [f"127.0.0.1:{a.port}"]}]},
                {"job_name": "client-cert", "scheme": "https",
                 "tls_config": {"ca_file": CA, "cert_file": os.path.join(CERTS, "client.crt"),
                                "key_file": os.path.join(CERTS, "client.key")},
                 "static_configs": [{"targets": [f"127.0.0.1:{b.port}"]}]},
            ],
        }) + "\n", "prometheus.yml")
        prom_port = harness.free_port()
        prom = self.spawn("prometheus", [
            PROMETHEUS, f"--config.file={prom_cfg}", f"--storage.tsdb.path={os.path.join(self.tmp, 'prom-data')}",
            f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"])
        base = f"http://127.0.0.1:{prom_port}"

        def up_by_job():
            if not prom.alive():
                raise Fatal(f"prometheus exited with {prom.popen.returncode}")
            try:
                r = harness.http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": "up"}), 2.0)
            except OSError:
                return None
            if r.status != 200:
                return None
            got = {s["metric"]["job"]: s["value"][1] for s in json.loads(r.body)["data"]["result"]}
            return got if len(got) == 3 else None

        got = harness.wait_until(up_by_job, 30, "Prometheus to scrape all three jobs", 0.25)
        harness.wait_until(lambda: up_by_job() == {"basic-auth": "1", "wrong-password": "0", "client-cert": "1"},
                           15, f"up by job to be 1, 0, 1 (was {got})", 0.25)
        # What Prometheus stored came through: leakwatch's own series, from both.
        r = harness.http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode(
            {"query": "count by (job) (leakwatch_build_info)"}))
        jobs = sorted(s["metric"]["job"] for s in json.loads(r.body)["data"]["result"])
        self.assertEqual(jobs, ["basic-auth", "client-cert"])

        # The refusals are counted by reason, on leakwatch's own /metrics.
        _, _, body = request(a.port, "/metrics", tls=tls_context(), auth=basic("prometheus", password))
        m = harness.parse_prometheus(body.decode())
        self.assertGreaterEqual(harness.value(m, "leakwatch_web_rejected_total", 0, reason="unauthorized"), 8)
        self.assertGreaterEqual(harness.value(m, "leakwatch_web_rejected_total", 0, reason="tls_handshake"), 1)
        self.assertEqual(harness.value(m, "leakwatch_web_config_last_reload_successful"), 1)
        _, _, body_b = request(b.port, "/metrics", tls=tls_context("client"))
        m_b = harness.parse_prometheus(body_b.decode())
        self.assertGreaterEqual(harness.value(m_b, "leakwatch_web_rejected_total", 0, reason="client_certificate"), 1)

        # No secret anywhere leakwatch writes.
        for d in (a, b):
            log = d.proc.stderr() + d.proc.stdout()
            self.assertNotIn(password, log)
            self.assertNotIn(pw_hash, log)
            self.assertNotIn(pw_hash[7:], log)  # not even the hash without its prefix
        self.assertNotIn(pw_hash[7:].encode(), body)
        self.assertNotIn(password.encode(), body)

    def test_changes_apply_without_restart_and_a_broken_change_keeps_the_last_good(self):
        pw1, pw2 = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        h1, h2 = bcrypt(pw1), bcrypt(pw2)
        web = self.write_web(to_yaml({"basic_auth_users": {"alice": h1}}) + "\n")
        d = self.start_secured(web, lambda port: request(port, "/-/ready", auth=basic("alice", pw1))[0] == 200)
        self.assertEqual(request(d.port, "/metrics")[0], 401)

        # A new password replaces the old at the next request.
        self.write_web(to_yaml({"basic_auth_users": {"alice": h2}}) + "\n")
        self.assertEqual(request(d.port, "/metrics", auth=basic("alice", pw1))[0], 401)
        self.assertEqual(request(d.port, "/metrics", auth=basic("alice", pw2))[0], 200)

        # A broken change is refused with its position; the last good config stays in force.
        self.write_web("basic_auth_users:\n  alice: " + h1 + "\n  bob: hunter2\n")
        self.assertEqual(request(d.port, "/metrics", auth=basic("alice", pw1))[0], 401)
        status, _, body = request(d.port, "/metrics", auth=basic("alice", pw2))
        self.assertEqual(status, 200)
        m = harness.parse_prometheus(body.decode())
        self.assertEqual(harness.value(m, "leakwatch_web_config_last_reload_successful"), 0)
        log = d.proc.stderr()
        self.assertIn("web config refused; the last good one stays in force", log)
        self.assertIn(f"{web}:3:8: basic_auth_users: bob: expected a bcrypt hash", log)
        self.assertNotIn("hunter2", log)
        self.assertNotIn(h1[7:], log)

        # Switching to TLS applies to new connections; then the rate limit, which refuses with 429.
        self.write_web(to_yaml({
            "tls_server_config": {"cert_file": os.path.join(CERTS, "server.crt"),
                                  "key_file": os.path.join(CERTS, "server.key")},
            "rate_limit": {"interval": "1h", "burst": 3},
        }) + "\n")
        statuses = []
        for _ in range(5):
            try:
                statuses.append(request(d.port, "/metrics", tls=tls_context())[0])
            except (OSError, ssl.SSLError, http.client.HTTPException):
                statuses.append(None)  # the connection that noticed the change may still be plain
        self.assertEqual(statuses.count(200) + statuses.count(None), 3, statuses)
        self.assertEqual(statuses[-2:], [429, 429], statuses)
        self.assertGreaterEqual(d.proc.stderr().count("web config loaded"), 2)

    def test_a_bad_web_config_at_start_exits_1_naming_the_line(self):
        web = self.write_web("tls_server_config:\n  cert_file: server.crt\n  key_fil: server.key\n"
                             "basic_auth_users:\n  alice: plain-password\n")
        t = self.start_target("leaky", name="leaky")
        cfg = self.write_config(config(job("payments", [t.addr])))
        p = self.spawn("leakwatch", [harness.OPTS.leakwatch, f"--config.file={cfg}",
                                     f"--web.listen-address=127.0.0.1:{harness.free_port()}",
                                     f"--web.config.file={web}"])
        self.assertEqual(p.wait_exit(10), 1)
        err = p.stderr()
        self.assertIn("invalid web config", err)
        self.assertIn(f"{web}:3:3: tls_server_config: unknown key \\\"key_fil\\\"", err)
        self.assertIn(f"{web}:5:10: basic_auth_users: alice: expected a bcrypt hash", err)
        self.assertNotIn("plain-password", err)

        # check-config says the same, one problem per line; and a certificate that does not match its key is
        # found there too, not at the first handshake.
        r = self.run_leakwatch("check-config", f"--web.config.file={web}")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{web}:3:3: tls_server_config: unknown key \"key_fil\"", r.stderr)
        self.assertNotIn("plain-password", r.stderr + r.stdout)
        mismatch = self.write_web(to_yaml({"tls_server_config": {"cert_file": os.path.join(CERTS, "server.crt"),
                                                                 "key_file": os.path.join(CERTS, "wrong.key")}})
                                  + "\n", "mismatch.yml")
        r = self.run_leakwatch("check-config", f"--web.config.file={mismatch}")
        self.assertEqual(r.returncode, 1)
        self.assertIn("wrong.key does not match cert_file", r.stderr)
        good = self.write_web(to_yaml({"basic_auth_users": {"alice": bcrypt("x")}}) + "\n", "good.yml")
        r = self.run_leakwatch("check-config", f"--web.config.file={good}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("valid web config (plain HTTP, 1 basic auth users)", r.stdout)


if __name__ == "__main__":
    harness.main()
