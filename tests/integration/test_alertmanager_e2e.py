#!/usr/bin/env python3
"""End to end: a real leaking Go program, the real leakwatch, the real Prometheus (Debian package
`prometheus`) scraping leakwatch with the shipped scrape config and alerting rules, and the real Alertmanager
(Debian package `prometheus-alertmanager`) routing to a webhook receiver run by this test.

Asserts that GoroutineLeak arrives at the webhook naming the leaking target and function, that the runbook
command in its description works, and that the healthy target next to it raises nothing at any point.
Prints the time from the start of the leak to the alert at the webhook, with the intervals used.

Everything listens on 127.0.0.1 (free ports; the webhook on port 0); every process is stopped by PID and
the Prometheus and Alertmanager data directories live in the test's temporary directory, which is removed.
Fails (does not skip) when prometheus or prometheus-alertmanager is not installed.
"""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import http.server
import json
import os
import re
import shutil
import threading
import time
import urllib.parse

import harness
from harness import Fatal, IntegrationTest, config, job, to_yaml

DEPLOY = os.path.join(harness.SOURCE_DIR, "deploy", "prometheus")
RULES = os.path.join(DEPLOY, "rules", "leakwatch.rules.yml")
SCRAPE_SNIPPET = os.path.join(DEPLOY, "scrape-config.yml")


def _tool(*names: str) -> str | None:
    for n in names:
        p = shutil.which(n) or (f"/usr/bin/{n}" if os.access(f"/usr/bin/{n}", os.X_OK) else None)
        if p:
            return p
    return None


PROMETHEUS = _tool("prometheus")
ALERTMANAGER = _tool("prometheus-alertmanager", "alertmanager")

# The intervals of this test (short, so that it completes in about two minutes of detection).
POLL = "1s"  # leakwatch's scrape_interval
DETECTION = {"window": "2m", "min_duration": "15s", "min_samples": 8, "for": "10s", "warmup": "0s"}
PROM_INTERVAL = "1s"  # Prometheus scrape_interval and evaluation_interval
LEAK_EVERY, LEAK_BATCH = "1s", 1  # the leaking target leaks one goroutine per second
ALERT_TIMEOUT = 240.0  # seconds from the leak's start; the alert normally arrives after ~2 min (pace: README)


class Webhook:
    """An Alertmanager webhook receiver on 127.0.0.1:0 that records every notification with its arrival time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[tuple[float, dict]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparseable": body.decode("utf-8", "replace")}
                with outer.lock:
                    outer.received.append((now, payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, fmt, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def alerts(self) -> list[tuple[float, str, dict]]:
        """(arrival time, notification status, alert) for every alert in every notification so far."""
        with self.lock:
            return [(t, p.get("status", "?"), a) for t, p in self.received for a in p.get("alerts", [])]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5.0)


def prometheus_config(leakwatch_addr: str, alertmanager_addr: str | None) -> str:
    """The shipped scrape-config.yml with only the test's address and intervals put in, plus the global
    intervals and the Alertmanager to send to (none when None). The rules are the shipped file itself,
    unmodified (their leak alerts have no `for:`: leakwatch's detection.for is the persistence)."""
    with open(SCRAPE_SNIPPET) as f:
        text = f.read()
    subs = [
        (r'targets: \["localhost:9863"\]', f'targets: ["{leakwatch_addr}"]'),
        (r"(?m)^(\s+)scrape_interval: 15s$", rf"\g<1>scrape_interval: {PROM_INTERVAL}"),
        (r"(?m)^(\s+)scrape_timeout: 10s$", rf"\g<1>scrape_timeout: {PROM_INTERVAL}"),
        (r"(?m)^(\s+)- rules/leakwatch\.rules\.yml$", rf"\g<1>- {RULES}"),
    ]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text)
        if n != 1:
            raise AssertionError(f"{SCRAPE_SNIPPET}: expected one match of {pattern!r}, found {n}")
    head_cfg: dict = {"global": {"scrape_interval": PROM_INTERVAL, "evaluation_interval": PROM_INTERVAL}}
    if alertmanager_addr:
        head_cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager_addr]}]}]}
    head = to_yaml(head_cfg)
    return head + "\n\n" + text


