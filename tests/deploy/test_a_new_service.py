"""A service added to a copy of the manifest reaches every place generated from it: the
embedded default's supervisor table, NATS users, docker-compose.yml, the Helm chart (each
with its own cipher key) and the gateway's service URLs. Nothing else needs editing by
hand."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from contracts.platform import Platform, load_data, parse_platform
from services.kit.settings import Settings
from tests.deploy.test_compose import run_compose
from tests.deploy.test_helm import (
    KUBE_VERSION,
    cipher_key_refs,
    egress_ports,
    env_of,
    get,
    template,
)
from tongxin import cli, deploygen, natsauth
from tongxin.ports import Ports

NAME = "trial"  # takes the alliance's boundary, in a copy of the manifest without the alliance
PORT = 8093


def with_trial() -> Platform:
    data = load_data()
    data["processes"] = [p for p in data["processes"] if p["name"] != "alliance"]
    data["processes"].insert(
        1,
        {"name": NAME, "kind": "service", "module": f"services.{NAME}", "port": PORT,
         "boundary": "alliance", "database": NAME, "relay": True,
         "reactions": ["evt.wf.guidance.>"], "title": f"{NAME} API"},
    )  # fmt: skip
    gateway = next(p for p in data["processes"] if p["kind"] == "gateway")
    gateway["features"] = [f for f in gateway["features"] if f["name"] != "alliance"]
    gateway["features"].append({"name": NAME, "consumes": ["evt.edu.alliance.>"], "service": NAME})
    return parse_platform(data)


PLATFORM = with_trial()


def test_the_supervisor_starts_it_with_its_port_user_and_key(tmp_path: Path) -> None:
    ports = Ports.from_env({}, PLATFORM)
    keys = cli.ensure_cipher_keys(tmp_path / "keys", PLATFORM)
    users = natsauth.users(platform=PLATFORM)
    passwords = natsauth.ensure_passwords(tmp_path / "passwords.json", users)
    specs = {s.name: s for s in cli.children(ports, tmp_path, keys, passwords, PLATFORM)}
    trial = specs[NAME]
    assert trial.argv[1:] == ["-m", f"services.{NAME}"]
    assert trial.env["TONGXIN_HTTP_PORT"] == str(PORT)
    assert trial.health_url == f"http://127.0.0.1:{PORT}/healthz"
    assert trial.env["TONGXIN_NATS_USER"] == f"svc-{NAME}"
    assert trial.env["TONGXIN_CIPHER_KEY"] == keys[NAME] != keys["volunteers"]
    gateway = Settings(service_urls=specs["gateway"].env["TONGXIN_SERVICE_URLS"])
    assert gateway.service_url(NAME) == f"http://127.0.0.1:{PORT}"
    assert dict(cli.banner_lines(ports, PLATFORM))[f"{NAME} API docs"].endswith(f":{PORT}/docs")


def test_its_nats_user_reads_its_reactions_and_the_gateway_its_feature() -> None:
    users = {u.name: u for u in natsauth.users(platform=PLATFORM)}
    trial = users[f"svc-{NAME}"]
    assert "evt.edu.alliance.>" in trial.publish
    assert "$JS.API.CONSUMER.CREATE.GUIDANCE.*.evt.wf.guidance.>" in trial.publish
    gateway = users["svc-gateway"].publish
    assert "$JS.API.CONSUMER.CREATE.ALLIANCE.*.evt.edu.alliance.>" in gateway
    # The ownership map's placeholder user for the boundary gives way to the process's.
    assert "svc-alliance" not in users


def test_compose_runs_it_and_its_relay(tmp_path: Path) -> None:
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text(deploygen.render_file(deploygen.COMPOSE, PLATFORM))
    keys = {"TONGXIN_CIPHER_KEY_TRIAL": "k-trial", "TONGXIN_CIPHER_KEY_VOLUNTEERS": "k-volunteers"}
    assert deploygen.cipher_key_env(PLATFORM.process(NAME)) in keys
    result = run_compose("config", "--format", "json", file=compose_file, env=keys)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name in (NAME, f"{NAME}-relay"):
        assert services[name]["environment"]["TONGXIN_CIPHER_KEY"] == "k-trial", name
    assert services["volunteers"]["environment"]["TONGXIN_CIPHER_KEY"] == "k-volunteers"
    assert "TONGXIN_CIPHER_KEY" not in services["gateway"]["environment"]
    assert services[NAME]["command"] == [f"services.{NAME}", "serve"]
    assert services[f"{NAME}-relay"]["command"] == [f"services.{NAME}", "relay"]
    assert services[NAME]["environment"]["TONGXIN_POSTGRES_DBNAME"] == NAME
    assert services[NAME]["environment"]["TONGXIN_NATS_USER"] == f"svc-{NAME}"
    assert f"NATS_PASSWORD_SVC_{NAME.upper()}" in services["nats"]["environment"]
    assert NAME in services["postgres"]["environment"]["TONGXIN_DATABASES"].split()
    gateway = services["gateway"]
    assert NAME in gateway["depends_on"]
    urls = Settings(service_urls=gateway["environment"]["TONGXIN_SERVICE_URLS"])
    assert urls.service_url(NAME) == f"http://{NAME}:{PORT}"


@pytest.mark.parametrize("values_file", ["dev", "production"])
def test_the_chart_deploys_it_and_lets_the_gateway_call_it(
    values_file: str, tmp_path: Path
) -> None:
    defaults = tmp_path / "values.yaml"
    defaults.write_text(deploygen.render_file(deploygen.VALUES, PLATFORM))
    environment = tmp_path / f"values-{values_file}.yaml"
    source = {"dev": deploygen.VALUES_DEV, "production": deploygen.VALUES_PRODUCTION}
    environment.write_text(deploygen.render_file(source[values_file], PLATFORM))
    result = template([defaults, environment], [])
    assert result.returncode == 0, result.stderr
    objs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        for name in (NAME, f"{NAME}-relay"):
            kubernetes_validate.validate(get(objs, kind, name), KUBE_VERSION, strict=True)
    container = get(objs, "Deployment", NAME)["spec"]["template"]["spec"]["containers"][0]
    env = env_of(container)
    assert env["TONGXIN_POSTGRES_DBNAME"]["value"] == NAME
    assert env["TONGXIN_NATS_USER"]["value"] == f"svc-{NAME}"
    assert container["command"] == ["python", "-m", f"services.{NAME}", "serve"]
    relay = get(objs, "Deployment", f"{NAME}-relay")
    assert relay["spec"]["replicas"] == 1 and relay["spec"]["strategy"] == {"type": "Recreate"}
    assert PORT in egress_ports(get(objs, "NetworkPolicy", "gateway"))
    gateway = get(objs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    urls = env_of(gateway)["TONGXIN_SERVICE_URLS"]["value"]
    assert Settings(service_urls=urls).service_url(NAME) == f"http://{NAME}:{PORT}"
    if values_file == "production":
        assert get(objs, "HorizontalPodAutoscaler", NAME)["spec"]["minReplicas"] == 2
        secret = yaml.safe_load(environment.read_text())["cipherKey"]["secretName"]
        own = {"name": secret, "key": f"cipher-key-{NAME}"}
        assert cipher_key_refs(objs, [NAME, f"{NAME}-relay", "gateway"]) == {
            NAME: own,
            f"{NAME}-relay": own,
            "gateway": None,
        }
