#!/usr/bin/env python3
"""The Kubernetes manifests (deploy/kubernetes/), the Dockerfile and the scripts it runs.

Checks what a cluster or a container engine would only reveal later: probes, resources and the non-root
security context of every leakwatch container; every embedded config passes `leakwatch check-config`; the
PrometheusRules are up to date with deploy/prometheus/rules/leakwatch.rules.yml; RBAC is exactly pods
get/list/watch; --shard.total matches the StatefulSet's replicas; the PodMonitors select the pods and port;
the Dockerfile has one package list, runs as non-root and exposes 9863, and the libraries its runtime stage
copies are all the binary needs.

    test_manifests.py --leakwatch PATH [unittest arguments]

Needs PyYAML (Debian python3-yaml, in scripts/packages-test.txt). Renders each kustomization with
`kubectl kustomize` when kubectl is installed (it works offline; `kubectl apply --dry-run` needs an API
server, so it is not used); without kubectl that one check is skipped and the test says so.
"""

import sys

sys.dont_write_bytecode = True  # importing scripts/gen-prometheusrule.py must not leave __pycache__ behind

import argparse
import importlib.util
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/kubernetes"
MODES = ("sidecar", "central")
RULES = ROOT / "deploy/prometheus/rules/leakwatch.rules.yml"
PORT = 9863
PORT_NAME = "leakwatch"
UID = 65532
LEAKWATCH = None  # set from --leakwatch


def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def manifests(mode):
    """Every object of a mode's kustomization, by (kind, name)."""
    out = {}
    for name in kustomization(mode)["resources"]:
        for doc in load_docs(K8S / mode / name):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in out, f"{mode}: {key} defined twice"
            out[key] = doc
    return out


def kustomization(mode):
    (doc,) = load_docs(K8S / mode / "kustomization.yaml")
    return doc


def of_kind(objs, kind):
    return [o for k, o in objs.items() if k[0] == kind]


def workloads(objs):
    return of_kind(objs, "Deployment") + of_kind(objs, "StatefulSet")


def leakwatch_containers(workload):
    return [c for c in workload["spec"]["template"]["spec"]["containers"] if c["image"].startswith("leakwatch")]


