"""The care journey, through the public HTTP and GraphQL interfaces, on PostgreSQL and NATS.

Civil affairs refers a left-behind child, sealed to care, through the ingest; the
school's care lead opens the file and forms a team (a volunteer mentor whose passed
check care learnt from the volunteers' events); home visits move the coverage figure in
GraphQL; care refers the child to health with the guardian's consent; health reads the
referral and accepts; the consent is withdrawn: health's next read and a second
referral are refused. The child gets a plan with a goal, a follow-up (a GraphQL
mutation, repeated safely with its idempotency key) and home-delivered teaching; the
clock moves past the goal's review and the care service's deadline puts the file on the
care lead's worklist as overdue; the care lead sees an emergency access with its reason
and who viewed the child. Nothing personal is on any stream, the access log verifies,
and erasing a child leaves the figures as they were. Bad input is refused with a problem and
nothing appended.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from contracts.volunteers import BackgroundCheckRecorded
from gateway.main import create_gateway
from services.care.application import CareApplication
from services.care.domain import intake_file_id, intake_id
from services.care.main import create_service as create_care
from services.ingest.main import create_service as create_ingest
from services.kit import bus
from services.kit.auth import DevIssuer
from services.kit.citytime import city_day
from services.kit.deadlines import FileClock
from services.kit.privacy.sealing import Jwks, SealingKeys, seal
from services.kit.settings import Settings
from services.kit.wire import envelope_for
from tests.e2e.conftest import journey_settings
from tests.support.apps import CLOUDEVENTS_JSON, running
from tests.support.streams import nats_client, read_stream
from tests.support.waiting import eventually

pytestmark = [pytest.mark.nats, pytest.mark.timeout(240)]

SCHOOL = "yz-dongguan-primary"
CHILD = "周小雨"
EVIDENCE = "民政留守儿童登记 parents in Suzhou"
VOLUNTEER = "0b9f3c52-6a1e-4d3b-8c47-5e2a9d1f7b60"
CIV_TYPE = "org.tongxin.registry.child-referred-to-care.v1"
GOAL = "speaks with her mother on video every Sunday"
FOLLOW_UP = "calmer in class since the call"
BREAK_GLASS = "fainted in the playground"


class People:
    def __init__(self, issuer: DevIssuer) -> None:
        self.issuer = issuer

    def header(self, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(**claims)}"}

    @property
    def officer(self) -> dict[str, str]:
        return self.header(role="coordinator", department="edu", subject="officer", scope="city")

    @property
    def lead(self) -> dict[str, str]:
        return self.header(
            role="school-staff", department="edu", subject="lead-1", scope=f"school:{SCHOOL}"
        )

    def system(self, department: str) -> dict[str, str]:
        return self.header(role="department-system", department=department, subject=department)


@pytest.fixture
def settings(pg_settings: Settings, nats_url: str, dev_issuer: DevIssuer) -> Settings:
    return journey_settings(pg_settings, nats_url, dev_issuer)


@pytest.fixture
def clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileClock:
    """The care service's clock (and the gateway's day for care), moved by the test."""
    path = tmp_path / "clock"
    monkeypatch.setenv("TONGXIN_CLOCK_FILE", str(path))
    return FileClock(path)


@pytest.fixture
async def stack(
    settings: Settings, dev_issuer: DevIssuer, tmp_path: Path, clock: FileClock
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient]]:
    care_app = create_care(settings)
    ingest_app = create_ingest(settings)
    keys: SealingKeys = care_app.state.parts.sealing

    async def care_jwks(service: str) -> Jwks:
        assert service == "care"
        return keys.jwks()

    ingest_app.state.receivers.fetch = care_jwks
    # The gateway asks the care service itself (as the caller) for commands and reasons.
    upstream = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=care_app), base_url="http://care"
    )
    gateway_app = create_gateway(
        settings, readmodel_dir=tmp_path / "readmodels", http_clients={"care": upstream}
    )
    async with (
        upstream,
        running(care_app) as care,
        running(ingest_app) as ingest,
        running(gateway_app) as gateway,
    ):
        care.app = care_app  # type: ignore[attr-defined]
        yield care, ingest, gateway


@pytest.fixture
async def care_alone(dev_issuer: DevIssuer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The care API without the bus: what bad input does (nothing) needs no relay."""
    settings = Settings(
        state_dir=tmp_path / "alone", auth_jwks_url=str(dev_issuer.jwks_path),
        relay_in_process=False,
    )  # fmt: skip
    app = create_care(settings)
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def ingest_alone(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, SealingKeys]]:
    """The ingest, with the care service's public keys as care serves them."""
    care_keys = SealingKeys.generate()

    async def care_jwks(service: str) -> Jwks:
        return care_keys.jwks()

    app = create_ingest(settings)
    app.state.receivers.fetch = care_jwks
    async with running(app) as client:
        yield client, care_keys


