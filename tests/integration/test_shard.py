#!/usr/bin/env python3
"""Sharding: two daemons with --shard.total=2 and --shard.index=0/1 over the same config split its targets,
each (job, target) polled by exactly one of them: the one its stable hash names. Bad shard flags are refused."""

import sys

sys.dont_write_bytecode = True  # importing harness must not leave __pycache__ in the source tree

import socket

import harness
from harness import Daemon, IntegrationTest, config, job

MASK = (1 << 64) - 1


def stable_hash(key: str) -> int:
    """lib/common's stable_hash: FNV-1a, then the SplitMix64 finalizer."""
    h = 14695981039346656037
    for b in key.encode():
        h = ((h ^ b) * 1099511628211) & MASK
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & MASK
    h ^= h >> 31
    return h


def shard_of(job_name: str, target: str, total: int) -> int:
    return stable_hash(f"{job_name}/{target}") % total


class Shard(IntegrationTest):
    def start_replica(self, cfg_path: str, index: int, total: int) -> Daemon:
        port = harness.free_port()
        p = self.spawn(f"leakwatch-{index}", [harness.OPTS.leakwatch, f"--config.file={cfg_path}",
                                              f"--web.listen-address=127.0.0.1:{port}", "--log.level=debug",
                                              f"--shard.total={total}", f"--shard.index={index}"])
        d = Daemon(p, port, cfg_path)

        def up():
            if not p.alive():
                raise harness.Fatal(f"leakwatch-{index} exited with {p.popen.returncode}")
            return d.status("/-/ready", timeout=1.0) == 200

        harness.wait_until(up, 15, f"leakwatch-{index} to be ready")
        return d

    def polled(self, d: Daemon) -> set[tuple[str, str]]:
        """(service, target) pairs that have a poll loop: every loop exports leakwatch_scrapes_total once it polled."""
        out = set()
        for ls in harness.select(d.metrics(), "leakwatch_scrape_success"):
            labels = dict(ls)
            out.add((labels["service"], labels["target"]))
        return out

    def test_two_replicas_split_the_targets(self):
        targets = [self.start_target("leaky", name=f"leaky{i}").addr for i in range(3)]
        jobs = ["alpha", "beta"]
        cfg = self.write_config(config(*(job(name, targets, interval="1s", timeout="500ms") for name in jobs)))
        keys = {(j, t) for j in jobs for t in targets}
        want = [{k for k in keys if shard_of(k[0], k[1], 2) == i} for i in range(2)]

        replicas = [self.start_replica(cfg, i, 2) for i in range(2)]
        for i, d in enumerate(replicas):
            harness.wait_until(lambda: self.polled(d) == want[i], 15,
                               f"replica {i} to poll exactly {sorted(want[i])}")
            for j in jobs:
                self.assertEqual(d.value("leakwatch_targets", service=j),
                                 sum(1 for k in want[i] if k[0] == j), f"replica {i} leakwatch_targets{{{j}}}")
        # A few more rounds: still exactly one poller per target.
        harness.wait_until(lambda: all(
            min((v for (n, ls), v in d.metrics().items()
                 if n == "leakwatch_scrapes_total" and ("result", "success") in ls), default=3) >= 3
            for d in replicas), 15, "every target polled at least 3 times by its replica")
        got = [self.polled(d) for d in replicas]
        self.assertEqual(got, want)
        self.assertEqual(got[0] & got[1], set())
        self.assertEqual(got[0] | got[1], keys)

    def test_bad_shard_flags_are_refused(self):
        cfg = self.write_config(config(job("app", ["127.0.0.1:9"])))
        r = self.run_leakwatch(f"--config.file={cfg}", "--shard.total=2", "--shard.index=2",
                               "--web.listen-address=127.0.0.1:0")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--shard.index=2 must be below --shard.total=2", r.stderr)
        r = self.run_leakwatch(f"--config.file={cfg}", "--shard.total=0", "--web.listen-address=127.0.0.1:0")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--shard.total must be a whole number", r.stderr)
        if not socket.gethostname().rsplit("-", 1)[-1].isdigit():
            # Not a StatefulSet pod: the index cannot be guessed from the hostname.
            r = self.run_leakwatch(f"--config.file={cfg}", "--shard.total=2", "--web.listen-address=127.0.0.1:0")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("needs --shard.index", r.stderr)


if __name__ == "__main__":
    harness.main()
