#!/usr/bin/env python3
"""`leakwatch analyze` end to end: the real binary on a file, on stdin and on live URLs of the real Go target
leaky (http and https, every format), and on bad input (exit 1 with exactly one line on stderr)."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import json
import os
import re
import subprocess

import harness
from harness import IntegrationTest

TESTDATA = os.path.join(harness.SOURCE_DIR, "tests", "testdata", "pprof")
LEAK = 20
HEADER = re.compile(r"^(goroutine|goroutineleak) profile \((debug[012])\): (\d+) goroutines? in (\d+) groups?$")


def analyze(*args: str, stdin: bytes | None = None, env: dict | None = None,
            timeout: float = 40.0) -> subprocess.CompletedProcess:
    return subprocess.run([harness.OPTS.leakwatch, "analyze", *args],
                          input=stdin if stdin is not None else b"",
                          capture_output=True, timeout=timeout, env=env)


class Analyze(IntegrationTest):
    def ok(self, r: subprocess.CompletedProcess) -> str:
        self.assertEqual(r.returncode, 0, f"stderr={r.stderr!r}")
        self.assertEqual(r.stderr, b"")
        return r.stdout.decode()

    def fails(self, r: subprocess.CompletedProcess, *needles: str) -> str:
        self.assertEqual(r.returncode, 1, f"stdout={r.stdout[:300]!r} stderr={r.stderr!r}")
        self.assertEqual(r.stdout, b"")
        err = r.stderr.decode()
        self.assertTrue(err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}")
        self.assertTrue(err.startswith("leakwatch analyze: "), err)
        for n in needles:
            self.assertIn(n, err)
        return err

    def check_table(self, text: str, fmt: str, total: int | None = None) -> list[str]:
        lines = text.splitlines()
        m = HEADER.match(lines[0])
        self.assertIsNotNone(m, lines[0])
        self.assertEqual(m.group(2), fmt)
        if total is not None:
            self.assertEqual(int(m.group(3)), total)
        self.assertTrue(lines[1].startswith("COUNT  SIGNATURE"), lines[1])
        self.assertEqual(len(lines), 2 + int(m.group(4)))
        self.assertNotIn("\x1b", text)  # not a terminal: no colour
        return lines

    # files and stdin ----------------------------------------------------------------------------------

    def test_file(self):
        out = self.ok(analyze(os.path.join(TESTDATA, "patterns.debug1.txt")))
        lines = self.check_table(out, "debug1", 63)
        mutex = [l for l in lines if "main.mutexLock" in l]
        self.assertEqual(len(mutex), 1, out)
        self.assertRegex(mutex[0], r"^\s+3  [0-9a-f]{16}  sync\s+main\.mutexLock\s+leakwatch/targets/patterns/main\.go:64$")

    def test_stdin(self):
        with open(os.path.join(TESTDATA, "patterns.debug2.txt"), "rb") as f:
            body = f.read()
        out = self.ok(analyze("-", stdin=body))
        self.check_table(out, "debug2", 63)
        stacks = self.ok(analyze("--stacks", "-", stdin=body))
        self.assertIn("> main.mutexLock", stacks)
        self.assertIn("created by main.start", stacks)
        doc = json.loads(self.ok(analyze("--json", "--format", "debug2", "-", stdin=body)))
        self.assertEqual(doc["format"], "debug2")
        self.assertEqual(doc["total"], 63)

    def test_formats_of_one_file_agree(self):
        sigs = {}
        for name in ("patterns.debug0.pb.gz", "patterns.debug1.txt", "patterns.debug2.txt"):
            doc = json.loads(self.ok(analyze("--json", os.path.join(TESTDATA, name))))
            sigs[name] = {g["signature"]: g["count"] for g in doc["groups"]
                          if not g["leak_site"]["function"].startswith("net/http.(*connReader)")}
        self.assertEqual(sigs["patterns.debug0.pb.gz"], sigs["patterns.debug1.txt"])
        self.assertEqual(sigs["patterns.debug2.txt"], sigs["patterns.debug1.txt"])

    def test_bad_input(self):
        self.fails(analyze(os.path.join(self.tmp, "missing.txt")), "missing.txt", "No such file")
        self.fails(analyze(os.path.join(TESTDATA, "garbage.txt")), "not a goroutine profile")
        self.fails(analyze("-", stdin=b""), "empty")
        self.fails(analyze("--format", "debug2", os.path.join(TESTDATA, "patterns.debug1.txt")), "looks like debug1")
        # A parse error deep in a body whose start looks right, with control bytes in the offending line.
        bad = os.path.join(self.tmp, "bad.txt")
        with open(bad, "wb") as f:
            f.write(b"goroutine profile: total 2\n2 @ 0x1\n#\t0x1\tmain.f+0x1\t/a.go:1\nbogus\x1b[2J\nline\n\n")
        err = self.fails(analyze(bad))
        self.assertNotIn("\x1b", err)
        self.fails(analyze("ftp://127.0.0.1/x"), "only http and https")
        # Flag misuse is a usage error (2), like every leakwatch command.
        self.assertEqual(analyze().returncode, 2)
        self.assertEqual(analyze("--format", "debug9", "x").returncode, 2)

    # live URLs --------------------------------------------------------------------------------------

    def leaked_group(self, doc: dict) -> dict:
        # leak_site is null for a group without frames: debug=0 can catch a goroutine of our own request
        # that was just created, whose only frame (runtime.goexit) the parser drops.
        groups = [g for g in doc["groups"] if (g["leak_site"] or {}).get("function") == "main.leakChanSend"]
        self.assertEqual(len(groups), 1, [g["leak_site"] for g in doc["groups"]])
        return groups[0]

    def test_live_url(self):
        t = self.start_target("leaky", "-kind", "chansend", "-baseline", "4", name="leaky")
        r = harness.http_get(f"http://{t.addr}/leak?n={LEAK}")
        self.assertEqual(r.status, 200, r)

        # Auto: no path -> /debug/pprof/goroutine, no debug -> debug=1.
        out = self.ok(analyze(f"http://{t.addr}"))
        lines = self.check_table(out, "debug1")
        top = lines[2]
        self.assertRegex(top, rf"^\s*{LEAK}  [0-9a-f]{{16}}  .*main\.leakChanSend\s+\S*main\.go:\d+$")

        # Every format of the live process names the same leak with the same signature.
        docs = {}
        for fmt in ("debug0", "debug1", "debug2"):
            docs[fmt] = json.loads(self.ok(analyze("--json", "--format", fmt, f"http://{t.addr}/")))
            self.assertEqual(docs[fmt]["format"], fmt)
        groups = {fmt: self.leaked_group(doc) for fmt, doc in docs.items()}
        self.assertEqual({g["count"] for g in groups.values()}, {LEAK})
        self.assertEqual(len({g["signature"] for g in groups.values()}), 1, groups)
        self.assertEqual(groups["debug0"]["wait_class"], "chan_send")
        self.assertEqual(groups["debug2"]["wait_class"], "chan_send")
        self.assertEqual(groups["debug2"]["states"], {"chan send": LEAK})
        self.assertEqual(groups["debug2"]["creator"]["function"], "main.leak")
        self.assertIsNone(groups["debug1"]["max_wait_minutes"])

        # A debug the URL names is used as given, and auto detects what came back.
        doc = json.loads(self.ok(analyze("--json", f"http://{t.addr}/debug/pprof/goroutine?debug=2")))
        self.assertEqual(doc["format"], "debug2")

        # HTTP errors and refused connections: one line, exit 1.
        self.fails(analyze(f"http://{t.addr}/debug/pprof/nosuchprofile"), "HTTP status 404")
        port = harness.free_port()
        self.fails(analyze(f"http://127.0.0.1:{port}/"), f"127.0.0.1:{port}", "connect")

    def test_https(self):
        ca = os.path.join(self.tmp, "leaky-cert.pem")
        t = self.start_target("leaky", "-tls", "-cert-out", ca, "-kind", "chansend", name="leaky-tls")
        url = f"https://{t.addr}/"
        # The self-signed certificate is not a system CA: verification fails, and says so on one line.
        env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        self.fails(analyze(url, env=env), "TLS handshake")
        # Trusted through OpenSSL's standard SSL_CERT_FILE: the fetch verifies and succeeds.
        out = self.ok(analyze(url, env=dict(env, SSL_CERT_FILE=ca)))
        self.check_table(out, "debug1")


if __name__ == "__main__":
    harness.main()