def app_of(care: httpx.AsyncClient) -> CareApplication:
    return care.app.state.application  # type: ignore[attr-defined]


def referral_event(jwks: Jwks, referral_id: str) -> dict[str, Any]:
    details = {
        "name": CHILD,
        "school_id": SCHOOL,
        "class_id": "g4-c1",
        "category": "left-behind",
        "evidence": EVIDENCE,
    }
    now = datetime.now(UTC).isoformat()
    return {
        "specversion": "1.0",
        "id": f"civ-{referral_id}",
        "source": "/civ/registry",
        "type": CIV_TYPE,
        "time": now,
        "datacontenttype": "application/json",
        "data": {"referral_id": referral_id, "referred_at": now, "child": seal(details, jwks)},
    }


async def publish_passed_check(settings: Settings, volunteer_id: str) -> None:
    """What the volunteers service publishes once public security passed the volunteer."""
    event = BackgroundCheckRecorded(
        volunteer_id=volunteer_id, check_id="chk-1", outcome="passed", expires_on=date(2099, 1, 1)
    )
    envelope = envelope_for(event, id="vol-check-1", source="/volunteers", subject=volunteer_id)
    async with nats_client(settings.nats_urls) as nc:
        js = nc.jetstream(timeout=10)
        await bus.ensure_stream(js, "volunteers", settings)
        await js.publish(envelope.nats_subject(), envelope.payload(), headers=envelope.headers())


async def graphql(
    gateway: httpx.AsyncClient,
    headers: dict[str, str],
    query: str,
    variables: dict[str, Any] | None = None,
) -> Any:
    response = await gateway.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


COVERAGE = (
    "{ careCoverage(level: SCHOOL) { edges { node { key filesInCare { value suppressed } "
    "visited { value suppressed } shareVisited } } } }"
)


