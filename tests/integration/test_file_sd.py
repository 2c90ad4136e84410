#!/usr/bin/env python3
"""file_sd_configs against the real daemon: targets come from a JSON file that is edited while leakwatch runs.
A new target is polled within seconds, a removed one loses its series, and a broken file keeps the previous
targets polling. A config reload that leaves the file_sd config alone keeps the file's targets and their series;
a bad reload is refused and says so in leakwatch_config_last_reload_successful."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import json
import os
import signal
import urllib.error
import urllib.request

import harness
from harness import IntegrationTest, config, job


def sd_job(name: str, files: list[str], refresh: str = "1s", **extra) -> dict:
    j = {"job_name": name, "scrape_interval": "1s", "scrape_timeout": "500ms",
         "file_sd_configs": [{"files": files, "refresh_interval": refresh}]}
    j.update(extra)
    return j


class FileSd(IntegrationTest):
    def write_targets(self, name: str, groups) -> str:
        """Replaces the target file atomically (write + rename), as config management tools do."""
        path = os.path.join(self.tmp, name)
        with open(path + ".tmp", "w") as f:
            f.write(groups if isinstance(groups, str) else json.dumps(groups))
        os.replace(path + ".tmp", path)
        return path

    def polled(self, d, service: str) -> set[str]:
        """Targets of `service` that have a leakwatch_scrape_success series."""
        return {dict(ls)["target"] for ls in harness.select(d.metrics(), "leakwatch_scrape_success", service=service)}

    def successes(self, d, **sel) -> float:
        return d.value("leakwatch_scrapes_total", 0.0, result="success", **sel)

    def test_file_edits_add_and_remove_targets_and_a_broken_file_keeps_them(self):
        t1 = self.start_target("leaky", name="leaky1")
        t2 = self.start_target("leaky", name="leaky2")
        path = self.write_targets("targets.json", [{"targets": [t1.addr], "labels": {"team": "one"}}])
        d = self.start_daemon(config(sd_job("files", [os.path.join(self.tmp, "*.json")])))
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, service="files", target=t1.addr,
                         team="one")
        self.assertEqual(d.value("leakwatch_targets", service="files"), 1)

        # An edit adds a second target: polled within a few seconds.
        self.write_targets("targets.json", [{"targets": [t1.addr], "labels": {"team": "one"}},
                                            {"targets": [t2.addr], "labels": {"team": "two"}}])
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, timeout=10, service="files",
                         target=t2.addr, team="two")
        self.assertEqual(d.value("leakwatch_targets", service="files"), 2)
        # The first target was not restarted by the edit: its counter kept counting.
        before = self.successes(d, service="files", target=t1.addr)
        self.assertGreaterEqual(before, 1)

        # Removing the first target removes its series.
        self.write_targets("targets.json", [{"targets": [t2.addr], "labels": {"team": "two"}}])
        harness.wait_until(lambda: self.polled(d, "files") == {t2.addr}, 10, "the first target's series to go")
        self.assertEqual(harness.select(d.metrics(), "leakwatch_scrapes_total", target=t1.addr), {})
        self.assertEqual(d.value("leakwatch_targets", service="files"), 1)

        # A broken file (a syntax error, then a reserved label) keeps the previous targets polling.
        for broken in ('[{"targets": ["' + t1.addr + '"]', [{"targets": [t1.addr], "labels": {"job": "x"}}]):
            self.write_targets("targets.json", broken)
            count = self.successes(d, service="files", target=t2.addr)
            self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= count + 2, timeout=10,
                             service="files", target=t2.addr, result="success")
            self.assertEqual(self.polled(d, "files"), {t2.addr})
        self.assertIn("invalid target file", d.proc.stderr())
        self.assertIn(path + ":1:", d.proc.stderr())  # the warning names the file and line

        # Fixing it is picked up; deleting the file drops its targets.
        self.write_targets("targets.json", [{"targets": [t1.addr, t2.addr]}])
        harness.wait_until(lambda: self.polled(d, "files") == {t1.addr, t2.addr}, 10, "both targets after the fix")
        os.remove(path)
        harness.wait_until(lambda: self.polled(d, "files") == set(), 10, "no targets after the file is deleted")
        self.assertEqual(d.value("leakwatch_targets", service="files"), 0)

    def test_reload_keeps_file_targets_and_refuses_a_bad_config(self):
        t1 = self.start_target("leaky", name="leaky1")
        t2 = self.start_target("leaky", name="leaky2")
        self.write_targets("targets.json", [{"targets": [t1.addr]}])
        files = [os.path.join(self.tmp, "targets.json")]
        d = self.start_daemon(config(sd_job("files", files)), "--web.enable-lifecycle")
        sel = dict(service="files", target=t1.addr)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= 2, result="success", **sel)

        # SIGHUP with a new static job: the file's target keeps its loop and its series (the counter goes on).
        self.write_config(config(sd_job("files", files), job("static", [t2.addr])))
        before = self.successes(d, **sel)
        d.proc.signal(signal.SIGHUP)
        self.wait_metric(d, "leakwatch_scrape_success", lambda v: v == 1, service="static", target=t2.addr)
        self.assertGreaterEqual(self.successes(d, **sel), before)
        self.assertEqual(d.value("leakwatch_config_last_reload_successful"), 1)

        # A bad config is refused over POST /-/reload: 500, the old targets keep polling, and the metric says so.
        self.write_config("scrape_configs:\n  - job_name: files\n    file_sd_configs: [{files: [targets.txt]}]\n")
        req = urllib.request.Request(d.base + "/-/reload", method="POST", data=b"")
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=5) as resp:
                status, body = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read().decode()
        self.assertEqual(status, 500, body)
        self.assertIn("must end in .json, .yml or .yaml", body)
        self.assertEqual(d.value("leakwatch_config_last_reload_successful"), 0)
        count = self.successes(d, **sel)
        self.wait_metric(d, "leakwatch_scrapes_total", lambda v: v >= count + 2, timeout=10, result="success", **sel)
        self.assertEqual(self.polled(d, "static"), {t2.addr})


if __name__ == "__main__":
    harness.main()
