"""`tongxin privacy`: an operator erases a volunteer, lists who viewed them, verifies the log."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner

from services.kit.eventstore import build_application
from services.kit.privacy.datakeys import ERASED
from services.kit.privacy.personal import PersonalData
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from tongxin import cli

runner = CliRunner()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("TONGXIN_STATE_DIR", str(folder))
    monkeypatch.delenv("TONGXIN_CIPHER_KEY", raising=False)
    # As `tongxin run` leaves it: the store's key in the state folder.
    cli.ensure_cipher_keys(folder / "keys")
    return folder


@pytest.fixture
def app(state: Path) -> Iterator[VolunteersApplication]:
    key = cli.cipher_key_path(state / "keys", "volunteers").read_text().strip()
    settings = Settings(state_dir=state, cipher_key=key)  # type: ignore[arg-type]
    application = build_application(VolunteersApplication, settings, "volunteers")
    application.personal = personal = PersonalData.open(settings, "volunteers")
    yield application
    application.close()
    personal.close()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli.app, ["privacy", *args])
    return result.exit_code, result.output


def test_erase_who_viewed_and_verify(app: VolunteersApplication, state: Path) -> None:
    vid = app.register_volunteer(None, display_name="Sun Qi", kind="youth", school_id="s1")[
        "volunteer_id"
    ]
    code, out = invoke("erase", "volunteers", vid, "--reason", "request 2026-117")
    assert code == 0, out
    assert json.loads(out)["volunteer_id"] == vid
    assert app.display_name(app.volunteer(UUID(vid))) is ERASED
    code, again = invoke("erase", "volunteers", vid, "--reason", "request 2026-117")
    assert code == 0 and json.loads(again)["erased_at"] == json.loads(out)["erased_at"]

    code, out = invoke("who-viewed", "volunteers", vid, "--json")
    assert code == 0, out
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["role"], r["purpose"], r["outcome"]) for r in rows] == [
        ("operator", "request 2026-117", "allowed")
    ] * 2

    code, out = invoke("verify", "volunteers")
    assert code == 0 and "2 entries, chain intact" in out, out
    with sqlite3.connect(state / "data" / "volunteers.sqlite3") as conn:
        conn.execute("UPDATE access_log SET purpose = 'nothing to see' WHERE seq = 1")
    code, out = invoke("verify", "volunteers")
    assert code == 1 and "broken at entry 1" in out, out


def test_unknown_service_and_bad_id_are_refused(state: Path) -> None:
    code, out = invoke("verify", "gateway")
    assert code == 2 and "keeps no personal data" in out
    code, out = invoke("erase", "volunteers", "not-a-uuid", "--reason", "x")
    assert code == 2 and "not a volunteer id" in out
    missing = "00000000-0000-4000-8000-000000000000"
    code, out = invoke("erase", "volunteers", missing, "--reason", "x")
    assert code == 1 and "not found" in out