async def school_coverage(gateway: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    data = await graphql(gateway, headers, COVERAGE)
    rows = {e["node"]["key"]: e["node"] for e in data["careCoverage"]["edges"]}
    return rows.get(SCHOOL, {})


async def test_a_referred_child_from_referral_to_withdrawn_consent(
    stack: tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient],
    settings: Settings,
    dev_issuer: DevIssuer,
    clock: FileClock,
) -> None:
    care, ingest, gateway = stack
    people = People(dev_issuer)
    app = app_of(care)
    today = city_day(datetime.now(UTC))

    # The district names the school's care lead.
    answer = await care.put(
        f"/schools/{SCHOOL}/care-lead", json={"account": "lead-1"}, headers=people.officer
    )
    assert answer.status_code == 200, answer.text

    # Civil affairs refers a left-behind child, sealed to care, through the ingest.
    jwks = (await care.get("/.well-known/jwks.json")).json()
    posted = await ingest.post(
        "/events",
        content=json.dumps(referral_event(jwks, "civ-r-1"), ensure_ascii=False).encode(),
        headers=people.system("civ") | CLOUDEVENTS_JSON,
    )
    assert posted.status_code == 202, posted.text

    # The care lead opens the file once care has received the referral.
    intake = intake_id("civ", "civ-r-1")

    async def opened() -> str | None:
        response = await care.post(f"/intakes/{intake}/file", json={}, headers=people.lead)
        assert response.status_code == 201, response.text
        return str(response.json()["file_id"])

    file_id = await eventually(opened, timeout=30, message="the civ referral reached care")
    assert UUID(file_id) == intake_file_id("civ", "civ-r-1")

    # A team: the head teacher leads; a volunteer mentors once care learnt their check.
    team = f"/files/{file_id}/team"
    lead = {"account": "ht-1", "role": "lead", "kind": "teacher"}
    assert (await care.post(team, json=lead, headers=people.lead)).status_code == 200
    mentor = {"account": VOLUNTEER, "role": "mentor", "kind": "volunteer"}
    refused = await care.post(team, json=mentor, headers=people.lead)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "background-check-required"
    await publish_passed_check(settings, VOLUNTEER)

    async def mentored() -> bool:
        response = await care.post(team, json=mentor, headers=people.lead)
        return response.status_code == 200

    await eventually(mentored, timeout=30, message="care learnt the volunteer's check")
    seen = await care.get(
        f"/files/{file_id}",
        headers=people.header(role="volunteer", subject=VOLUNTEER),
    )
    assert seen.status_code == 200, seen.text
    assert seen.json()["name"] == CHILD and "categories" not in seen.json()

    # Eleven more children at the school, then home visits move the coverage figure.
    files = [file_id]
    for n in range(11):
        body = {"school_id": SCHOOL, "class_id": "g5-c1",
                "name": f"child {n}"}  # fmt: skip
        opened_file = await care.post("/files", json=body, headers=people.lead)
        assert opened_file.status_code == 201, opened_file.text
        files.append(opened_file.json()["file_id"])
    viewer = people.header(role="viewer", department="edu", subject="dashboard")
    before = await eventually(lambda: school_coverage(gateway, viewer), timeout=30)
    await eventually(
        lambda: _files_shown(gateway, viewer, 12), timeout=30, message="12 files projected"
    )
    before = await school_coverage(gateway, viewer)
    assert before["visited"] == {"value": None, "suppressed": "<5"}
    visit = {"visited_on": today.isoformat(), "mode": "home",
             "visitors": ["head-teacher", "volunteer"], "notes": "grandmother caring, well",
             "next_visit_on": (today + timedelta(days=60)).isoformat()}  # fmt: skip
    for fid in files[:6]:
        recorded = await care.post(f"/files/{fid}/visits", json=visit, headers=people.lead)
        assert recorded.status_code == 201, recorded.text

    async def moved() -> dict[str, Any] | None:
        row = await school_coverage(gateway, viewer)
        return row if row.get("visited", {}).get("value") == 6 else None

    after = await eventually(moved, timeout=30, message="coverage moved")
    assert after["shareVisited"] == 0.5 and after["filesInCare"]["value"] == 12

    # The lead's worklist: the six families not visited are due.
    worklist = await graphql(
        gateway, people.lead, "{ careWorklist(first: 50) { edges { node { fileId visitDue } } } }"
    )
    due = {e["node"]["fileId"] for e in worklist["careWorklist"]["edges"]}
    assert due == set(files[6:])

    # Care refers the child to health with the guardian's consent; health accepts.
    consent = await care.post(
        f"/files/{file_id}/consents",
        json={
            "purpose": "psychological-support",
            "recipients": ["hlth"],
            "guardian": "周奶奶",
            "granted_on": today.isoformat(),
        },  # fmt: skip
        headers=people.lead,
    )
    assert consent.status_code == 201, consent.text
    consent_id = consent.json()["consent_id"]
    referral_body = {"department": "hlth", "purpose": "psychological-support",
                     "consent_id": consent_id}  # fmt: skip
    sent = await care.post(f"/files/{file_id}/referrals", json=referral_body, headers=people.lead)
    assert sent.status_code == 201, sent.text
    referral_id = sent.json()["referral_id"]
    health = people.system("hlth")
    read = await care.get(f"/referrals/{referral_id}", headers=health)
    assert read.status_code == 200 and read.json()["name"] == CHILD, read.text
    accepted = await care.post(
        f"/referrals/{referral_id}/answer", json={"status": "accepted"}, headers=health
    )
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"

    # The guardian withdraws consent: sharing stops at once.
    withdrawn = await care.post(f"/consents/{consent_id}/withdrawal", json={}, headers=people.lead)
    assert withdrawn.status_code == 200, withdrawn.text
    head = app.recorder.max_notification_id()
    again = await care.get(f"/referrals/{referral_id}", headers=health)
    assert again.status_code == 403 and again.json()["code"] == "no-basis-for-sharing"
    second = await care.post(f"/files/{file_id}/referrals", json=referral_body, headers=people.lead)
    assert second.status_code == 403 and second.json()["code"] == "no-basis-for-sharing"
    assert app.recorder.max_notification_id() == head

    # Every read and refusal is in the access log, and the chain holds.
    log = app.privacy.log
    outcomes = [(e.department, e.outcome) for e in log.who_viewed(file_id)]
    assert ("hlth", "allowed") in outcomes and ("hlth", "denied") in outcomes
    assert log.verify().ok

    # A plan: a goal reviewed in three days, and a follow-up through GraphQL.
    goal = await care.post(
        f"/files/{file_id}/goals",
        json={"goal": GOAL, "review_on": (today + timedelta(days=3)).isoformat()},
        headers=people.lead,
    )
    assert goal.status_code == 201, goal.text
    follow_up = (
        "mutation($input: AddCareFollowUpInput!) { addCareFollowUp(input: $input) { "
        "__typename ... on CareFileChanged { recordedId } ... on CareCommandError { code } } }"
    )
    entry = {"fileId": file_id, "on": today.isoformat(), "mode": "TALK", "notes": FOLLOW_UP,
             "goalId": goal.json()["goal_id"], "idempotencyKey": "fu-1"}  # fmt: skip
    once = (await graphql(gateway, people.lead, follow_up, {"input": entry}))["addCareFollowUp"]
    twice = (await graphql(gateway, people.lead, follow_up, {"input": entry}))["addCareFollowUp"]
    assert once["__typename"] == "CareFileChanged" and once == twice
    future = entry | {"on": (today + timedelta(days=9)).isoformat(), "idempotencyKey": "fu-2"}
    refused = await graphql(gateway, people.lead, follow_up, {"input": future})
    assert refused["addCareFollowUp"] == {"__typename": "CareCommandError", "code": "rule-violated"}

    # Home-delivered teaching: the head teacher goes twice a week; one session so far.
    scheduled = await care.put(
        f"/files/{file_id}/home-teaching",
        json={"teacher": "ht-1", "sessions_per_week": 2, "starts_on": today.isoformat(),
              "ends_on": (today + timedelta(days=60)).isoformat(),
              "reason": "broken leg, at home for two months"},
        headers=people.lead,
    )  # fmt: skip
    assert scheduled.status_code == 200, scheduled.text
    session = await care.post(
        f"/files/{file_id}/home-teaching/sessions",
        json={"delivered_on": today.isoformat(), "hours": 2, "subject": "maths",
              "teacher": "ht-1", "notes": "fractions, did well"},
        headers=people.lead,
    )  # fmt: skip
    assert session.status_code == 201, session.text

    async def taught() -> dict[str, Any] | None:
        data = await graphql(
            gateway,
            viewer,
            "{ careHomeTeaching(level: DISTRICT) { edges { node { key "
            "children { value suppressed } sessionsDelivered } } } }",
        )
        edges = data["careHomeTeaching"]["edges"]
        return edges[0]["node"] if edges else None

    # One child taught at home: the viewer sees a suppressed cell, not a one.
    figure = await eventually(taught, timeout=30, message="home teaching projected")
    assert figure["children"] == {"value": None, "suppressed": "<5"}
    assert figure["sessionsDelivered"] is None

    # Five days later nobody has reviewed the goal: the care service's deadline flags it
    # and it surfaces on the care lead's worklist (its review passed, on the service's day).
    clock.move(timedelta(days=5))
    flagged_query = (
        "{ careWorklist(first: 50) { edges { node { fileId reviewOverdue reviewFlaggedOn } } } }"
    )

    async def flagged() -> dict[str, Any] | None:
        data = await graphql(gateway, people.lead, flagged_query)
        rows = {e["node"]["fileId"]: e["node"] for e in data["careWorklist"]["edges"]}
        row = rows.get(file_id)
        return row if row and row["reviewFlaggedOn"] else None

    row = await eventually(flagged, timeout=60, message="the overdue review surfaced")
    assert (
        row["reviewOverdue"] and row["reviewFlaggedOn"] == (today + timedelta(days=3)).isoformat()
    )

    # An emergency access by a teacher not on the team: the care lead sees it, with the
    # reason, and who viewed the child (health's refused read among them).
    stranger = people.header(
        role="school-staff", department="edu", subject="staff-7", scope=f"school:{SCHOOL}"
    )
    broke = await care.post(
        f"/files/{file_id}/break-glass", json={"reason": BREAK_GLASS}, headers=stranger
    )
    assert broke.status_code == 201, broke.text
    alerts = await graphql(
        gateway,
        people.lead,
        f'{{ careBreakGlassAlerts(schoolId: "{SCHOOL}") {{ fileId account reason open }} }}',
    )
    assert alerts["careBreakGlassAlerts"] == [
        {"fileId": file_id, "account": "staff-7", "reason": BREAK_GLASS, "open": True}
    ]
    viewed = await graphql(
        gateway,
        people.lead,
        f'{{ careFileAccessLog(fileId: "{file_id}", first: 50) '
        "{ edges { node { department outcome } } } }",
    )
    entries = [e["node"] for e in viewed["careFileAccessLog"]["edges"]]
    assert {"department": "hlth", "outcome": "denied"} in entries
    assert (await care.get(f"/schools/{SCHOOL}/break-glass", headers=stranger)).status_code == 403

    # Erasing a visited child leaves the figures as they were.
    erased = await care.post(f"/files/{files[1]}/erase", json={}, headers=people.officer)
    assert erased.status_code == 200, erased.text
    await eventually(
        lambda: _timeline_gone(gateway, people.officer, files[1]), timeout=30, message="erased"
    )
    assert await school_coverage(gateway, viewer) == after

    # Nothing personal on any stream: no name, evidence, note, guardian or category.
    forbidden = [CHILD, EVIDENCE, "grandmother", "周奶奶", "left-behind", "child 0", GOAL,
                 FOLLOW_UP, BREAK_GLASS, "broken leg", "fractions"]  # fmt: skip
    for stream in ("CARE", "REGISTRY"):
        for message in await read_stream(settings.nats_urls, stream):
            text = message.data.decode("utf-8", "replace") + json.dumps(message.headers)
            assert not [w for w in forbidden if w in text], (stream, message.subject)


