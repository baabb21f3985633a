"""The Helm chart, checked the way a cluster and a reviewer would see it.

`helm lint --strict`, `helm template` for every values file (and with the dev-only
subcharts), each rendered object validated against Kubernetes 1.35's schemas, checkov with
only the commented skips of deploy/helm/checkov.yaml, and plain assertions on what matters:
each service's objects, selectors, probes, resources, lock-down and network allows.
helm and checkov come from `make tools` (.tools/).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from contracts.platform import load_platform
from tongxin.deploygen import relay_command_of, relay_name
from tongxin.natsauth import users

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / ".tools" / "bin" / "helm"
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
DEPLOY = ROOT / "deploy" / "helm"
CHART = DEPLOY / "tongxin"
VALUES_FILES = {"dev": DEPLOY / "values-dev.yaml", "production": DEPLOY / "values-production.yaml"}
KUBE_VERSION = "1.35.0"
NAMESPACE = "tongxin"
RELEASE = "tongxin"
SUBCHARTS_ON = ["--set", "nats.enabled=true", "--set", "postgresql.enabled=true"]

# Every way the chart is rendered: each values file, and production with the subcharts on.
RENDERS: dict[str, tuple[list[Path], list[str]]] = {
    "dev": ([VALUES_FILES["dev"]], []),
    "production": ([VALUES_FILES["production"]], []),
    "production-with-subcharts": ([VALUES_FILES["production"]], SUBCHARTS_ON),
}

Obj = dict[str, Any]


def _tool(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run `make tools`")
    return path


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_tool(HELM)), *args], capture_output=True, text=True, timeout=120, check=False
    )


def template(values: list[Path], extra: list[str]) -> subprocess.CompletedProcess[str]:
    files = [arg for path in values for arg in ("-f", str(path))]
    return helm(
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        *files,
        *extra,
    )


@cache
def rendered_text(case: str) -> str:
    values, extra = RENDERS[case]
    result = template(values, extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def objects(case: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(rendered_text(case)) if doc]


def merge(base: Obj, override: Obj) -> Obj:
    """Helm's merge of a values file over the defaults (maps merge, the rest replaces)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def values_of(case: str) -> Obj:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in RENDERS[case][0]:
        values = merge(values, yaml.safe_load(path.read_text()))
    return values


def find(objs: list[Obj], kind: str, name: str) -> Obj | None:
    for obj in objs:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    return None


def get(objs: list[Obj], kind: str, name: str) -> Obj:
    obj = find(objs, kind, name)
    assert obj is not None, f"no {kind} {name}"
    return obj


def pod_specs(objs: list[Obj]) -> Iterator[tuple[str, Obj]]:
    for obj in objs:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]


def env_of(container: Obj) -> dict[str, Obj]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


CASES = list(RENDERS)
PLATFORM = load_platform()
RELAYS = {relay_name(p): p for p in PLATFORM.services() if p.relay}
FORWARDED = {f.service for f in PLATFORM.gateway().features if f.service}
# The key of the cipher Secret each Deployment reads: a store's own, shared by its relay.
CIPHER_KEYS = {p.name: f"cipher-key-{p.name}" for p in PLATFORM.processes if p.has_store} | {
    name: f"cipher-key-{p.name}" for name, p in RELAYS.items()
}


@pytest.mark.parametrize("case", CASES)
def test_every_process_of_the_manifest_is_a_service_of_the_chart(case: str) -> None:
    services = values_of(case)["services"]
    assert set(services) == {p.name for p in PLATFORM.processes} | set(RELAYS)
    for process in PLATFORM.processes:
        svc = services[process.name]
        assert (svc["port"], svc["natsUser"]) == (process.port, process.nats_user)
        assert svc["database"] == process.database
    for name in services:
        assert services[name]["cipherKey"] == CIPHER_KEYS.get(name), name


