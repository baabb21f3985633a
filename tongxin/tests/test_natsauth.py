"""The generated NATS authorization: who may publish and read what, and its committed copies."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.departments import load_ownership_map
from contracts.platform import load_data, load_platform, parse_platform
from tongxin import cli, natsauth, natsserver


def by_name() -> dict[str, natsauth.NatsUser]:
    return {u.name: u for u in natsauth.users()}


def test_committed_copies_match_the_generator() -> None:
    expected = natsauth.render_authorization(natsauth.users())
    for path in natsauth.COMMITTED:
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path} is out of date: run `tongxin nats-auth --write`"
        )


def test_the_command_prints_what_it_writes() -> None:
    result = CliRunner().invoke(cli.app, ["nats-auth"])
    assert result.exit_code == 0, result.output
    assert result.stdout == natsauth.render_authorization(natsauth.users())


def test_users_follow_the_naming_convention() -> None:
    users = by_name()
    services = ["committees", "courses", "care", "alliance", "resources", "volunteers", "feeds"]
    departments = [
        "edu",
        "wf",
        "civ",
        "hlth",
        "pol",
        "jus",
        "proc",
        "cult",
        "cyl",
        "ccng",
        "sci",
        "prop",
        "fin",
    ]
    expected = (
        [f"svc-{s}" for s in services]
        + ["svc-gateway", "svc-ingest"]
        + [f"dept-{d}" for d in departments]
        + ["partner-city-museum", "partner-childrens-hospital", "partner-normal-university"]
    )
    assert sorted(users) == sorted(expected)
    assert users["svc-volunteers"].password_env == "NATS_PASSWORD_SVC_VOLUNTEERS"
    assert users["dept-pol"].password_env == "NATS_PASSWORD_DEPT_POL"
    assert users["partner-city-museum"].password_env == "NATS_PASSWORD_PARTNER_CITY_MUSEUM"
    assert users["dept-pol"].kind == "department" and users["dept-pol"].department == "pol"


def test_every_publish_subject_of_events_lies_in_the_publishers_own_boundaries() -> None:
    ownership = load_ownership_map()
    for user in natsauth.users():
        for subject in user.publish:
            if not subject.startswith("evt."):
                continue
            code = subject.split(".")[1]
            if user.name == natsauth.INGEST:
                owner = ownership.department(code)
                boundary = ownership.boundary(subject.split(".")[2])
                assert boundary.kind == "system" and owner.code == code
            else:
                assert user.department == code, (user.name, subject)


def test_department_systems_publish_only_their_system_boundaries() -> None:
    users = by_name()
    assert users["dept-pol"].publish[0] == "evt.pol.checks.>"
    assert users["dept-pol"].subscribe == ("_INBOX.dept-pol.>",)
    assert users["dept-jus"].publish == ("evt.jus.legal.>",)
    # A department whose boundaries are all Tongxin services publishes nothing itself.
    assert users["dept-cyl"].publish == ()
    assert users["dept-cyl"].subscribe == ()


def test_a_department_system_consumes_only_through_its_own_durable() -> None:
    # contracts/department_systems.json: public security reads the check requests.
    requests = "evt.cyl.volunteers.background-check-requested"
    durable = natsauth.department_durable("pol", requests)
    assert durable == "pol-background-check-requested"
    api = by_name()["dept-pol"].publish[1:]
    assert api == (
        "$JS.API.STREAM.INFO.VOLUNTEERS",
        f"$JS.API.CONSUMER.INFO.VOLUNTEERS.{durable}",
        f"$JS.API.CONSUMER.CREATE.VOLUNTEERS.{durable}.{requests}",
        f"$JS.API.CONSUMER.MSG.NEXT.VOLUNTEERS.{durable}",
        f"$JS.ACK.VOLUNTEERS.{durable}.>",
    )
    # Never another durable's messages, nor deleting one, nor the dead letters.
    assert not [s for s in api if "DELETE" in s or s.endswith(".*") or "DEAD" in s]


def test_partners_only_read_their_feed() -> None:
    users = by_name()
    museum = users["partner-city-museum"]
    assert museum.publish == ()
    assert museum.subscribe == ("feed.city-museum.>",)
    assert "feed.city-museum.>" in users["svc-feeds"].publish


def test_consumers_get_their_consumed_streams_and_dead_letters_only() -> None:
    volunteers = by_name()["svc-volunteers"].publish
    assert "$JS.API.CONSUMER.CREATE.CHECKS.*.evt.pol.checks.>" in volunteers
    assert "$JS.API.STREAM.UPDATE.VOLUNTEERS" in volunteers
    assert "$JS.API.STREAM.UPDATE.CHECKS" not in volunteers
    assert "dlq.>" in volunteers


def test_the_gateway_reads_what_its_features_project() -> None:
    gateway = by_name()[load_platform().gateway().nats_user]
    for feature in load_platform().gateway().features:
        for pattern in feature.consumes:
            stream = pattern.split(".")[2].upper()
            assert f"$JS.API.CONSUMER.CREATE.{stream}.*.{pattern}" in gateway.publish
    assert not [s for s in gateway.publish if s.startswith("evt.")]


def test_reactions_and_users_come_from_the_manifest() -> None:
    data = load_data()
    volunteers = next(p for p in data["processes"] if p["name"] == "volunteers")
    volunteers["reactions"] = []
    gateway = next(p for p in data["processes"] if p["kind"] == "gateway")
    gateway["features"] = [f for f in gateway["features"] if f["name"] != "alliance"]
    gateway["features"].append({"name": "trial", "consumes": ["evt.civ.registry.>"]})
    # A new process on the alliance's boundary, in a copy without the alliance's own.
    data["processes"] = [p for p in data["processes"] if p["name"] != "alliance"]
    data["processes"].insert(
        1,
        {"name": "trial", "kind": "service", "module": "services.trial", "port": 8099,
         "boundary": "alliance", "database": "trial", "title": "trial API",
         "reactions": ["evt.wf.guidance.>"]},
    )  # fmt: skip
    users = {u.name: u for u in natsauth.users(platform=parse_platform(data))}
    # A service consuming nothing has no business with consumers or dead letters.
    idle = users["svc-volunteers"].publish
    assert not [s for s in idle if "CONSUMER" in s or s.startswith("dlq")]
    assert "$JS.API.CONSUMER.CREATE.GUIDANCE.*.evt.wf.guidance.>" in users["svc-trial"].publish
    assert "evt.edu.alliance.>" in users["svc-trial"].publish
    assert "$JS.API.CONSUMER.CREATE.REGISTRY.*.evt.civ.registry.>" in users["svc-gateway"].publish
    assert set(users) == set(by_name()) - {"svc-alliance"} | {"svc-trial"}


def test_nats_server_accepts_the_config(tmp_path: Path) -> None:
    users = natsauth.users()
    passwords = natsauth.ensure_passwords(tmp_path / "passwords.json", users)
    command = natsserver.prepare(
        4999, tmp_path / "nats", authorization=natsauth.render_authorization(users)
    )
    checked = subprocess.run(
        [*command.argv, "-t"],
        env=os.environ | passwords,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    missing = subprocess.run(
        [*command.argv, "-t"], env={}, capture_output=True, text=True, timeout=30
    )
    assert missing.returncode != 0
    assert "NATS_PASSWORD_" in missing.stderr


def test_passwords_are_made_once_kept_private_and_config_safe(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "passwords.json"
    users = natsauth.users()
    first = natsauth.ensure_passwords(path, users)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(first) == {u.password_env for u in users}
    assert len(set(first.values())) == len(first)
    assert all(natsauth.is_config_safe(p) for p in first.values())
    assert natsauth.ensure_passwords(path, users) == first


@pytest.mark.parametrize("password", ["1234", "true", "a b", "short", ""])
def test_passwords_nats_server_would_misread_are_replaced(tmp_path: Path, password: str) -> None:
    path = tmp_path / "passwords.json"
    users = natsauth.users()[:1]
    path.write_text(f'{{"{users[0].password_env}": "{password}"}}')
    replaced = natsauth.ensure_passwords(path, users)[users[0].password_env]
    assert replaced != password and natsauth.is_config_safe(replaced)