async def _files_shown(gateway: httpx.AsyncClient, headers: dict[str, str], n: int) -> bool:
    row = await school_coverage(gateway, headers)
    return bool(row) and row["filesInCare"]["value"] == n


async def _timeline_gone(gateway: httpx.AsyncClient, headers: dict[str, str], fid: str) -> bool:
    query = f'{{ careFileTimeline(fileId: "{fid}") {{ edges {{ node {{ kind }} }} }} }}'
    return (await graphql(gateway, headers, query))["careFileTimeline"] is None


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("categories", {"category": "rich", "evidence": "x", "review_on": "2099-01-01"}, 422,
         "invalid-request"),
        ("visits", {"visited_on": "2099-01-01", "mode": "home", "notes": "x",
                    "visitors": ["head-teacher", "volunteer"]}, 422, "visit-rule"),
        ("referrals", {"department": "nasa", "purpose": "protection",
                       "legal_basis": "minors-protection-law"}, 422, "rule-violated"),
        ("status", {"status": "closed", "reason": "x", "expected_version": 1}, 409,
         "stale-version"),
        ("goals", {"goal": "x", "review_on": "2020-01-01"}, 422, "rule-violated"),
        ("home-teaching/sessions", {"delivered_on": "2020-01-01", "hours": 1,
                                    "subject": "maths", "notes": "x"}, 422,
         "home-teaching-rule"),
        ("follow-ups", {"on": "2020-01-01", "mode": "talk", "notes": "x",
                        "goal_id": "00000000-0000-4000-8000-000000000000"}, 422,
         "rule-violated"),
    ],
    ids=["unknown-category", "visit-in-the-future", "unknown-department", "stale-version",
         "goal-reviewed-in-the-past", "session-without-schedule", "follow-up-of-no-goal"],
)  # fmt: skip
async def test_bad_input_is_a_problem_and_appends_nothing(
    care_alone: httpx.AsyncClient,
    dev_issuer: DevIssuer,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    care = care_alone
    people = People(dev_issuer)
    opened = await care.post(
        "/files",
        json={"school_id": SCHOOL, "class_id": "c", "name": "n"},
        headers=people.officer,
    )
    assert opened.status_code == 201, opened.text
    fid = opened.json()["file_id"]
    # The file moves on to version 2: a client still at version 1 is stale.
    tagged = await care.post(
        f"/files/{fid}/categories",
        json={"category": "poor", "evidence": "subsidy record", "review_on": "2099-01-01"},
        headers=people.officer,
    )
    assert tagged.status_code == 200, tagged.text
    head = app_of(care).recorder.max_notification_id()
    response = await care.post(f"/files/{fid}/{path}", json=body, headers=people.officer)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert app_of(care).recorder.max_notification_id() == head


async def test_a_payload_sealed_for_another_service_is_refused_at_the_ingest(
    ingest_alone: tuple[httpx.AsyncClient, SealingKeys],
    settings: Settings,
    dev_issuer: DevIssuer,
) -> None:
    ingest, care_keys = ingest_alone
    accepted = await ingest.post(
        "/events",
        content=json.dumps(referral_event(care_keys.jwks(), "civ-r-8")).encode(),
        headers=People(dev_issuer).system("civ") | CLOUDEVENTS_JSON,
    )
    assert accepted.status_code == 202, accepted.text  # the same, sealed to care, passes
    someone_else = SealingKeys.generate().jwks()
    posted = await ingest.post(
        "/events",
        content=json.dumps(referral_event(someone_else, "civ-r-9")).encode(),
        headers=People(dev_issuer).system("civ") | CLOUDEVENTS_JSON,
    )
    assert posted.status_code == 422, posted.text
    assert posted.json()["code"] == "sealed-field-refused"
    assert CHILD not in posted.text
    async with nats_client(settings.nats_urls) as nc:
        js = nc.jetstream(timeout=5)
        info = await js.stream_info(bus.stream_name("registry"))
        assert info.state.messages == 1  # only the one sealed to care
