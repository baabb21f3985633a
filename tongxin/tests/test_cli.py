"""The command line: dev tokens, the cipher key, the children's environment, port checks."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.kit.auth import JwksVerifier
from tongxin import cli
from tongxin.ports import Ports, free_port

runner = CliRunner()


def verifier(state: Path) -> JwksVerifier:
    return JwksVerifier(str(state / "keys" / "jwks.json"), issuer="tongxin-dev", audience="tongxin")


def test_token_is_accepted_by_the_services_verifier(tmp_path: Path) -> None:
    result = runner.invoke(
        cli.app,
        [
            "token",
            "--role",
            "school-staff",
            "--department",
            "edu",
            "--scope",
            "school:s1 school:s2",
            "--subject",
            "teacher-1",
            "--ttl",
            "600",
        ],
        env={"TONGXIN_STATE_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    principal = verifier(tmp_path).verify(result.stdout.strip())
    assert principal.subject == "teacher-1"
    assert principal.role == "school-staff"
    assert principal.department == "edu"
    assert principal.scope == ("school:s1", "school:s2")
    assert principal.covers_school("s2") and not principal.covers_school("s3")


def test_tokens_of_one_state_folder_share_a_key(tmp_path: Path) -> None:
    env = {"TONGXIN_STATE_DIR": str(tmp_path)}
    first = runner.invoke(cli.app, ["token", "--role", "viewer"], env=env).stdout.strip()
    second = runner.invoke(cli.app, ["token", "--role", "admin"], env=env).stdout.strip()
    check = verifier(tmp_path)
    assert check.verify(first).scope == ("city",)
    assert check.verify(second).role == "admin"


def test_a_bad_role_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        cli.app, ["token", "--role", "mayor"], env={"TONGXIN_STATE_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "'mayor' is not a role" in result.output
    assert "department-system" in result.output


def test_cipher_key_is_made_once_and_private(tmp_path: Path) -> None:
    import base64

    path = tmp_path / "keys" / "cipher.key"
    key = cli.ensure_cipher_key(path)
    assert len(base64.b64decode(key)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cli.ensure_cipher_key(path) == key


def test_children_get_their_port_nats_and_state(tmp_path: Path) -> None:
    p = Ports(gateway=9100, volunteers=9101, ingest=9102, nats=5333)
    children = {name: (argv, env) for name, argv, env in cli.services(p, tmp_path, "KEY")}
    assert set(children) == {"volunteers", "ingest", "gateway"}
    assert children["volunteers"][0][1:] == ["-m", "services.volunteers"]
    assert children["ingest"][0][1:] == ["-m", "services.ingest"]
    assert children["gateway"][0][1:] == ["-m", "gateway"]
    for name, port in (("volunteers", "9101"), ("ingest", "9102"), ("gateway", "9100")):
        env = children[name][1]
        assert env["TONGXIN_HTTP_PORT"] == port
        assert env["TONGXIN_NATS_URLS"] == "nats://127.0.0.1:5333"
        assert env["TONGXIN_STATE_DIR"] == str(tmp_path)
        assert env["TONGXIN_SERVICE_URLS"] == "volunteers=http://127.0.0.1:9101"
    assert children["volunteers"][1]["TONGXIN_CIPHER_KEY"] == "KEY"


def test_run_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        env = {
            "TONGXIN_STATE_DIR": str(tmp_path),
            "TONGXIN_GATEWAY_PORT": str(free_port()),
            "TONGXIN_VOLUNTEERS_PORT": str(taken),
            "TONGXIN_INGEST_PORT": str(free_port()),
            "TONGXIN_NATS_PORT": str(free_port()),
        }
        result = runner.invoke(cli.app, ["run", "--no-demo"], env=env)
    assert result.exit_code == 3
    assert "TONGXIN_VOLUNTEERS_PORT" in result.output
    assert not (tmp_path / "keys").exists()  # nothing was started or written


def test_health_wait_gives_up_with_a_clear_message() -> None:
    port = free_port()
    with pytest.raises(cli.Abort, match=r"ingest did not answer GET .*/healthz with 200 within"):
        cli.wait_healthy("ingest", f"http://127.0.0.1:{port}/healthz", 0.5)
