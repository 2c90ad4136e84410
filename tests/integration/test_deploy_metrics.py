#!/usr/bin/env python3
"""The shipped alerting rules (deploy/prometheus/rules/) and Grafana dashboard (deploy/grafana/) query only
metrics that leakwatch really exports, and every dashboard query works in a real Prometheus.

leakwatch runs with a leaking target (goroutine_limit set, so the time-to-limit series exists), a
goroutineleak job (leakwatch_leaked_*) and a dead target (failed polls). The test
  1. collects every `leakwatch_*` name in the rules file (expressions and annotation queries) and in the
     dashboard's queries and template variables, and asserts each one is a series name in /metrics;
  2. asserts `promtool check metrics` is clean on that output;
  3. starts the real Prometheus (Debian package) from the shipped scrape config with the shipped rules,
     and asserts every rule evaluates without error and every dashboard query (Grafana variables replaced)
     is valid PromQL that returns data.
Loopback only, bounded waits, processes stopped by PID, the temporary directory removed. Fails (does not skip)
when prometheus or promtool is not installed.
"""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import json
import os
import re
import shutil
import subprocess
import urllib.parse

import harness
from harness import Fatal, IntegrationTest, config, job
from test_alertmanager_e2e import PROMETHEUS, RULES, prometheus_config

DASHBOARD = os.path.join(harness.SOURCE_DIR, "deploy", "grafana", "leakwatch-dashboard.json")
PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if os.access("/usr/bin/promtool", os.X_OK) else None)
METRIC = re.compile(r"leakwatch_[a-z_]+")

# Grafana's variables, as the dashboard's "All" selection and a 1 s scrape interval expand them.
GRAFANA_VARS = {"$service": ".*", "$target": ".*", "$__rate_interval": "1m", "$__interval": "1s", "$__range": "5m"}
LABEL_VALUES = re.compile(r"^label_values\((.*),\s*[a-zA-Z_]+\)$")


def dashboard_queries(node, key: str = "") -> list[str]:
    """Every PromQL expression in the dashboard: panel targets' `expr` and template variables' queries."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += dashboard_queries(v, k)
    elif isinstance(node, list):
        for v in node:
            out += dashboard_queries(v, key)
    elif isinstance(node, str) and key in ("expr", "query", "definition") \
            and ("leakwatch_" in node or "ALERTS" in node):
        m = LABEL_VALUES.match(node)
        out.append(m.group(1) if m else node)
    return out


def expand(expr: str) -> str:
    for var, val in GRAFANA_VARS.items():
        expr = expr.replace(var, val)
    return expr


README = os.path.join(harness.SOURCE_DIR, "README.md")


def readme_section(title: str) -> str:
    with open(README) as f:
        text = f.read()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def readme_metrics() -> set[str]:
    """Metric names in the first column of the README's Metrics table."""
    return set(re.findall(r"^\| `(leakwatch_[a-z_]+)", readme_section("Metrics"), re.M))


def readme_alerts() -> set[str]:
    """Alert names in the first column of the alerts table under "Scraping leakwatch with Prometheus"."""
    names: set[str] = set()
    for row in re.findall(r"^\| (`[A-Z].*?) \|", readme_section("Scraping leakwatch with Prometheus"), re.M):
        names |= set(re.findall(r"`([A-Z][A-Za-z]+)`", row))
    return names