def alertmanager_config(webhook_url: str) -> str:
    return to_yaml({
        "route": {
            "receiver": "webhook",
            "group_by": ["alertname", "service", "target"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }) + "\n"


class AlertmanagerE2E(IntegrationTest):
    def wait_ready(self, proc: harness.Proc, base: str, timeout: float = 30.0) -> None:
        def ready():
            if not proc.alive():
                raise Fatal(f"{proc.name} exited with {proc.popen.returncode}")
            return harness.http_status(base + "/-/ready", timeout=1.0) == 200

        harness.wait_until(ready, timeout, f"{proc.name} /-/ready", 0.1)

    def prom_query(self, base: str, q: str) -> list:
        r = harness.http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        body = json.loads(r.body)
        self.assertEqual((r.status, body.get("status")), (200, "success"), f"query {q!r}: {r.text[:500]}")
        return body["data"]["result"]

    def test_leak_alert_reaches_webhook(self):
        hook = Webhook()
        self.addCleanup(hook.close)

        # Alertmanager, routing everything to the webhook at once.
        am_port = harness.free_port()
        am_cfg = self.write_config(alertmanager_config(hook.url), "alertmanager.yml")
        am = self.spawn("alertmanager", [
            ALERTMANAGER, f"--config.file={am_cfg}", f"--storage.path={os.path.join(self.tmp, 'am-data')}",
            f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=", "--log.level=warn"])
        am_base = f"http://127.0.0.1:{am_port}"

        # The healthy target (workers, no leak) and leakwatch, which also polls the leaking target's port:
        # that target starts last, so the leak starts with the whole pipeline already running.
        healthy = self.start_target("leaky", "-baseline", "3", name="healthy")
        leak_port = harness.free_port()
        leak_addr = f"127.0.0.1:{leak_port}"
        d = self.start_daemon(config(
            # The trend path (GoroutineLeak): leaky's emulated goroutineleak profile would prove the leak at
            # once (GoroutineLeakProved, unit-tested in tests/prometheus).
            job("shop", [leak_addr], goroutineleak={"poll": "never"}),
            job("inventory", [healthy.addr], goroutineleak={"poll": "never"}),
            scrape_interval=POLL, detection=DETECTION))

        # Prometheus with the shipped scrape config and rules.
        prom_port = harness.free_port()
        prom_cfg = self.write_config(
            prometheus_config(f"127.0.0.1:{d.port}", f"127.0.0.1:{am_port}"), "prometheus.yml")
        prom = self.spawn("prometheus", [
            PROMETHEUS, f"--config.file={prom_cfg}",
            f"--storage.tsdb.path={os.path.join(self.tmp, 'prom-data')}",
            f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"])
        prom_base = f"http://127.0.0.1:{prom_port}"
        self.wait_ready(am, am_base)
        self.wait_ready(prom, prom_base)
        # Prometheus has loaded the shipped rules (every group, every rule).
        r = json.loads(harness.http_get(prom_base + "/api/v1/rules").body)
        names = sorted(rule["name"] for g in r["data"]["groups"] for rule in g["rules"])
        self.assertIn("GoroutineLeak", names)
        self.assertIn("GoroutineLeakTargetDown", names)

        # The leak starts now.
        t0 = time.monotonic()
        leaking = self.start_target("leaky", "-leak-every", LEAK_EVERY, "-leak-batch", str(LEAK_BATCH),
                                    "-kind", "chansend", "-baseline", "3", name="leaking", listen=leak_addr)
        self.assertEqual(leaking.addr, leak_addr)

        leakwatch_firing: list[float] = []

        def leak_alert():
            for p in (am, prom, d.proc, healthy.proc, leaking.proc):
                if not p.alive():
                    raise Fatal(f"{p.name} exited with {p.popen.returncode}")
            if not leakwatch_firing:
                try:
                    if d.value("leakwatch_stack_alert_state", target=leak_addr, function="main.leakChanSend") == 2:
                        leakwatch_firing.append(time.monotonic())
                except (OSError, AssertionError):
                    pass
            for t, status, a in hook.alerts():
                lab = a.get("labels", {})
                if lab.get("alertname") == "GoroutineLeak" and a.get("status") == "firing" \
                        and lab.get("target") == leak_addr:
                    return t, a
            return None

        t_hook, alert = harness.wait_until(
            leak_alert, ALERT_TIMEOUT, "GoroutineLeak for the leaking target at the webhook", 0.2)

        # Timing, with the intervals that produced it.
        lw_s = f"{leakwatch_firing[0] - t0:.1f} s" if leakwatch_firing else "not observed"
        det = ", ".join(f"{k} {v}" for k, v in DETECTION.items())
        sys.stderr.write(
            f"\nleak start -> GoroutineLeak at the webhook: {t_hook - t0:.1f} s "
            f"(leakwatch's stack alert firing after {lw_s})\n"
            f"  leak: {LEAK_BATCH} goroutine per {LEAK_EVERY}; leakwatch: poll {POLL}, detection {det}; "
            f"Prometheus: scrape and evaluation {PROM_INTERVAL}, shipped rules (GoroutineLeak has no for:); "
            f"Alertmanager: group_wait 1s, group_interval 1s\n")
        sys.stderr.flush()

        # The alert names the right target and the leak site.
        labels, ann = alert["labels"], alert["annotations"]
        self.assertEqual(labels.get("service"), "shop")
        self.assertEqual(labels.get("function"), "main.leakChanSend")
        self.assertRegex(labels.get("location", ""), r"leaky/main\.go:\d+$")
        self.assertRegex(labels.get("signature", ""), r"^[0-9a-f]{16}$")
        self.assertEqual(labels.get("severity"), "warning")
        self.assertEqual(labels.get("job"), "leakwatch")  # the shipped scrape config's job
        self.assertEqual(labels.get("instance"), f"127.0.0.1:{d.port}")
        self.assertIn("main.leakChanSend", ann.get("summary", ""))
        self.assertIn(leak_addr, ann.get("summary", ""))

        # The runbook command in the description works and shows the leaking group.
        cmd = f"leakwatch analyze 'http://{leak_addr}/debug/pprof/goroutine?debug=2' --stacks"
        self.assertIn(cmd, ann.get("description", ""))
        res = self.run_leakwatch("analyze", f"http://{leak_addr}/debug/pprof/goroutine?debug=2", "--stacks")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("main.leakChanSend", res.stdout)
        self.assertIn(labels["signature"], res.stdout)

        # The healthy target raised nothing: no notification names it, and Prometheus never had an alert for
        # it in any state (pending included), although it scraped its series all along.
        for _, _, a in hook.alerts():
            self.assertNotEqual(a.get("labels", {}).get("target"), healthy.addr, f"alert for the healthy target: {a}")
            self.assertEqual(a.get("labels", {}).get("target"), leak_addr, f"unexpected alert: {a}")
        self.assertTrue(self.prom_query(prom_base, f'leakwatch_goroutines{{target="{healthy.addr}"}}'),
                        "Prometheus has no series of the healthy target")
        self.assertTrue(self.prom_query(prom_base, f'leakwatch_stack_alert_state{{target="{healthy.addr}"}}'),
                        "Prometheus has no stack series of the healthy target")
        self.assertEqual(self.prom_query(prom_base, f'count_over_time(ALERTS{{target="{healthy.addr}"}}[10m])'), [])
        # ... and the query can see alerts: the leaking target's is there.
        self.assertTrue(self.prom_query(prom_base, f'count_over_time(ALERTS{{target="{leak_addr}"}}[10m])'))


if __name__ == "__main__":
    missing = [n for n, p in (("prometheus", PROMETHEUS), ("prometheus-alertmanager", ALERTMANAGER)) if p is None]
    if missing:
        # scripts/setup.sh installs them; a skip would let a broken rule or config through unnoticed.
        print(f"not found: {', '.join(missing)}: install the Debian packages prometheus and "
              "prometheus-alertmanager (scripts/setup.sh does)", file=sys.stderr)
        sys.exit(1)
    harness.main()
