"""The command line: dev tokens, the cipher key, the children's environment, port checks."""

from __future__ import annotations

import base64
import socket
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.platform import load_platform
from services.kit.auth import JwksVerifier
from tongxin import cli, natsauth
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
    path = tmp_path / "keys" / "cipher-volunteers.key"
    key = cli.ensure_cipher_key(path)
    assert len(base64.b64decode(key)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cli.ensure_cipher_key(path) == key


def test_every_service_store_gets_its_own_key(tmp_path: Path) -> None:
    keys = cli.ensure_cipher_keys(tmp_path)
    stores = {p.name for p in load_platform().processes if p.has_store}
    assert set(keys) == stores and stores
    assert len(set(keys.values())) == len(keys)
    assert cli.ensure_cipher_keys(tmp_path) == keys


def test_an_existing_state_keeps_the_volunteers_key(tmp_path: Path) -> None:
    legacy = cli.ensure_cipher_key(tmp_path / "cipher.key")
    keys = cli.ensure_cipher_keys(tmp_path)
    assert keys["volunteers"] == legacy
    assert not (tmp_path / "cipher-volunteers.key").exists()
    assert cli.ensure_cipher_keys(tmp_path)["volunteers"] == legacy


def test_children_are_the_manifest_processes_with_their_port_user_and_key(
    tmp_path: Path,
) -> None:
    platform = load_platform()
    env = {p.port_env: str(9100 + n) for n, p in enumerate(platform.processes)}
    p = Ports.from_env(env | {"TONGXIN_NATS_PORT": "5333"})
    keys = cli.ensure_cipher_keys(tmp_path / "keys")
    passwords = natsauth.ensure_passwords(tmp_path / "passwords.json", natsauth.users())
    specs = {spec.name: spec for spec in cli.children(p, tmp_path, keys, passwords)}
    assert list(specs) == [process.name for process in platform.processes]
    urls = ",".join(f"{s.name}=http://127.0.0.1:{p.of(s.name)}" for s in platform.services())
    for n, process in enumerate(platform.processes):
        spec = specs[process.name]
        assert spec.argv[1:] == ["-m", process.module]
        assert spec.env["TONGXIN_HTTP_PORT"] == str(9100 + n)
        assert spec.health_url == f"http://127.0.0.1:{9100 + n}/healthz"
        assert spec.env["TONGXIN_NATS_URLS"] == "nats://127.0.0.1:5333"
        assert spec.env["TONGXIN_STATE_DIR"] == str(tmp_path)
        assert spec.env["TONGXIN_SERVICE_URLS"] == urls
        assert spec.env["TONGXIN_NATS_USER"] == process.nats_user
        password = passwords[natsauth.password_env(process.nats_user)]
        assert spec.env["TONGXIN_NATS_PASSWORD"] == password
        assert spec.env.get("TONGXIN_CIPHER_KEY") == keys.get(process.name)
    # The volunteers' store is encrypted, as before the manifest.
    assert specs["volunteers"].env["TONGXIN_CIPHER_KEY"] == keys["volunteers"]
    assert specs["volunteers"].argv[1:] == ["-m", "services.volunteers"]


def test_the_banner_lists_every_process(tmp_path: Path) -> None:
    p = Ports.from_env({})
    lines = dict(cli.banner_lines(p))
    assert lines["city dashboard"] == "http://127.0.0.1:8000/"
    assert lines["GraphQL / GraphiQL"] == "http://127.0.0.1:8000/graphql"
    assert lines["volunteers API docs"] == "http://127.0.0.1:8001/docs"
    assert lines["NATS"] == "nats://127.0.0.1:4222"
    # One line per process, the gateway's two pages, and NATS.
    assert len(lines) == len(load_platform().processes) + 2


def test_run_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        env = {p.port_env: str(free_port()) for p in load_platform().processes}
        env |= {
            "TONGXIN_STATE_DIR": str(tmp_path),
            "TONGXIN_VOLUNTEERS_PORT": str(taken),
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
