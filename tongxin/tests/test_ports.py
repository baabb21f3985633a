"""Ports: read from the environment, and a taken port is refused with a clear message."""

from __future__ import annotations

import socket

import pytest

from contracts.platform import load_data, load_platform, parse_platform
from tongxin import ports


@pytest.fixture
def listening():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_defaults_and_environment() -> None:
    defaults = ports.Ports.from_env({})
    found = [(name, port) for name, port, _ in defaults.items()]
    # Every process of the manifest at its port, in manifest order, then NATS.
    assert found == [(p.name, p.port) for p in load_platform().processes] + [("nats", 4222)]
    assert {("volunteers", 8001), ("ingest", 8002), ("gateway", 8000)} <= set(found)
    p = ports.Ports.from_env({"TONGXIN_GATEWAY_PORT": "9000", "TONGXIN_NATS_PORT": "5222"})
    assert [p.of(n) for n in ("gateway", "volunteers", "ingest")] == [9000, 8001, 8002]
    assert p.nats == 5222


def test_every_process_of_the_manifest_has_its_port_and_variable() -> None:
    platform = load_platform()
    data = load_data()
    # A new process on the alliance's boundary, in a copy without the alliance's own.
    data["processes"] = [p for p in data["processes"] if p["name"] != "alliance"]
    gateway = next(p for p in data["processes"] if p["kind"] == "gateway")
    gateway["features"] = [f for f in gateway["features"] if f["name"] != "alliance"]
    data["processes"].insert(
        0,
        {"name": "trial", "kind": "service", "module": "services.trial", "port": 8099,
         "boundary": "alliance", "database": "trial", "title": "trial API"},
    )  # fmt: skip
    bigger = parse_platform(data)
    p = ports.Ports.from_env({"TONGXIN_TRIAL_PORT": "9003"}, bigger)
    assert p.of("trial") == 9003
    assert ("trial", 9003, "TONGXIN_TRIAL_PORT") in p.items()
    assert len(p.items()) == len(platform.processes) + 1
    with pytest.raises(ports.PortError, match="TONGXIN_VOLUNTEERS_PORT and TONGXIN_TRIAL_PORT"):
        ports.Ports.from_env({"TONGXIN_VOLUNTEERS_PORT": "8099"}, bigger)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TONGXIN_INGEST_PORT": "abc"}, "TONGXIN_INGEST_PORT='abc' is not a port number"),
        ({"TONGXIN_INGEST_PORT": "70000"}, "TONGXIN_INGEST_PORT=70000"),
        ({"TONGXIN_INGEST_PORT": "8001"}, "TONGXIN_INGEST_PORT and TONGXIN_VOLUNTEERS_PORT"),
    ],
)
def test_bad_port_settings_are_refused(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ports.PortError, match=needle.replace("(", r"\(")):
        ports.Ports.from_env(env)


def test_free_and_taken(listening: int) -> None:
    assert not ports.is_free(listening)
    assert ports.is_free(ports.free_port())


def test_a_taken_port_names_the_variable_and_exits_non_zero(listening: int, capsys) -> None:
    env = {p.port_env: str(ports.free_port()) for p in load_platform().processes}
    env |= {"TONGXIN_GATEWAY_PORT": str(listening), "TONGXIN_NATS_PORT": str(ports.free_port())}
    p = ports.Ports.from_env(env)
    problems = ports.check_free(p)
    assert len(problems) == 1
    assert f"Port {listening} on 127.0.0.1 (gateway) is already in use" in problems[0]
    assert "TONGXIN_GATEWAY_PORT" in problems[0]
    with pytest.raises(SystemExit) as exit_info:
        ports.require_free(p)
    assert exit_info.value.code != 0
    assert "TONGXIN_GATEWAY_PORT" in capsys.readouterr().err
