"""Ports: read from the environment, and a taken port is refused with a clear message."""

from __future__ import annotations

import socket

import pytest

from tongxin import ports


@pytest.fixture
def listening():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_defaults_and_environment() -> None:
    assert ports.Ports.from_env({}) == ports.Ports(8000, 8001, 8002, 4222)
    p = ports.Ports.from_env({"TONGXIN_GATEWAY_PORT": "9000", "TONGXIN_NATS_PORT": "5222"})
    assert (p.gateway, p.volunteers, p.ingest, p.nats) == (9000, 8001, 8002, 5222)


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
    p = ports.Ports(
        gateway=listening,
        volunteers=ports.free_port(),
        ingest=ports.free_port(),
        nats=ports.free_port(),
    )
    problems = ports.check_free(p)
    assert len(problems) == 1
    assert f"Port {listening} on 127.0.0.1 (gateway) is already in use" in problems[0]
    assert "TONGXIN_GATEWAY_PORT" in problems[0]
    with pytest.raises(SystemExit) as exit_info:
        ports.require_free(p)
    assert exit_info.value.code != 0
    assert "TONGXIN_GATEWAY_PORT" in capsys.readouterr().err
