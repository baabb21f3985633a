"""Every read of a name through GraphQL is in the volunteers service's access log.

Against the real volunteers service, gateway and nats-server: a Youth League coordinator
of one school lists volunteers with their names; the service's log then holds an allowed
entry per volunteer shown, naming that coordinator. A coordinator of another school
reaches the same volunteers only through their own school's shift, which the gateway
allows and the service, keyed on the volunteer's home school, does not: the names read
as null and the service logs the refusals. Editing one stored row of the log breaks
its chain where the edit is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.main import create_gateway
from services.kit.auth import DevIssuer
from services.kit.privacy.audit import AccessLog, Entry
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from tests.e2e.test_personal_data import gateway_client, projected, query
from tests.e2e.test_volunteer_journey import SCHOOL, register, service_client
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(180)

OTHER_SCHOOL = "yz-xiguan-primary"
IN_SCOPE = "coordinator-dongguan"
OUT_OF_SCOPE = "coordinator-xiguan"

LIST = "{ volunteers(first: 50) { edges { node { id schoolId displayName } } } }"
SHIFT = """
query ($id: ID!) {
  shift(id: $id) { schoolId signUps { volunteerId volunteer { id displayName } } }
}
"""


@pytest.fixture
def store_settings(tmp_path: Path) -> Settings:
    # The tampering edits the service's SQLite file; the PostgreSQL log is tampered with
    # in tests/integration/test_volunteers_privacy.py.
    return Settings(store="sqlite", state_dir=tmp_path / "state")


@pytest.fixture
async def gateway_app(
    settings: Settings, volunteers: httpx.AsyncClient, tmp_path: Path
) -> AsyncIterator[Any]:
    async with service_client(volunteers) as upstream:
        app = create_gateway(
            settings, readmodel_dir=tmp_path / "readmodels", http_clients={"volunteers": upstream}
        )
        async with app.router.lifespan_context(app):
            yield app


def coordinator(issuer: DevIssuer, subject: str, school: str) -> str:
    return issuer.token(
        role="coordinator", department="cyl", subject=subject, scope=f"school:{school}"
    )


def access_log(volunteers: httpx.AsyncClient) -> AccessLog:
    application = volunteers.app.state.application  # type: ignore[attr-defined]
    assert isinstance(application, VolunteersApplication)
    return application.privacy.log


def by(log: AccessLog, subject: str) -> list[Entry]:
    return [e for e in log.entries() if e.subject == subject]


async def register_at(volunteers: httpx.AsyncClient, name: str, school: str) -> str:
    body = {"display_name": name, "kind": "parent", "school_id": school}
    response = await volunteers.post("/volunteers", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["volunteer_id"])


async def shift_with(volunteers: httpx.AsyncClient, school: str, volunteer_ids: list[str]) -> str:
    start = datetime.now(UTC) + timedelta(days=2)
    body = {
        "school_id": school,
        "post": "library",
        "title": "Library hour",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "capacity": 10,
        "child_facing": False,
    }
    response = await volunteers.post("/shifts", json=body)
    assert response.status_code == 201, response.text
    shift_id = str(response.json()["shift_id"])
    for volunteer_id in volunteer_ids:
        signed = await volunteers.post(
            f"/shifts/{shift_id}/sign-ups", json={"volunteer_id": volunteer_id}
        )
        assert signed.status_code == 200, signed.text
    return shift_id


async def test_reads_through_graphql_are_logged_allowed_and_denied_and_tampering_shows(
    volunteers: httpx.AsyncClient,
    gateway_app: Any,
    dev_issuer: DevIssuer,
    settings: Settings,
) -> None:
    here = {
        await register(volunteers, f"Dongguan Parent {n}"): f"Dongguan Parent {n}" for n in range(3)
    }
    elsewhere = await register_at(volunteers, "Xiguan Parent", OTHER_SCHOOL)
    # Two of the Dongguan volunteers also help at a Xiguan shift.
    visiting = sorted(here)[:2]
    shift_id = await shift_with(volunteers, OTHER_SCHOOL, visiting)
    log = access_log(volunteers)
    assert log.verify().checked == 0  # Registering and signing up read no name.

    async with gateway_client(gateway_app, coordinator(dev_issuer, IN_SCOPE, SCHOOL)) as mine:
        await projected(mine, len(here))
        body = await query(mine, LIST)
    assert "errors" not in body, body
    shown = {e["node"]["id"]: e["node"] for e in body["data"]["volunteers"]["edges"]}
    assert {vid: node["displayName"] for vid, node in shown.items()} == here
    assert elsewhere not in shown

    allowed = by(log, IN_SCOPE)
    assert sorted(e.person_id for e in allowed) == sorted(here)
    for entry in allowed:
        assert (entry.role, entry.department, entry.fields, entry.outcome) == (
            "coordinator",
            "cyl",
            ("display_name",),
            "allowed",
        ), entry

    # The Xiguan coordinator's list keeps to Xiguan: the service is asked for no one else.
    theirs = coordinator(dev_issuer, OUT_OF_SCOPE, OTHER_SCHOOL)
    async with gateway_client(gateway_app, theirs) as other:

        async def signed_up() -> dict[str, Any] | None:
            found = await query(other, SHIFT, id=shift_id)
            shift = found["data"]["shift"]
            return found if shift and len(shift["signUps"]) == len(visiting) else None

        listed = await query(other, LIST)
        found = await eventually(signed_up, timeout=30, message="the sign-ups reach the gateway")
    assert {e["node"]["id"] for e in listed["data"]["volunteers"]["edges"]} == {elsewhere}
    assert "errors" not in found, found
    volunteers_seen = [s["volunteer"] for s in found["data"]["shift"]["signUps"]]
    assert sorted(v["id"] for v in volunteers_seen) == visiting
    assert all(v["displayName"] is None for v in volunteers_seen), volunteers_seen

    refused = [e for e in by(log, OUT_OF_SCOPE) if e.person_id in here]
    assert refused, "the refused reads were not logged"
    assert {e.person_id for e in refused} == set(visiting)
    for entry in refused:
        assert (entry.role, entry.department, entry.fields, entry.outcome) == (
            "coordinator",
            "cyl",
            ("display_name",),
            "denied",
        ), entry
    # The Xiguan volunteer's own name was theirs to read.
    assert [e.outcome for e in by(log, OUT_OF_SCOPE) if e.person_id == elsewhere] == ["allowed"]

    intact = log.verify()
    assert intact.ok and intact.checked == len(list(log.entries())), intact
    victim = refused[0]
    path = settings.state_dir / "data" / "volunteers.sqlite3"
    with sqlite3.connect(path) as conn:
        # Turn a refusal into an allowed read, as someone covering their tracks would.
        changed = conn.execute(
            "UPDATE access_log SET outcome = 'allowed' WHERE seq = ?", (victim.seq,)
        ).rowcount
    assert changed == 1
    broken = log.verify()
    assert not broken.ok and broken.broken_at == victim.seq, broken