class DeployMetrics(IntegrationTest):
    def test_rules_and_dashboard_use_real_metrics(self):
        with open(RULES) as f:
            rules_text = f.read()
        with open(DASHBOARD) as f:
            dashboard = json.load(f)  # also: the dashboard is valid JSON
        queries = sorted(set(dashboard_queries(dashboard)))
        rule_names = set(METRIC.findall(rules_text))
        dash_names = set(METRIC.findall("\n".join(queries)))
        # The extraction found something: every leak alert's metric and the dashboard's essentials.
        self.assertTrue({"leakwatch_stack_alert_state", "leakwatch_scrape_success",
                         "leakwatch_goroutines_limit_eta_seconds"} <= rule_names, rule_names)
        self.assertTrue({"leakwatch_goroutines", "leakwatch_stack_growth_per_second",
                         "leakwatch_stack_alert_state", "leakwatch_targets"} <= dash_names, dash_names)
        self.assertTrue(all(p.get("type") == "row" or p.get("targets") for p in dashboard["panels"]),
                        "a dashboard panel without queries")

        # leakwatch with every kind of series.
        leaky = self.start_target("leaky", "-leak-every", "1s", "-leak-batch", "2", "-baseline", "3", name="leaky")
        dead = f"127.0.0.1:{harness.free_port()}"  # nothing listens there
        # A plain-HTTP web config (headers only), so the port's own series are exported too.
        web = self.write_config("http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
                                "web.yml")
        d = self.start_daemon(config(
            # The runtime's proof (leaky's emulation here) every 2 s, so leaked groups show up.
            job("shop", [leaky.addr], labels={"team": "payments"}, goroutineleak={"interval": "2s"}),
            job("shop-leaks", [leaky.addr], profile="goroutineleak"),
            job("dead", [dead]),
            detection={"window": "2m", "min_duration": "15s", "min_samples": 8, "for": "10s", "warmup": "0s",
                       "goroutine_limit": 100000}), f"--web.config.file={web}")

        missing: list[str] = []

        def all_present():
            if not d.proc.alive():
                raise Fatal(f"leakwatch exited with {d.proc.popen.returncode}")
            names = {n for n, _ in d.metrics()}
            missing[:] = sorted((rule_names | dash_names) - names)
            return not missing

        try:
            harness.wait_until(all_present, 60, "every metric of the rules and the dashboard in /metrics", 0.5)
        except Fatal:
            raise
        except AssertionError as e:
            raise AssertionError(f"{e}\nnot in /metrics: {missing}") from None
        # The README's metrics reference is the exported set, no more and no less, and its alerts table
        # names exactly the shipped rules.
        exported = {n for n, _ in d.metrics() if n.startswith("leakwatch_")}
        documented = readme_metrics()
        self.assertEqual(sorted(documented - exported), [], "in the README's Metrics table but not exported")
        self.assertEqual(sorted(exported - documented), [], "exported but missing from the README's Metrics table")
        self.assertEqual(readme_alerts(), set(re.findall(r"^\s*- alert:\s*(\w+)", rules_text, re.M)),
                         "the README's alerts table and the rules file disagree")

        text = d.metrics_text()
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""), f"/metrics was:\n{text}")

        # The real Prometheus, scraping leakwatch with the shipped config and rules.
        port = harness.free_port()
        cfg = self.write_config(prometheus_config(f"127.0.0.1:{d.port}", None), "prometheus.yml")
        prom = self.spawn("prometheus", [
            PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={os.path.join(self.tmp, 'prom-data')}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"])
        base = f"http://127.0.0.1:{port}"

        def get_json(path: str):
            if not prom.alive():
                raise Fatal(f"prometheus exited with {prom.popen.returncode}")
            resp = harness.http_get(base + path)
            return resp.status, json.loads(resp.body)

        def ready():
            if not prom.alive():
                raise Fatal(f"prometheus exited with {prom.popen.returncode}")
            return harness.http_status(base + "/-/ready", 1.0) == 200

        harness.wait_until(ready, 30, "prometheus /-/ready")

        def rules_ok():
            _, body = get_json("/api/v1/rules")
            rules = [r for g in body["data"]["groups"] for r in g["rules"]]
            bad = {r["name"]: (r.get("health"), r.get("lastError")) for r in rules if r.get("health") != "ok"}
            if any(err for _, err in bad.values()):
                raise Fatal(f"rules failing to evaluate: {bad}")
            return len(rules) if rules and not bad else None

        n_rules = harness.wait_until(rules_ok, 30, "every shipped rule evaluated without error", 0.5)
        self.assertGreaterEqual(n_rules, 4)

        pending = {q: "not run" for q in queries}

        def dashboard_ok():
            for q in list(pending):
                status, body = get_json("/api/v1/query?" + urllib.parse.urlencode({"query": expand(q)}))
                if status == 400 or body.get("errorType") == "bad_data":
                    raise Fatal(f"dashboard query is not valid PromQL: {q!r}: {body.get('error')}")
                if status == 200 and body["data"]["result"]:
                    del pending[q]
                else:
                    pending[q] = f"{status}: {str(body)[:200]}"
            return not pending or None

        try:
            harness.wait_until(dashboard_ok, 90, "every dashboard query to return data", 1.0)
        except Fatal:
            raise
        except AssertionError:
            raise AssertionError("dashboard queries without data:\n" +
                                 "\n".join(f"  {expand(q)}  -> {why}" for q, why in pending.items())) from None
        self.assertGreaterEqual(len(queries), 20)


if __name__ == "__main__":
    missing = [n for n, p in (("prometheus", PROMETHEUS), ("promtool", PROMTOOL)) if p is None]
    if missing:
        print(f"not found: {', '.join(missing)}: install the Debian package prometheus (scripts/setup.sh does)",
              file=sys.stderr)
        sys.exit(1)
    harness.main()