@pytest.mark.parametrize("name", list(VALUES_FILES))
def test_lint_strict(name: str) -> None:
    result = helm("lint", "--strict", str(CHART), "-f", str(VALUES_FILES[name]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("case", CASES)
def test_every_object_is_valid_kubernetes_1_35(case: str) -> None:
    objs = objects(case)
    assert objs
    for obj in objs:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]["name"]


@pytest.mark.parametrize("case", CASES)
def test_every_service_has_its_objects(case: str) -> None:
    objs = objects(case)
    for name, svc in values_of(case)["services"].items():
        deployment = get(objs, "Deployment", name)
        assert deployment["metadata"]["labels"]["app.kubernetes.io/component"] == svc["component"]
        account = get(objs, "ServiceAccount", name)
        assert account["automountServiceAccountToken"] is False
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == name
        assert pod["automountServiceAccountToken"] is False
        get(objs, "PodDisruptionBudget", name)
        get(objs, "NetworkPolicy", name)
        assert (find(objs, "Service", name) is not None) == bool(svc["port"]), name
        hpa = find(objs, "HorizontalPodAutoscaler", name)
        assert (hpa is not None) == svc["autoscaling"]["enabled"], name
        if hpa is not None:
            assert hpa["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
            }
            # The HPA owns the replica count; a fixed one would fight it on every upgrade.
            assert "replicas" not in deployment["spec"]


@pytest.mark.parametrize("case", CASES)
def test_selectors_match_pod_labels(case: str) -> None:
    objs = objects(case)
    pods = {
        obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"]
        for obj in objs
        if obj["kind"] in ("Deployment", "StatefulSet")
    }
    for obj in objs:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet"):
            assert matches(obj["spec"]["selector"]["matchLabels"], pods[name])
            labels = pods[name]
            assert labels["app.kubernetes.io/part-of"] == "tongxin"
            assert labels["app.kubernetes.io/instance"] == RELEASE
        elif kind == "Service":
            selected = [
                pod for pod, labels in pods.items() if matches(obj["spec"]["selector"], labels)
            ]
            assert selected == [name], f"Service {name} selects {selected}"
        elif kind in ("PodDisruptionBudget", "NetworkPolicy"):
            selector = (
                obj["spec"]["selector"]
                if kind == "PodDisruptionBudget"
                else obj["spec"]["podSelector"]
            ).get("matchLabels", {})
            if name == "default-deny":
                assert selector == {}
                continue
            selected = [pod for pod, labels in pods.items() if matches(selector, labels)]
            if kind == "NetworkPolicy" and name == "postgresql-databases":
                continue  # selects the Job's pods
            assert selected == [name], f"{kind} {name} selects {selected}"


@pytest.mark.parametrize("case", CASES)
def test_pods_are_locked_down(case: str) -> None:
    for where, pod in pod_specs(objects(case)):
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True, where
        assert isinstance(security["runAsUser"], int) and security["runAsUser"] >= 1000, where
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["automountServiceAccountToken"] is False, where
        empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["runAsNonRoot"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in empty_dirs, f"{where}: /tmp is not an emptyDir"


@pytest.mark.parametrize("case", CASES)
def test_services_run_writable_state_only_in_empty_dirs(case: str) -> None:
    objs = objects(case)
    for name in values_of(case)["services"]:
        pod = get(objs, "Deployment", name)["spec"]["template"]["spec"]
        container = pod["containers"][0]
        state = env_of(container)["TONGXIN_STATE_DIR"]["value"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts[state]], name


@pytest.mark.parametrize("case", CASES)
def test_http_services_are_probed_on_healthz_and_readyz(case: str) -> None:
    objs = objects(case)
    for name, svc in values_of(case)["services"].items():
        if not svc["port"]:
            continue
        container = get(objs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["ports"] == [
            {"name": "http", "containerPort": svc["port"], "protocol": "TCP"}
        ]
        env = env_of(container)
        assert env["TONGXIN_HTTP_HOST"]["value"] == "0.0.0.0"
        assert env["TONGXIN_HTTP_PORT"]["value"] == str(svc["port"])
    for where, pod in pod_specs(objs):
        if where.startswith("StatefulSet/"):
            container = pod["containers"][0]
            assert container["livenessProbe"] and container["readinessProbe"], where


def egress_ports(policy: Obj) -> set[int]:
    return {port["port"] for rule in policy["spec"]["egress"] for port in rule.get("ports", [])}


def ingress_rules(policy: Obj) -> list[Obj]:
    return list(policy["spec"]["ingress"])


@pytest.mark.parametrize("case", CASES)
def test_network_is_denied_by_default_and_allowed_explicitly(case: str) -> None:
    objs = objects(case)
    values = values_of(case)
    deny = get(objs, "NetworkPolicy", "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    services = values["services"]
    for name, svc in services.items():
        policy = get(objs, "NetworkPolicy", name)
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        ports = egress_ports(policy)
        assert {53, values["nats"]["port"]} <= ports, name
        assert (values["postgresql"]["port"] in ports) == bool(svc["database"]), name
        callees = {
            other["port"]
            for other_name, other in services.items()
            if other["port"] and name in other["callers"]
        }
        assert callees <= ports, name
        if not svc["port"]:
            assert ingress_rules(policy) == [], name
            continue
        for rule in ingress_rules(policy):
            assert [p["port"] for p in rule["ports"]] == [svc["port"]], name
        callers = [
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in ingress_rules(policy)
            for peer in rule.get("from", [])
            if "podSelector" in peer and "namespaceSelector" not in peer
        ]
        assert sorted(callers) == sorted(svc["callers"]), name
        public = [
            rule
            for rule in ingress_rules(policy)
            if rule.get("from", []) == values["networkPolicy"]["publicPeers"] or "from" not in rule
        ]
        assert bool(public) == svc["public"], name
    # What the platform needs: the gateway reaches the services its features forward to;
    # the gateway and the ingest are reachable from outside the namespace; nothing else is.
    gateway = PLATFORM.gateway().name
    forwarded = {PLATFORM.process(name).port for name in FORWARDED}
    assert forwarded and forwarded <= egress_ports(get(objs, "NetworkPolicy", gateway))
    public = {p.name for p in PLATFORM.processes if p.kind != "service"}
    assert {n for n, s in services.items() if s["public"]} == public


@pytest.mark.parametrize("case", CASES)
def test_relay_is_one_replica_that_never_blocks_a_drain(case: str) -> None:
    objs = objects(case)
    relays = [n for n, s in values_of(case)["services"].items() if s["component"] == "relay"]
    assert relays == list(RELAYS)
    for name in relays:
        deployment = get(objs, "Deployment", name)
        assert deployment["spec"]["replicas"] == 1
        # A rolling update would run the old and new relay side by side for a while.
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert find(objs, "HorizontalPodAutoscaler", name) is None
        # Its Service only exposes the probes and lag (`tongxin ops status` reads /readyz).
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        port = get(objs, "Service", name)["spec"]["ports"][0]["port"]
        assert env_of(container)["TONGXIN_RELAY_HTTP_PORT"]["value"] == str(port)
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        pdb = get(objs, "PodDisruptionBudget", name)["spec"]
        assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb
        command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command == ["python", "-m", *relay_command_of(RELAYS[name])]
        api = get(objs, "Deployment", RELAYS[name].name)
        container = api["spec"]["template"]["spec"]["containers"][0]
        assert env_of(container)["TONGXIN_RELAY_IN_PROCESS"]["value"] == "false"
    for pdb in (o for o in objs if o["kind"] == "PodDisruptionBudget"):
        assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


@pytest.mark.parametrize("case", CASES)
def test_each_pod_reads_its_own_nats_password_and_database_secret(case: str) -> None:
    objs = objects(case)
    values = values_of(case)
    password_envs = {user.name: user.password_env for user in users()}
    for name, svc in values["services"].items():
        env = env_of(get(objs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0])
        assert env["TONGXIN_NATS_USER"]["value"] == svc["natsUser"]
        secret = env["TONGXIN_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert secret == {
            "name": values["nats"]["auth"]["usersSecret"],
            "key": password_envs[svc["natsUser"]],
        }
        if svc["database"]:
            assert env["TONGXIN_STORE"]["value"] == "postgres"
            assert env["TONGXIN_POSTGRES_DBNAME"]["value"] == svc["database"]
            assert env["TONGXIN_POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
                "name": values["postgresql"]["auth"]["secretName"],
                "key": values["postgresql"]["auth"]["passwordKey"],
            }
        else:
            assert "TONGXIN_STORE" not in env and "TONGXIN_POSTGRES_PASSWORD" not in env
        gateway_instance = env.get("TONGXIN_GATEWAY_INSTANCE")
        if svc["component"] == "gateway":
            assert gateway_instance == {
                "name": "TONGXIN_GATEWAY_INSTANCE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
            }


def cipher_key_refs(objs: list[Obj], names: list[str]) -> dict[str, Obj | None]:
    """The Secret key each Deployment's TONGXIN_CIPHER_KEY comes from, None without one."""
    refs: dict[str, Obj | None] = {}
    for name in names:
        container = get(objs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        entry = env_of(container).get("TONGXIN_CIPHER_KEY")
        refs[name] = None if entry is None else entry["valueFrom"]["secretKeyRef"]
    return refs


@pytest.mark.parametrize("case", CASES)
def test_each_store_reads_its_own_cipher_key_and_its_relay_the_same(case: str) -> None:
    values = values_of(case)
    secret = values["cipherKey"]["secretName"]
    refs = cipher_key_refs(objects(case), list(values["services"]))
    if not secret:
        assert set(refs.values()) == {None}, "no Secret named: every store keeps events plain"
        return
    for name, ref in refs.items():
        expected = {"name": secret, "key": CIPHER_KEYS[name]} if name in CIPHER_KEYS else None
        assert ref == expected, name
    stores = [p for p in PLATFORM.processes if p.has_store]
    assert stores and len({CIPHER_KEYS[p.name] for p in stores}) == len(stores)
    assert {"ingest", "gateway"} <= {name for name, ref in refs.items() if ref is None}


def test_production_encrypts_every_store() -> None:
    assert values_of("production")["cipherKey"]["secretName"]


def test_production_scales_out_behind_tls_and_secrets() -> None:
    objs = objects("production")
    values = values_of("production")
    for name, svc in values["services"].items():
        pod = get(objs, "Deployment", name)["spec"]["template"]["spec"]
        env = env_of(pod["containers"][0])
        ca = env["TONGXIN_NATS_TLS_CA"]["value"]
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        volume = {v["name"]: v for v in pod["volumes"]}[mounts[str(Path(ca).parent)]]
        assert volume["secret"]["secretName"] == values["nats"]["tls"]["secretName"]
        assert env["TONGXIN_NATS_URLS"]["value"].startswith("tls://")
        assert env["TONGXIN_STREAM_REPLICAS"]["value"] == "3"
        if svc["component"] == "relay":
            continue
        hpa = get(objs, "HorizontalPodAutoscaler", name)["spec"]
        assert hpa["minReplicas"] >= 2, name
        assert get(objs, "PodDisruptionBudget", name)["spec"]["minAvailable"] == 1, name
    gateway = get(objs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    assert env_of(gateway)["TONGXIN_GATEWAY_INTROSPECTION"]["value"] == "false"
    assert not [o for o in objs if o["kind"] == "StatefulSet"], "production brings its own"


def test_dev_runs_the_subcharts_and_creates_each_database() -> None:
    objs = objects("dev")
    nats = get(objs, "StatefulSet", f"{RELEASE}-nats")
    postgres = get(objs, "StatefulSet", f"{RELEASE}-postgresql")
    assert nats["spec"]["replicas"] == postgres["spec"]["replicas"] == 1
    users_secret = values_of("dev")["nats"]["auth"]["usersSecret"]
    assert nats["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [
        {"secretRef": {"name": users_secret}}
    ]
    job = get(objs, "Job", "postgresql-databases")
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert f"for db in {' '.join(sorted(PLATFORM.databases()))}; do" in script
    volunteers = env_of(
        get(objs, "Deployment", "volunteers")["spec"]["template"]["spec"]["containers"][0]
    )
    assert volunteers["TONGXIN_NATS_URLS"]["value"] == f"nats://{RELEASE}-nats:4222"
    assert volunteers["TONGXIN_POSTGRES_HOST"]["value"] == f"{RELEASE}-postgresql"
    get(objs, "Service", f"{RELEASE}-nats")
    get(objs, "Service", f"{RELEASE}-postgresql")


@pytest.mark.parametrize("case", ["dev", "production-with-subcharts"])
def test_nats_server_accepts_the_rendered_config(case: str, tmp_path: Path) -> None:
    """The subchart's nats.conf with the generated authorization, checked by nats-server."""
    config = get(objects(case), "ConfigMap", f"{RELEASE}-nats")["data"]
    assert config["authorization.conf"].strip() == (
        (CHART / "charts" / "nats" / "files" / "authorization.conf").read_text().strip()
    )
    for file, text in config.items():
        (tmp_path / file).write_text(text)
    conf = (tmp_path / "nats.conf").read_text()
    if "tls {" in conf:
        # The certificate files come from a Secret in the cluster: check the rest here.
        start = conf.index("tls {")
        conf = conf[:start] + conf[conf.index("}", start) + 1 :]
        (tmp_path / "nats.conf").write_text(conf)
    env = {**os.environ, "POD_NAME": "tongxin-nats-0"}
    env.update({user.password_env: "not-a-real-password" for user in users()})
    server = ROOT / ".venv" / "bin" / "nats-server"
    checked = subprocess.run(
        [str(server), "-t", "-c", str(tmp_path / "nats.conf")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # A password missing from the users Secret stops the server rather than opening it.
    env.pop(users()[0].password_env)
    missing = subprocess.run(
        [str(server), "-t", "-c", str(tmp_path / "nats.conf")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0


COURSES = {
    "services": {
        "courses": {
            "component": "api",
            "command": ["python", "-m", "services.courses", "serve"],
            "port": 8003,
            "replicas": 2,
            "resources": {
                "requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"cpu": "1", "memory": "384Mi"},
            },
            "probes": {"liveness": {"periodSeconds": 10}, "readiness": {"periodSeconds": 5}},
            "autoscaling": {
                "enabled": True,
                "minReplicas": 2,
                "maxReplicas": 4,
                "targetCPUUtilizationPercentage": 70,
            },
            "pdb": {"minAvailable": 1},
            "strategy": "RollingUpdate",
            "database": "courses",
            "cipherKey": "cipher-key-courses",
            "natsUser": "svc-courses",
            "public": False,
            "callers": ["gateway"],
        }
    }
}


def test_a_new_service_needs_only_a_values_block(tmp_path: Path) -> None:
    extra = tmp_path / "courses.yaml"
    extra.write_text(yaml.safe_dump(COURSES))
    result = template([VALUES_FILES["dev"], extra], ["--set", "cipherKey.secretName=keys"])
    assert result.returncode == 0, result.stderr
    objs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    for kind in (
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceAccount",
    ):
        obj = get(objs, kind, "courses")
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    env = env_of(get(objs, "Deployment", "courses")["spec"]["template"]["spec"]["containers"][0])
    assert env["TONGXIN_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == (
        "NATS_PASSWORD_SVC_COURSES"
    )
    assert env["TONGXIN_POSTGRES_DBNAME"]["value"] == "courses"
    assert cipher_key_refs(objs, ["courses", "volunteers", "gateway"]) == {
        "courses": {"name": "keys", "key": "cipher-key-courses"},
        "volunteers": {"name": "keys", "key": "cipher-key-volunteers"},
        "gateway": None,
    }
    assert 8003 in egress_ports(get(objs, "NetworkPolicy", "gateway"))
    script = get(objs, "Job", "postgresql-databases")["spec"]["template"]["spec"]["containers"][0]
    databases = " ".join(sorted({"courses", *PLATFORM.databases()}))
    assert f"for db in {databases}; do" in script["command"][-1]


def _with(service_change: Obj, name: str = "volunteers-relay") -> Obj:
    return {"services": {name: service_change}}


@pytest.mark.parametrize(
    ("why", "values"),
    [
        ("relay with two replicas", _with({"replicas": 2})),
        ("relay autoscaled", _with({"autoscaling": {"enabled": True}})),
        ("relay rolling update", _with({"strategy": "RollingUpdate"})),
        ("unknown service key", _with({"replica": 3}, "volunteers")),
        ("limits missing", _with({"resources": {"limits": None}}, "volunteers")),
        ("unknown top-level key", {"replicaCount": 2}),
        ("bad NATS user", _with({"natsUser": "volunteers"}, "volunteers")),
        ("cipher key without a store", _with({"cipherKey": "cipher-key-ingest"}, "ingest")),
        ("store without a cipher key", _with({"cipherKey": None}, "volunteers")),
        ("bad cipher key name", _with({"cipherKey": "cipher key"}, "volunteers")),
        ("the one shared cipher key", {"cipherKey": {"secretName": "k", "key": "cipher-key"}}),
        (
            "service without required fields",
            {"services": {"trial": {"component": "api", "command": ["x"]}}},
        ),
    ],
)
def test_schema_rejects_invalid_values(why: str, values: Obj, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(values))
    result = template([VALUES_FILES["dev"], bad], [])
    assert result.returncode != 0, why
    assert "schema" in result.stderr, result.stderr


def test_checkov_finds_nothing_beyond_the_commented_skips(tmp_path: Path) -> None:
    for case in CASES:
        (tmp_path / f"{case}.yaml").write_text(rendered_text(case))
    result = subprocess.run(
        [
            str(_tool(CHECKOV)),
            "--config-file",
            str(DEPLOY / "checkov.yaml"),
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--compact",
            "--quiet",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for part in reports
        for check in part["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0 and summary["resource_count"] >= len(CASES) * 10
