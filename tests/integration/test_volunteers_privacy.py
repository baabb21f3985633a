"""The volunteers service keeps names to itself: encrypted per person, every read logged,
erasable for good. Over its HTTP API, on SQLite and on the embedded PostgreSQL."""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from services.kit.auth import DevIssuer
from services.kit.privacy.datakeys import ERASED, DataKeys, is_token
from services.kit.privacy.personal import local_master_key
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from services.volunteers.main import create_service
from tests.support.apps import running

pytestmark = pytest.mark.timeout(120)
SCHOOL = "yz-dongguan-primary"


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, dev_issuer: DevIssuer) -> Settings:
    base: Settings = request.getfixturevalue(
        "pg_settings" if request.param == "postgres" else "sqlite_settings"
    )
    update: dict[str, Any] = {"auth_jwks_url": str(dev_issuer.jwks_path), "relay_in_process": False}
    if request.param == "postgres":
        # PostgreSQL needs its master key; SQLite makes one in the state folder.
        update["cipher_key"] = SecretStr(base64.b64encode(os.urandom(32)).decode())
    return base.model_copy(update=update)


@dataclass
class Api:
    client: httpx.AsyncClient
    issuer: DevIssuer
    settings: Settings

    @property
    def app(self) -> VolunteersApplication:
        application = self.client._transport.app.state.application  # type: ignore[attr-defined]
        assert isinstance(application, VolunteersApplication)
        return application

    def auth(self, **claims: Any) -> dict[str, str]:
        claims.setdefault("scope", "city")
        return {"Authorization": f"Bearer {self.issuer.token(**claims)}"}

    @property
    def owner(self) -> dict[str, str]:
        return self.auth(role="coordinator", department="cyl", subject="coordinator-1")

    async def register(self, name: str) -> str:
        body = {"display_name": name, "kind": "parent", "school_id": SCHOOL}
        response = await self.client.post("/volunteers", json=body, headers=self.owner)
        assert response.status_code == 201, response.text
        return str(response.json()["volunteer_id"])

    async def names(self, ids: list[str], headers: dict[str, str], **extra: Any) -> Any:
        response = await self.client.post(
            "/volunteers/names", json={"ids": ids, **extra}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def raw_rows(self, volunteer_id: str) -> list[bytes]:
        """The volunteer's stored events, as the store holds them."""
        return [e.state for e in self.app.recorder.select_events(UUID(volunteer_id))]


@pytest.fixture
async def api(settings: Settings, dev_issuer: DevIssuer) -> AsyncIterator[Api]:
    async with running(create_service(settings)) as client:
        yield Api(client, dev_issuer, settings)


def stored_name(api: Api, volunteer_id: str) -> str:
    """The name field of the volunteer's first stored event, as stored."""
    first = api.app.recorder.select_events(UUID(volunteer_id), limit=1)[0]
    event: Any = api.app.mapper.to_domain_event(first)
    return str(event.display_name)


def unique_name() -> str:
    return f"Name-{uuid4().hex}"


async def test_the_store_holds_no_name_only_a_token_for_its_person(api: Api) -> None:
    name = unique_name()
    vid = await api.register(name)
    rows = api.raw_rows(vid)
    assert rows and not any(name.encode() in row for row in rows)
    assert is_token(stored_name(api, vid))
    assert (await api.names([vid], api.owner))["names"] == {vid: name}
    response = await api.client.get(f"/volunteers/{vid}", headers=api.owner)
    assert response.json()["display_name"] == name and response.json()["erased"] is False
    entries = api.app.privacy.log.who_viewed(vid)
    assert [(e.subject, e.purpose, e.outcome) for e in entries] == [
        ("coordinator-1", "names lookup", "allowed"),
        ("coordinator-1", "volunteer record", "allowed"),
    ]


async def test_names_come_in_one_call_each_read_logged_with_its_outcome(api: Api) -> None:
    mine, other_school = await api.register(unique_name()), None
    body = {"display_name": "Elsewhere", "kind": "youth", "school_id": "another-school"}
    response = await api.client.post("/volunteers", json=body, headers=api.owner)
    other_school = response.json()["volunteer_id"]
    staff = api.auth(role="school-staff", department="edu", subject="t-1", scope=f"school:{SCHOOL}")
    before = api.head()
    answer = await api.names([mine, other_school, "nope"], staff, purpose="parents' evening")
    assert set(answer["names"]) == {mine}
    assert answer["denied"] == [other_school] and answer["unknown"] == ["nope"]
    assert api.head() == before, "reading names appends no event"

    log = api.app.privacy.log
    [allowed] = log.who_viewed(mine)
    assert (allowed.subject, allowed.role, allowed.department) == ("t-1", "school-staff", "edu")
    assert (allowed.fields, allowed.purpose, allowed.outcome) == (
        ("display_name",),
        "parents' evening",
        "allowed",
    )
    [refused] = log.who_viewed(other_school)
    assert (refused.subject, refused.outcome) == ("t-1", "denied")
    assert log.who_viewed("nope") == []
    assert log.verify().ok


async def test_a_page_of_names_is_read_in_one_go_and_logged_in_one_append(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = [await api.register(unique_name()) for _ in range(3)]
    body = {"display_name": "Elsewhere", "kind": "youth", "school_id": "another-school"}
    elsewhere = (await api.client.post("/volunteers", json=body, headers=api.owner)).json()
    other = elsewhere["volunteer_id"]
    staff = api.auth(role="school-staff", department="edu", subject="t-1", scope=f"school:{SCHOOL}")
    page = [*mine, other, str(uuid4()), "nope"]
    await api.names(page, staff)  # the volunteers are in the aggregate cache from here

    store = api.app.privacy.log.store
    appends: list[list[str]] = []
    append = store.append

    def counted(records: Any) -> Any:
        appends.append([r.outcome for r in records])
        return append(records)

    monkeypatch.setattr(store, "append", counted)
    recorder = api.app.recorder
    loads: list[UUID] = []
    select_events = recorder.select_events

    def counted_select(originator_id: UUID, **kwargs: Any) -> Any:
        loads.append(originator_id)
        return select_events(originator_id, **kwargs)

    monkeypatch.setattr(recorder, "select_events", counted_select)
    answer = await api.names(page, staff)
    assert set(answer["names"]) == set(mine) and answer["denied"] == [other]
    assert appends == [["allowed"] * 3 + ["denied"]], "one transaction for the whole page"
    assert loads == [], "cached volunteers are not loaded one by one"

    # After a restart (an empty aggregate cache) the page is still read in one go.
    cache = api.app.repository.cache
    assert cache is not None
    cache.clear()
    answer = await api.names(page, staff)
    assert set(answer["names"]) == set(mine) and answer["denied"] == [other]
    assert loads == [], "volunteers missing from the cache are not loaded one by one"

    # A volunteer changed since they were cached is read fresh.
    rename = {"display_name": "Renamed"}
    headers = api.owner | {"Idempotency-Key": "rename-1"}
    response = await api.client.put(
        f"/volunteers/{mine[0]}/display-name", json=rename, headers=headers
    )
    assert response.status_code == 200, response.text
    assert (await api.names(mine, staff))["names"][mine[0]] == "Renamed"
    assert api.app.privacy.log.verify().ok


async def test_a_refused_record_read_is_logged_too(api: Api) -> None:
    vid = await api.register(unique_name())
    stranger = api.auth(role="coordinator", department="pol", subject="pol-1")
    response = await api.client.get(f"/volunteers/{vid}?purpose=curious", headers=stranger)
    assert response.status_code == 403
    [entry] = api.app.privacy.log.who_viewed(vid)
    assert (entry.subject, entry.purpose, entry.outcome) == ("pol-1", "curious", "denied")


@pytest.mark.parametrize("count", [0, 101])
async def test_a_names_lookup_takes_1_to_100_ids(api: Api, count: int) -> None:
    ids = [str(uuid4()) for _ in range(count)]
    response = await api.client.post("/volunteers/names", json={"ids": ids}, headers=api.owner)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_tampering_with_one_stored_audit_row_is_detected(api: Api) -> None:
    ids = [await api.register(unique_name()) for _ in range(3)]
    await api.names(ids, api.owner)
    assert api.app.privacy.log.verify().checked == 3
    tamper(api.settings, "UPDATE access_log SET outcome = 'denied' WHERE seq = 2")
    found = api.app.privacy.log.verify()
    assert not found.ok and found.broken_at == 2, found


def tamper(settings: Settings, statement: str) -> None:
    if settings.store == "postgres":
        with psycopg.connect(
            host=settings.postgres_host,
            port=settings.postgres_port,
            user=settings.postgres_user,
            dbname=settings.postgres_dbname,
            autocommit=True,
        ) as conn:
            conn.execute(statement.encode())
    else:
        path = settings.state_dir / "data" / "volunteers.sqlite3"
        with sqlite3.connect(path) as conn:
            conn.execute(statement)


async def attend(api: Api, vid: str) -> float:
    """Put the volunteer on a shift running now and credit them an hour."""
    now = datetime.now(UTC)
    shift = {
        "school_id": SCHOOL,
        "post": "library",
        "title": "Library hour",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "capacity": 5,
        "child_facing": False,
    }
    response = await api.client.post("/shifts", json=shift, headers=api.owner)
    shift_id = response.json()["shift_id"]
    for step, at in (("sign-ups", None), ("check-ins", now - timedelta(hours=1))):
        body: dict[str, Any] = {"volunteer_id": vid} | ({"at": at.isoformat()} if at else {})
        response = await api.client.post(f"/shifts/{shift_id}/{step}", json=body, headers=api.owner)
        assert response.status_code == 200, response.text
    body = {"volunteer_id": vid, "at": now.isoformat()}
    response = await api.client.post(f"/shifts/{shift_id}/check-outs", json=body, headers=api.owner)
    assert response.status_code == 200, response.text
    return float(response.json()["volunteer_hours"])


async def test_erasure_shreds_the_name_keeps_the_figures_and_refuses_new_data(api: Api) -> None:
    name = unique_name()
    vid = await api.register(name)
    hours = await attend(api, vid)
    assert hours == 1.0
    before = (await api.client.get(f"/volunteers/{vid}", headers=api.owner)).json()

    key = {"Idempotency-Key": "erase-1"}
    first = await api.client.post(f"/volunteers/{vid}/erase", json={}, headers=api.owner | key)
    assert first.status_code == 200, first.text
    head = api.head()
    again = await api.client.post(f"/volunteers/{vid}/erase", json={}, headers=api.owner | key)
    other = {"Idempotency-Key": "erase-2"}
    later = await api.client.post(f"/volunteers/{vid}/erase", json={}, headers=api.owner | other)
    assert again.json() == first.json()
    assert later.json()["erased_at"] == first.json()["erased_at"]
    recorded = [n.topic for n in api.app.recorder.select_notifications(head + 1, 100)]
    assert recorded == ["services.kit.application:CommandRecord.Handled"], (
        "a repeated erasure records nothing new but its Idempotency-Key's answer"
    )

    # Stored events still load; the figures are unchanged; the name reads as erased.
    after = (await api.client.get(f"/volunteers/{vid}", headers=api.owner)).json()
    assert after["display_name"] is None and after["erased"] is True
    assert {k: after[k] for k in ("hours", "kind", "school_id")} == {
        k: before[k] for k in ("hours", "kind", "school_id")
    }
    assert (await api.names([vid], api.owner))["erased"] == [vid]

    # The raw rows hold a token that nothing opens any more, not even a fresh process.
    stored = api.app.recorder.select_events(UUID(vid))
    assert not any(name.encode() in e.state for e in stored)
    token = stored_name(api, vid)
    fresh = DataKeys(api.app.privacy.keys.store, local_master_key(api.settings, "volunteers"))
    assert fresh.decrypt(token, field="display_name") is ERASED

    # Nothing new is recorded about them.
    rename = await api.client.put(
        f"/volunteers/{vid}/display-name", json={"display_name": name}, headers=api.owner
    )
    assert rename.status_code == 409
    assert rename.headers["content-type"] == "application/problem+json"
    assert rename.json()["code"] == "person-erased"
    check = await api.client.post(
        f"/volunteers/{vid}/background-checks", json={}, headers=api.owner
    )
    assert check.status_code == 409 and check.json()["code"] == "person-erased"

    entries = api.app.privacy.log.who_viewed(vid)
    assert [e.purpose for e in entries if e.purpose == "erasure"] == ["erasure"] * 3


async def test_only_the_owners_senior_staff_erase(api: Api) -> None:
    vid = await api.register(unique_name())
    for claims in (
        {"role": "school-staff", "department": "cyl"},
        {"role": "coordinator", "department": "ccng"},
        {"role": "coordinator", "department": "cyl", "scope": "school:another-school"},
    ):
        response = await api.client.post(
            f"/volunteers/{vid}/erase", json={}, headers=api.auth(**claims)
        )
        assert response.status_code == 403, claims
    assert not api.app.privacy.keys.is_erased(vid)
    assert [e.outcome for e in api.app.privacy.log.who_viewed(vid)] == ["denied"] * 3


async def test_a_stream_written_before_encryption_still_reads(api: Api) -> None:
    """Events from before names were encrypted hold the name itself: it reads as it was,
    and as erased once erased (the plain text in those old rows is beyond a key's reach:
    `tongxin privacy migrate` rewrites them, see test_volunteers_privacy_migration)."""
    from services.volunteers.domain import Volunteer

    legacy = Volunteer(
        id=uuid4(),
        display_name="Old Plain",
        kind="youth",
        school_id=SCHOOL,
        registered_at=datetime.now(UTC),
    )
    api.app.save(legacy)
    vid = str(legacy.id)
    assert (await api.names([vid], api.owner))["names"] == {vid: "Old Plain"}
    response = await api.client.post(f"/volunteers/{vid}/erase", json={}, headers=api.owner)
    assert response.status_code == 200
    assert (await api.names([vid], api.owner))["erased"] == [vid]
    assert api.app.volunteer(legacy.id).erased


def test_without_a_cipher_key_postgres_keeps_one_master_key_in_the_database(
    pg_settings: Settings,
) -> None:
    from services.kit.privacy.personal import PersonalData

    first = PersonalData.open(pg_settings, "volunteers")
    try:
        token = first.keys.encrypt("v-1", "display_name", "Qian Ba")
    finally:
        first.close()
    again = PersonalData.open(pg_settings, "volunteers")
    try:
        assert again.keys.decrypt(token, field="display_name") == "Qian Ba"
    finally:
        again.close()


def access_log_path(vid: str) -> str:
    return f"/volunteers/{vid}/access-log"


async def access_log(api: Api, vid: str, headers: dict[str, str], **params: Any) -> Any:
    response = await api.client.get(access_log_path(vid), params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_who_viewed_a_volunteer_newest_first_refusals_and_its_own_reads_included(
    api: Api,
) -> None:
    vid = await api.register(unique_name())
    other = await api.register(unique_name())
    await api.names([vid, other], api.owner, purpose="shift planning")
    school_staff = api.auth(
        role="school-staff", department="edu", subject="teacher-7", scope="school:another-school"
    )
    await api.names([vid], school_staff)
    supervisor = api.auth(role="admin", department="cyl", subject="admin-1")

    first = await access_log(api, vid, supervisor)
    assert first["volunteer_id"] == vid and first["next_cursor"] is None
    assert [
        (e["subject"], e["role"], e["department"], e["fields"], e["purpose"], e["outcome"])
        for e in first["entries"]
    ] == [
        ("teacher-7", "school-staff", "edu", ["display_name"], "names lookup", "denied"),
        ("coordinator-1", "coordinator", "cyl", ["display_name"], "shift planning", "allowed"),
    ]
    seqs = [e["seq"] for e in first["entries"]]
    assert seqs == sorted(seqs, reverse=True)
    assert all(datetime.fromisoformat(e["at"]).tzinfo is not None for e in first["entries"])

    # Reading the log is logged, and shows from the next read on.
    second = await access_log(api, vid, supervisor)
    assert second["entries"][0] | {"seq": 0, "at": ""} == {
        "seq": 0,
        "at": "",
        "subject": "admin-1",
        "role": "admin",
        "department": "cyl",
        "fields": ["access_log"],
        "purpose": "who viewed",
        "outcome": "allowed",
    }
    assert second["entries"][1:] == first["entries"]
    assert api.app.privacy.log.verify().ok


async def test_the_access_log_comes_in_pages_that_cover_it_once(api: Api) -> None:
    vid = await api.register(unique_name())
    other = await api.register(unique_name())
    for n in range(7):
        await api.names([vid, other], api.owner, purpose=f"read {n}")
    expected = [e.seq for e in reversed(api.app.privacy.log.who_viewed(vid))]
    assert len(expected) == 7

    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await access_log(api, vid, api.owner, **params)
        # Each page's own read is logged after it is taken, so later pages never show it.
        seen += [e["seq"] for e in page["entries"]]
        assert all(e["purpose"] != "who viewed" for e in page["entries"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and pages == 3

    for bad in ({"limit": 0}, {"limit": 101}, {"cursor": "-1"}, {"cursor": "abc"}):
        response = await api.client.get(access_log_path(vid), params=bad, headers=api.owner)
        assert response.status_code == 422, bad


async def test_a_volunteer_reads_who_viewed_their_own_data_and_no_one_elses(api: Api) -> None:
    vid = await api.register(unique_name())
    other = await api.register(unique_name())
    await api.names([vid, other], api.owner)

    mine = await access_log(api, vid, api.auth(role="volunteer", subject=vid))
    assert [(e["subject"], e["outcome"]) for e in mine["entries"]] == [("coordinator-1", "allowed")]

    response = await api.client.get(
        access_log_path(other), headers=api.auth(role="volunteer", subject=vid)
    )
    assert response.status_code == 403
    newest = api.app.privacy.log.who_viewed(other)[-1]
    assert (newest.subject, newest.role, newest.purpose, newest.outcome) == (
        vid,
        "volunteer",
        "who viewed",
        "denied",
    )


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"role": "school-staff", "department": "cyl"}, "school staff are not supervisors"),
        ({"role": "school-staff", "department": "edu"}, "a granted department"),
        ({"role": "coordinator", "department": "ccng"}, "a granted department's coordinator"),
        ({"role": "coordinator", "department": "cyl", "scope": "school:another-school"}, "scope"),
        ({"role": "viewer", "department": "cyl"}, "viewers read no personal data"),
    ],
)
async def test_a_refused_access_log_read_is_a_problem_and_is_logged(
    api: Api, claims: dict[str, Any], why: str
) -> None:
    vid = await api.register(unique_name())
    headers = api.auth(subject="refused-1", **claims)
    response = await api.client.get(access_log_path(vid), headers=headers)
    assert response.status_code == 403, why
    assert response.headers["content-type"].startswith("application/problem+json"), why
    assert response.json()["code"] == "forbidden"
    entries = api.app.privacy.log.who_viewed(vid)
    assert [(e.subject, e.fields, e.purpose, e.outcome) for e in entries] == [
        ("refused-1", ("access_log",), "who viewed", "denied")
    ], why


async def test_the_access_log_of_no_volunteer_is_not_found_and_logs_nothing(api: Api) -> None:
    missing = str(uuid4())
    response = await api.client.get(access_log_path(missing), headers=api.owner)
    assert response.status_code == 404
    assert api.app.privacy.log.who_viewed(missing) == []


async def test_a_schools_volunteers_by_name_in_pages_each_page_logged(api: Api) -> None:
    # Five volunteers at one school, one elsewhere; one of the five is erased.
    school = f"school-{uuid4().hex[:8]}"
    ids: dict[str, str] = {}
    for name in ("delta", "Alpha", "charlie", "Bravo", "echo"):
        body = {"display_name": name, "kind": "parent", "school_id": school}
        response = await api.client.post("/volunteers", json=body, headers=api.owner)
        ids[name] = response.json()["volunteer_id"]
    await api.register("Aaron Elsewhere")
    erase = await api.client.post(f"/volunteers/{ids['charlie']}/erase", json={}, headers=api.owner)
    assert erase.status_code == 200, erase.text
    staff = api.auth(role="school-staff", department="edu", subject="t-9", scope=f"school:{school}")

    # Page through by two: by name whatever the case, the erased one last and nameless.
    pages: list[list[tuple[str, str | None]]] = []
    after: str | None = None
    while True:
        params = {"school_id": school, "first": "2"} | ({"after": after} if after else {})
        response = await api.client.get("/volunteers", params=params, headers=staff)
        assert response.status_code == 200, response.text
        answer = response.json()
        pages.append([(v["volunteer_id"], v["display_name"]) for v in answer["volunteers"]])
        after = answer["next_cursor"]
        if after is None:
            break
    assert pages == [
        [(ids["Alpha"], "Alpha"), (ids["Bravo"], "Bravo")],
        [(ids["delta"], "delta"), (ids["echo"], "echo")],
        [(ids["charlie"], None)],
    ]

    # Each name on a page is one read, logged for that person with the listing's purpose.
    log = api.app.privacy.log
    for name in ("Alpha", "Bravo", "delta", "echo"):
        [entry] = [e for e in log.who_viewed(ids[name]) if e.subject == "t-9"]
        assert (entry.purpose, entry.outcome, entry.fields) == (
            "volunteers by name",
            "allowed",
            ("display_name",),
        )
    assert log.verify().ok


async def test_viewers_and_other_schools_get_no_list_by_name(api: Api) -> None:
    school = f"school-{uuid4().hex[:8]}"
    body = {"display_name": "Someone", "kind": "parent", "school_id": school}
    vid = (await api.client.post("/volunteers", json=body, headers=api.owner)).json()[
        "volunteer_id"
    ]
    refused = [
        api.auth(role="viewer", department="cyl"),
        api.auth(role="school-staff", department="edu", scope="school:another-school"),
        api.auth(role="coordinator", department="pol"),
    ]
    for headers in refused:
        response = await api.client.get(
            "/volunteers", params={"school_id": school}, headers=headers
        )
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert api.app.privacy.log.who_viewed(vid) == [], "no one's name was read"

    # A cursor that names no volunteer of the school, and a bad page size, are refused.
    for params in (
        {"school_id": school, "after": str(uuid4())},
        {"school_id": school, "first": "101"},
        {"school_id": school, "after": "not-an-id"},
        {},
    ):
        response = await api.client.get("/volunteers", params=params, headers=api.owner)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["code"] in {"invalid-cursor", "invalid-request"}
