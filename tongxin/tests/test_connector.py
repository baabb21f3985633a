"""The department connector: typed publishers only into the department's own boundaries, and
the AsyncAPI document of its channels written by `tongxin asyncapi`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from contracts import action_items, checks, reports, volunteers
from tongxin.cli import app
from tongxin.connector import (
    ConnectorSettings,
    DepartmentConnector,
    NotOwnedError,
    RetiredVersionError,
)


def connector(department: str) -> DepartmentConnector:
    return DepartmentConnector(
        ConnectorSettings(department=department, nats_password=SecretStr("unused"))
    )


def test_a_department_publishes_only_its_own_event_types() -> None:
    pol = connector("pol")
    assert pol.user == "dept-pol"
    pol.publisher(checks.BackgroundCheckCompleted)
    with pytest.raises(NotOwnedError):
        pol.publisher(reports.LegalLectureGiven)
    with pytest.raises(NotOwnedError):
        pol.publisher(volunteers.BackgroundCheckRequested)


def test_a_retired_major_is_refused_so_its_free_text_never_reaches_the_bus() -> None:
    jus = connector("jus")
    (boundary,) = (
        b for b, cls in action_items.PROGRESS_BY_BOUNDARY.items() if cls.department() == "jus"
    )
    jus.publisher(action_items.PROGRESS_BY_BOUNDARY[boundary])
    with pytest.raises(RetiredVersionError):
        jus.publisher(action_items.LEGACY_BY_BOUNDARY[boundary])


def test_tongxin_asyncapi_writes_the_department_s_channels(tmp_path: Path) -> None:
    out = tmp_path / "pol.asyncapi.json"
    result = CliRunner().invoke(app, ["asyncapi", "pol", "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["asyncapi"] == "3.0.0"
    channels = document["channels"]
    assert set(channels) == {
        "evt.cyl.volunteers.background-check-requested:subscribe",
        "evt.pol.checks.background-check-completed:publish",
        "evt.pol.checks.safety-drill-supervised:publish",
        "evt.pol.checks.action-item-progress-reported:publish",
    }
    # Each channel's address is the NATS subject, each message's payload the contract model.
    completed = channels["evt.pol.checks.background-check-completed:publish"]
    assert completed["address"] == "evt.pol.checks.background-check-completed"
    schemas = document["components"]["schemas"]
    assert {"check_id", "volunteer_id", "outcome"} <= set(
        schemas["BackgroundCheckCompleted"]["properties"]
    )
    assert {op["action"] for op in document["operations"].values()} == {"send", "receive"}