def flag(args, name):
    """The value of --name=VALUE in a container's args, or None."""
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    assert len(values) <= 1, f"--{name} given {len(values)} times"
    return values[0] if values else None


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_prometheusrule", ROOT / "scripts/gen-prometheusrule.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Kustomizations(unittest.TestCase):
    def test_every_manifest_is_listed_and_exists(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                listed = kustomization(mode)["resources"]
                for name in listed:
                    self.assertTrue((K8S / mode / name).is_file(), f"{mode}/{name} is listed but missing")
                on_disk = {p.name for p in (K8S / mode).glob("*.yaml")} - {"kustomization.yaml", "example-app.yaml"}
                self.assertEqual(sorted(on_disk - set(listed)), [], f"{mode}: files not in kustomization.yaml")
                manifests(mode)  # parses, and no object is defined twice

    def test_kubectl_kustomize_renders(self):
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            self.skipTest("kubectl not installed (it is not a Debian bookworm package): kustomize rendering "
                          "not checked")
        for mode in MODES:
            with self.subTest(mode=mode):
                r = subprocess.run([kubectl, "kustomize", str(K8S / mode)], capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                rendered = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(r.stdout) if d}
                self.assertEqual(rendered, set(manifests(mode)))
                namespace = kustomization(mode).get("namespace")
                for d in yaml.safe_load_all(r.stdout):
                    if namespace and d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                        self.assertEqual(d["metadata"].get("namespace"), namespace, d["kind"])


class LeakwatchContainers(unittest.TestCase):
    def each(self):
        found = 0
        for mode in MODES:
            objs = manifests(mode)
            for w in workloads(objs):
                for c in leakwatch_containers(w):
                    found += 1
                    yield mode, objs, w, c
        self.assertEqual(found, 2, "one leakwatch container per mode")

    def test_probes_on_the_leakwatch_port(self):
        for mode, _, w, c in self.each():
            with self.subTest(mode=mode, workload=w["metadata"]["name"]):
                ports = {p.get("name"): p["containerPort"] for p in c["ports"]}
                self.assertEqual(ports.get(PORT_NAME), PORT)
                self.assertEqual(flag(c["args"], "web.listen-address"), f":{PORT}")
                for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
                    get = c[probe]["httpGet"]
                    self.assertEqual(get["path"], path, probe)
                    self.assertIn(get["port"], (PORT_NAME, PORT), probe)

    def test_resources_have_requests_and_limits(self):
        for mode, _, w, c in self.each():
            with self.subTest(mode=mode):
                res = c["resources"]
                for kind in ("requests", "limits"):
                    self.assertEqual(set(res[kind]), {"cpu", "memory"}, kind)
                self.assertLessEqual(mebibytes(res["requests"]["memory"]), mebibytes(res["limits"]["memory"]))
                self.assertLessEqual(millicores(res["requests"]["cpu"]), millicores(res["limits"]["cpu"]))
                # The measured peak RSS is 12.2 MB; a limit below that would OOM-kill leakwatch at once.
                self.assertGreaterEqual(mebibytes(res["limits"]["memory"]), 32)

    def test_non_root_security_context(self):
        for mode, _, w, c in self.each():
            with self.subTest(mode=mode):
                sc = c["securityContext"]
                self.assertIs(sc["runAsNonRoot"], True)
                self.assertEqual(sc["runAsUser"], UID)
                self.assertIs(sc["readOnlyRootFilesystem"], True)
                self.assertIs(sc["allowPrivilegeEscalation"], False)
                self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
                self.assertNotIn("add", sc["capabilities"])
                self.assertEqual(sc["seccompProfile"]["type"], "RuntimeDefault")
                self.assertNotIn("privileged", sc)

    def configs(self):
        """(mode, text of the leakwatch.yml the container reads) for each leakwatch container."""
        for mode, objs, w, c in self.each():
            path = flag(c["args"], "config.file")
            mounts = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
            self.assertEqual(len(mounts), 1, f"{mode}: no volume holds {path}")
            self.assertIs(mounts[0].get("readOnly"), True)
            self.assertNotIn("subPath", mounts[0], "a subPath mount never sees ConfigMap updates")
            (volume,) = [v for v in w["spec"]["template"]["spec"]["volumes"] if v["name"] == mounts[0]["name"]]
            cm = objs[("ConfigMap", volume["configMap"]["name"])]
            key = path[len(mounts[0]["mountPath"].rstrip("/")) + 1:]
            yield mode, cm["data"][key]

    def test_configs_pass_check_config(self):
        for mode, text in self.configs():
            with self.subTest(mode=mode), tempfile.TemporaryDirectory() as tmp:
                path = pathlib.Path(tmp) / "leakwatch.yml"
                path.write_text(text, encoding="utf-8")
                r = subprocess.run([LEAKWATCH, "check-config", str(path)], capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(r.returncode, 0, f"leakwatch check-config on {mode}/configmap.yaml:\n"
                                 f"{r.stdout}{r.stderr}")

    def test_sidecar_polls_its_own_pod_and_central_discovers_pods(self):
        configs = {mode: yaml.safe_load(text) for mode, text in self.configs()}
        (job,) = configs["sidecar"]["scrape_configs"]
        self.assertEqual([t for s in job["static_configs"] for t in s["targets"]], ["localhost:6060"])
        self.assertNotIn("kubernetes_sd_configs", job)
        (job,) = configs["central"]["scrape_configs"]
        self.assertEqual([sd["role"] for sd in job["kubernetes_sd_configs"]], ["pod"])
        self.assertNotIn("static_configs", job)


class Central(unittest.TestCase):
    def setUp(self):
        self.objs = manifests("central")
        (self.sts,) = of_kind(self.objs, "StatefulSet")
        self.assertEqual(workloads(self.objs), [self.sts])

    def test_shard_total_equals_replicas(self):
        (c,) = leakwatch_containers(self.sts)
        self.assertEqual(flag(c["args"], "shard.total"), str(self.sts["spec"]["replicas"]))
        # The index comes from each pod's hostname (leakwatch-<ordinal>): a fixed one would give every
        # replica the same shard.
        self.assertIsNone(flag(c["args"], "shard.index"))
        self.assertGreater(self.sts["spec"]["replicas"], 1)

    def test_cluster_role_is_exactly_pods_get_list_watch(self):
        (role,) = of_kind(self.objs, "ClusterRole")
        self.assertEqual(of_kind(self.objs, "Role"), [])
        self.assertEqual(role["rules"], [{"apiGroups": [""], "resources": ["pods"],
                                          "verbs": ["get", "list", "watch"]}])
        self.assertNotIn("aggregationRule", role)

    def test_binding_gives_the_role_to_the_statefulsets_service_account(self):
        (binding,) = of_kind(self.objs, "ClusterRoleBinding")
        (role,) = of_kind(self.objs, "ClusterRole")
        (account,) = of_kind(self.objs, "ServiceAccount")
        self.assertEqual(of_kind(self.objs, "RoleBinding"), [])
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                              "name": role["metadata"]["name"]})
        self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                                "namespace": kustomization("central")["namespace"]}])
        self.assertEqual(self.sts["spec"]["template"]["spec"]["serviceAccountName"], account["metadata"]["name"])

    def test_headless_service_governs_the_statefulset(self):
        (svc,) = of_kind(self.objs, "Service")
        self.assertEqual(svc["spec"]["clusterIP"], "None")
        self.assertEqual(self.sts["spec"]["serviceName"], svc["metadata"]["name"])
        self.assertLessEqual(svc["spec"]["selector"].items(), self.sts["spec"]["template"]["metadata"]["labels"].items())
        self.assertEqual(self.sts["spec"]["selector"]["matchLabels"].items()
                         - self.sts["spec"]["template"]["metadata"]["labels"].items(), set())
        (port,) = svc["spec"]["ports"]
        self.assertEqual((port["port"], port["targetPort"]), (PORT, PORT_NAME))

    def test_example_app_annotations(self):
        docs = load_docs(K8S / "central/example-app.yaml")
        (app,) = [d for d in docs if d["kind"] == "Deployment"]
        tmpl = app["spec"]["template"]
        ann = tmpl["metadata"]["annotations"]
        self.assertEqual(ann["leakwatch.io/scrape"], "true")  # a YAML string, as the API requires
        pprof = [p["containerPort"] for c in tmpl["spec"]["containers"] for p in c.get("ports", [])
                 if p.get("name") == "pprof"]
        self.assertEqual([str(p) for p in pprof], [ann["leakwatch.io/port"]])
        self.assertTrue(ann["leakwatch.io/path"].startswith("/"))
        # The NetworkPolicy lets the leakwatch replicas in: its selector matches their pod labels.
        (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy"]
        sources = [f for rule in policy["spec"]["ingress"] for f in rule.get("from", [])]
        sts_labels = self.sts["spec"]["template"]["metadata"]["labels"]
        self.assertTrue(any(f["podSelector"]["matchLabels"].items() <= sts_labels.items() and
                            f["namespaceSelector"]["matchLabels"] ==
                            {"kubernetes.io/metadata.name": kustomization("central")["namespace"]}
                            for f in sources))


class Monitoring(unittest.TestCase):
    def test_pod_monitors_select_the_leakwatch_pods_and_port(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                objs = manifests(mode)
                (pm,) = of_kind(objs, "PodMonitor")
                selector = pm["spec"]["selector"]["matchLabels"]
                (w,) = [w for w in workloads(objs) if leakwatch_containers(w)]
                labels = w["spec"]["template"]["metadata"]["labels"]
                self.assertLessEqual(selector.items(), labels.items(), "the PodMonitor selects no leakwatch pod")
                (endpoint,) = pm["spec"]["podMetricsEndpoints"]
                self.assertEqual(endpoint["port"], PORT_NAME)
                self.assertEqual(endpoint.get("path", "/metrics"), "/metrics")
                # LeakwatchDown reads up{job="leakwatch"}.
                self.assertIn('up{job="leakwatch"}', RULES.read_text(encoding="utf-8"))
                self.assertIn({"action": "replace", "targetLabel": "job", "replacement": "leakwatch"},
                              endpoint["relabelings"])

    def test_prometheus_rules_are_up_to_date(self):
        gen = load_generator()
        want = gen.render(RULES.read_text(encoding="utf-8"))
        groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
        self.assertEqual(sorted(o.relative_to(K8S).as_posix() for o in gen.OUTPUTS),
                         [f"{m}/prometheusrule.yaml" for m in sorted(MODES)])
        for mode in MODES:
            with self.subTest(mode=mode):
                path = K8S / mode / "prometheusrule.yaml"
                self.assertEqual(path.read_text(encoding="utf-8"), want,
                                 f"{path.relative_to(ROOT)} is stale: run scripts/gen-prometheusrule.py")
                (rule,) = of_kind(manifests(mode), "PrometheusRule")
                self.assertEqual(rule["apiVersion"], "monitoring.coreos.com/v1")
                self.assertEqual(rule["spec"]["groups"], groups)


class Dockerfile(unittest.TestCase):
    def setUp(self):
        self.text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
        # Instructions, with continuation lines joined and comments dropped.
        joined = re.sub(r"\\\n", " ", "\n".join(l for l in self.text.splitlines() if not l.lstrip().startswith("#")))
        self.instructions = [l.strip() for l in joined.splitlines() if l.strip()]
        starts = [i for i, l in enumerate(self.instructions) if l.upper().startswith("FROM ")]
        self.stages = [self.instructions[a:b] for a, b in zip(starts, starts[1:] + [len(self.instructions)])]

    def test_build_stage_installs_only_the_build_list(self):
        self.assertEqual(sorted(p.name for p in (ROOT / "scripts").glob("*packages*")),
                         ["packages-bench.txt", "packages-build.txt", "packages-test.txt"])
        self.assertNotIn("runtime-packages", self.text)
        build, runtime = self.stages
        self.assertEqual(build[0].split()[1:], ["debian:bookworm", "AS", "build"])
        self.assertEqual(runtime[0].split()[1:], ["debian:bookworm-slim"])
        runs = [l for l in build if l.startswith("RUN ")]
        (setup,) = [l for l in runs if "scripts/setup.sh" in l]
        self.assertEqual(shlex.split(setup[len("RUN "):].split("&&")[0]), ["scripts/setup.sh", "build"])
        self.assertIn("scripts/build.sh", " ".join(runs))   # the build CI runs
        # The build stage configures without the tests, whose tools (catch2, promtool, go) it does not install.
        self.assertIn('ENV LEAKWATCH_CMAKE_ARGS="-DLEAKWATCH_BUILD_TESTS=OFF"', build)
        build_list = (ROOT / "scripts/packages-build.txt").read_text()
        for tool in ("catch2", "prometheus", "golang-go", "libbenchmark-dev", "clang"):
            self.assertNotRegex(build_list, rf"(?m)^{re.escape(tool)}$")
        self.assertNotIn("apt-get", " ".join(runs))
        for l in runtime:
            self.assertNotRegex(l, r"apt-get|apt |dpkg -i", "the runtime stage installs no packages")

    def test_runs_as_non_root_and_exposes_the_port(self):
        _, runtime = self.stages
        users = [l.split()[1] for l in runtime if l.startswith("USER ")]
        self.assertEqual(users[-1], f"{UID}:{UID}")
        self.assertIn(f"EXPOSE {PORT}", runtime)
        self.assertIn("COPY config/leakwatch.yml /etc/leakwatch/leakwatch.yml", runtime)
        (cmd,) = [l for l in runtime if l.startswith("CMD ")]
        self.assertIn("--config.file=/etc/leakwatch/leakwatch.yml", cmd)
        self.assertIn(f"--web.listen-address=:{PORT}", cmd)

    def test_build_sh_builds_only_the_named_targets(self):
        # The Dockerfile's `scripts/build.sh DIR release leakwatch`, with a stub cmake that records its calls.
        (line,) = [l for l in self.stages[0] if "scripts/build.sh" in l]
        call = shlex.split(line[len("RUN "):].split("&&")[0])
        self.assertEqual(call[0], "scripts/build.sh")
        with tempfile.TemporaryDirectory() as tmp:
            log = pathlib.Path(tmp) / "calls"
            stub = pathlib.Path(tmp) / "cmake"
            stub.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
            stub.chmod(0o755)
            env = dict(os.environ, PATH=f"{tmp}:{os.environ['PATH']}")
            for args, want in ((call[1:], "--target leakwatch"), (["/x", "release"], None)):
                log.unlink(missing_ok=True)
                subprocess.run([str(ROOT / "scripts/build.sh"), *args], env=env, check=True, timeout=30)
                configure, build = log.read_text().splitlines()
                self.assertIn("-DCMAKE_BUILD_TYPE=Release", configure)
                if want:
                    self.assertTrue(build.endswith(want), build)
                else:
                    self.assertNotIn("--target", build)
            # LEAKWATCH_CMAKE_ARGS (the Dockerfile's and the demo's tests-off switch) reaches the configure step.
            log.unlink(missing_ok=True)
            subprocess.run([str(ROOT / "scripts/build.sh"), "/x", "release", "leakwatch"], check=True, timeout=30,
                           env=dict(env, LEAKWATCH_CMAKE_ARGS="-DLEAKWATCH_BUILD_TESTS=OFF -DFOO=1"))
            configure = log.read_text().splitlines()[0].split()
            self.assertIn("-DLEAKWATCH_BUILD_TESTS=OFF", configure)
            self.assertIn("-DFOO=1", configure)
            r = subprocess.run([str(ROOT / "scripts/build.sh"), "/x", "bogus"], env=env, capture_output=True,
                               timeout=30)
            self.assertEqual(r.returncode, 2)

    def test_collected_libraries_are_all_the_binary_needs(self):
        # What the runtime stage does, on this machine: collect the libraries, then run the binary with
        # glibc plus those alone, as uid 65532, in a chroot whose ld.so.conf names them (as the image's does).
        with tempfile.TemporaryDirectory() as tmp:
            libs = pathlib.Path(tmp) / "libs"
            subprocess.run([str(ROOT / "scripts/collect-runtime-libs.sh"), LEAKWATCH, str(libs)], check=True,
                           capture_output=True, timeout=60)
            collected = {p.name for p in libs.iterdir()}
            ldd = subprocess.run(["ldd", LEAKWATCH], capture_output=True, text=True, check=True).stdout
            glibc = []
            for line in ldd.splitlines():
                parts = line.split()
                if "=>" in parts and parts[2].startswith("/"):
                    if parts[0] not in collected:
                        glibc.append(parts[2])
                        self.assertRegex(parts[0], r"^(libc|libm|libmvec|libpthread|libdl|librt|libresolv|"
                                                   r"libutil|libanl)\.so\.")
                elif parts and parts[0].startswith("/"):
                    glibc.append(parts[0])  # the loader
            self.assertIn("libyaml-cpp.so.0.7", collected)
            self.assertIn("libprometheus-cpp-core.so.1.0", collected)
            sanitized = any(n.startswith(("libasan", "libtsan", "libubsan")) for n in collected)
            chroot = shutil.which("chroot") or "/usr/sbin/chroot"
            ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
            if os.geteuid() != 0 or not os.access(chroot, os.X_OK) or sanitized:
                # A sanitizer runtime needs /proc, which the bare chroot lacks; the ldd check above still ran.
                self.skipTest("chroot run needs root and an unsanitized binary")
            root = pathlib.Path(tmp) / "root"
            for path in glibc:
                dest = root / path.lstrip("/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
            shutil.copytree(libs, root / "usr/local/lib/leakwatch")
            (root / "usr/local/bin").mkdir(parents=True)
            shutil.copy2(LEAKWATCH, root / "usr/local/bin/leakwatch")
            (root / "etc/ld.so.conf.d").mkdir(parents=True)
            (root / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n")
            (root / "etc/ld.so.conf.d/leakwatch.conf").write_text("/usr/local/lib/leakwatch\n")
            (root / "etc/leakwatch").mkdir()
            shutil.copy2(ROOT / "config/leakwatch.yml", root / "etc/leakwatch/leakwatch.yml")
            subprocess.run([ldconfig, "-r", str(root)], check=True, timeout=60)
            r = subprocess.run([chroot, f"--userspec={UID}:{UID}", str(root), "/usr/local/bin/leakwatch",
                                "check-config", "/etc/leakwatch/leakwatch.yml"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


def mebibytes(q):
    m = re.fullmatch(r"(\d+)(Mi|Gi)", q)
    assert m, f"memory quantity {q!r}: use Mi or Gi"
    return int(m[1]) * (1024 if m[2] == "Gi" else 1)


def millicores(q):
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--leakwatch", required=True, help="the leakwatch binary (for check-config)")
    args, rest = parser.parse_known_args()
    LEAKWATCH = os.path.abspath(args.leakwatch)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
