"""Committees' journeys through the public HTTP and GraphQL interfaces, on SQLite and
PostgreSQL with a real NATS: a suggestion escalates once at its deadline on a moved clock,
is answered and closed; bad input changes nothing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.city import load_city
from gateway.main import create_gateway
from services.committees.main import create_service
from services.kit.auth import DevIssuer
from services.kit.deadlines import FileClock
from services.kit.privacy.datakeys import is_token
from services.kit.settings import Settings
from tests.support.apps import CLOUDEVENTS_JSON, Tokens, running
from tests.support.apps import store_head as head
from tests.support.environ import settings_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(180)

SCHOOL = "yz-dongguan-primary"
OTHER_SCHOOL = "yz-meiling-primary"


class People:
    def __init__(self, issuer: DevIssuer) -> None:
        self.issuer = issuer

    def city(self) -> str:
        return self.issuer.token(
            role="coordinator", department="edu", subject="edu-city", scope="city"
        )

    def school_staff(self, school: str = SCHOOL) -> str:
        return self.issuer.token(
            role="school-staff",
            department="edu",
            subject=f"staff-{school}",
            scope=f"school:{school}",
        )

    def viewer(self) -> str:
        return self.issuer.token(role="viewer", department="edu", subject="dashboard")


@pytest.fixture
def clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileClock:
    path = tmp_path / "clock"
    monkeypatch.setenv("TONGXIN_CLOCK_FILE", str(path))
    return FileClock(path)


@pytest.fixture
def people(dev_issuer: DevIssuer) -> People:
    return People(dev_issuer)


@pytest.fixture
async def committees(
    settings: Settings, people: People, clock: FileClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service(settings)
    async with running(app, people.city()) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def gateway(
    settings: Settings, people: People, tmp_path: Path, committees: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    # Members' names are read from the running committees service, as the caller.
    upstream = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=committees.app),  # type: ignore[attr-defined]
        base_url="http://committees",
    )
    async with upstream:
        app = create_gateway(
            settings,
            readmodel_dir=tmp_path / "readmodels",
            http_clients={"committees": upstream},
        )
        async with running(app, people.viewer()) as client:
            yield client


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def form_class_committee(committees: httpx.AsyncClient, school: str = SCHOOL) -> str:
    formed = await committees.post(
        "/committees",
        json={
            "level": "class",
            "scope_id": school,
            "district": "guangling",
            "title": "三年级二班家委会",
            "term_ends_on": "2099-07-31",
        },
    )
    assert formed.status_code == 201, formed.text
    committee_id = str(formed.json()["committee_id"])
    joined = await committees.post(
        f"/committees/{committee_id}/members",
        json={"member_id": "p-1", "role": "chair", "name": "王芳"},
    )
    assert joined.status_code == 200, joined.text
    return committee_id


async def submit(committees: httpx.AsyncClient, committee_id: str, token: str) -> dict[str, Any]:
    response = await committees.post(
        "/suggestions",
        json={
            "committee_id": committee_id,
            "member_id": "p-1",
            "anonymous": True,
            "topic": "safety",
            "text": "放学时校门口车辆拥堵，建议增设护学岗。",
        },
        headers=as_(token),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def escalations_stored(committees: httpx.AsyncClient, suggestion_id: str) -> int:
    app = committees.app  # type: ignore[attr-defined]
    stored = app.state.application.recorder.select_events(UUID(suggestion_id))
    return sum(1 for e in stored if e.topic.endswith("Suggestion.Escalated"))


class TestSuggestionJourney:
    async def test_escalates_once_at_its_deadline_then_is_answered_and_closed(
        self,
        committees: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        people: People,
        clock: FileClock,
    ) -> None:
        # A class committee submits a suggestion; it is assigned to its school.
        committee_id = await form_class_committee(committees)
        submitted = await submit(committees, committee_id, people.school_staff())
        suggestion_id = submitted["suggestion_id"]
        assert (submitted["status"], submitted["level"]) == ("assigned", "school")

        # The school does not answer; the clock moves past the 15 working days.
        clock.move(timedelta(days=30))

        async def escalated() -> bool:
            found = (await committees.get(f"/suggestions/{suggestion_id}")).json()
            return bool(found["level"] == "district")

        await eventually(escalated, timeout=20, message="the suggestion escalates")
        found = (await committees.get(f"/suggestions/{suggestion_id}")).json()
        assert found["escalations"] == 1 and found["member_id"] is None  # anonymous
        # The district's new deadline is still ahead: the runner fires nothing more.
        await asyncio.sleep(1.0)
        assert escalations_stored(committees, suggestion_id) == 1

        # Now the district answers it (the school no longer may).
        refused = await committees.post(
            f"/suggestions/{suggestion_id}/answer",
            json={"text": "已协调交警设置临时停车区。"},
            headers=as_(people.school_staff()),
        )
        assert refused.status_code == 403, refused.text
        answered = await committees.post(
            f"/suggestions/{suggestion_id}/answer", json={"text": "已协调交警设置临时停车区。"}
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["on_time"] is False

        # The submitter is satisfied.
        closed = await committees.post(f"/suggestions/{suggestion_id}/close", json={"rating": 5})
        assert closed.status_code == 200, closed.text

        # The city's figures show it.
        query = """query ($school: String!) {
            committeeFigures { suggestionsByStatus { key count } escalated closed
                satisfiedShare answered onTimeByDepartment { key answered onTime }
                coverage { schools schoolsWithCommittee classes classesWithCommittee } }
            suggestions(schoolId: $school) { edges { node { id level escalations status rating } } }
            committees(schoolId: $school) { level members { role } }
        }"""

        async def shown() -> bool:
            data = await graphql(gateway, query, school=SCHOOL)
            return bool(data["committeeFigures"]["closed"] == 1)

        await eventually(shown, timeout=20, message="the figures reach the gateway")
        data = await graphql(gateway, query, school=SCHOOL)
        figures = data["committeeFigures"]
        assert figures["suggestionsByStatus"] == [{"key": "closed", "count": 1}]
        assert (figures["escalated"], figures["answered"], figures["satisfiedShare"]) == (1, 1, 1.0)
        assert figures["onTimeByDepartment"] == [{"key": "edu", "answered": 1, "onTime": 0}]
        # One class of the city's (contracts/city.json) has its committee; no school yet.
        city = load_city()
        assert figures["coverage"] == {
            "schools": len(city.schools),
            "schoolsWithCommittee": 0,
            "classes": sum(school.classes for school in city.schools),
            "classesWithCommittee": 1,
        }
        [edge] = data["suggestions"]["edges"]
        assert edge["node"] == {
            "id": suggestion_id,
            "level": "district",
            "escalations": 1,
            "status": "closed",
            "rating": 5,
        }
        assert data["committees"] == [{"level": "class", "members": [{"role": "chair"}]}]

        # The chair's name: the school's staff read it through the service (logged); the
        # dashboard's viewer and another school's staff read null.
        names = "query ($school: String!) { committees(schoolId: $school) { members { name } } }"
        seen = []
        for token in (people.school_staff(), people.viewer(), people.school_staff(OTHER_SCHOOL)):
            response = await gateway.post(
                "/graphql",
                json={"query": names, "variables": {"school": SCHOOL}},
                headers=as_(token),
            )
            body = response.json()
            assert "errors" not in body, body
            seen.append(body["data"]["committees"][0]["members"][0]["name"])
        assert seen == ["王芳", None, None]
        app = committees.app  # type: ignore[attr-defined]
        reads = app.state.application.privacy().log.who_viewed("p-1")
        assert [(r.subject, r.outcome) for r in reads] == [
            ("staff-yz-dongguan-primary", "allowed"),
            ("dashboard", "denied"),
            ("staff-yz-meiling-primary", "denied"),
        ]


class TestBadInput:
    async def test_refusals_append_nothing(
        self, committees: httpx.AsyncClient, people: People
    ) -> None:
        committee_id = await form_class_committee(committees)
        suggestion_id = (await submit(committees, committee_id, people.city()))["suggestion_id"]
        answer = {"text": "已处理。"}
        assert (
            await committees.post(f"/suggestions/{suggestion_id}/answer", json=answer)
        ).status_code == 200
        assert (
            await committees.post(f"/suggestions/{suggestion_id}/close", json={"rating": 4})
        ).status_code == 200
        before = head(committees)

        async def refused(
            path: str, body: dict[str, Any], status: int, token: str | None = None
        ) -> dict[str, Any]:
            response = await committees.post(path, json=body, headers=as_(token) if token else None)
            assert response.status_code == status, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert head(committees) == before
            return dict(response.json())

        # A member added to another school's committee by staff out of scope.
        await refused(
            f"/committees/{committee_id}/members",
            {"member_id": "p-9"},
            403,
            people.school_staff(OTHER_SCHOOL),
        )
        # An answer to a closed suggestion.
        problem = await refused(f"/suggestions/{suggestion_id}/answer", answer, 409)
        assert problem["code"] == "suggestion-closed"
        # A rating outside 1-5.
        await refused(f"/suggestions/{suggestion_id}/close", {"rating": 6}, 422)
        await refused(f"/suggestions/{suggestion_id}/close", {"rating": 0}, 422)
        # A meeting ending before it starts.
        problem = await refused(
            "/meetings",
            {
                "committee_id": committee_id,
                "starts_at": "2026-12-01T17:00:00+08:00",
                "ends_at": "2026-12-01T16:00:00+08:00",
            },
            422,
        )
        assert problem["code"] == "invalid-time"
        # A grandparent on a parents' committee; an unknown department.
        await refused(
            f"/committees/{committee_id}/members", {"member_id": "g-1", "grandparent": True}, 422
        )
        await refused(
            "/suggestions",
            {"committee_id": committee_id, "topic": "safety", "text": "x", "department": "nope"},
            422,
        )


class TestEscalationWithTheRelayKilled:
    async def test_killed_at_the_due_time_it_escalates_once(
        self, settings: Settings, people: People, clock: FileClock, tmp_path: Path
    ) -> None:
        # The API here, the relay (with the deadline runner) as its own process.
        api_settings = settings.model_copy(update={"relay_in_process": False})
        env = settings_env(api_settings) | {"TONGXIN_CLOCK_FILE": str(clock.path)}
        app = create_service(api_settings)
        async with running(app, people.city()) as api:
            api.app = app  # type: ignore[attr-defined]
            committee_id = await form_class_committee(api)
            suggestion_id = (await submit(api, committee_id, people.city()))["suggestion_id"]

            def relay() -> subprocess.Popen[bytes]:
                return subprocess.Popen(
                    [sys.executable, "-m", "services.committees", "relay"],
                    env=env,
                    cwd=Path(__file__).resolve().parents[2],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )

            # The deadline passes and the relay dies right then, fired or not.
            first = relay()
            await asyncio.sleep(2.0)
            clock.move(timedelta(days=30))
            await asyncio.sleep(0.3)
            first.send_signal(signal.SIGKILL)
            first.wait()
            # A new relay takes over: the suggestion escalates, once.
            second = relay()
            try:
                await eventually(
                    lambda: escalations_stored(api, suggestion_id) >= 1,
                    timeout=90,  # a relay process starts slowly on a loaded machine
                    message="the suggestion escalates",
                )
                await asyncio.sleep(1.0)
                assert escalations_stored(api, suggestion_id) == 1
            finally:
                second.send_signal(signal.SIGKILL)
                second.wait()


def progress_report(
    boundary: str, action_item_id: str, status: str, document_ref: str | None = None
) -> dict[str, Any]:
    """A structured CloudEvent from a department's own system (its boundary's type)."""
    now = datetime.now(UTC).isoformat()
    return {
        "specversion": "1.0",
        "id": str(uuid4()),
        "source": f"/{boundary}/action-items",
        "type": f"org.tongxin.{boundary}.action-item-progress-reported.v2",
        "subject": action_item_id,
        "time": now,
        "datacontenttype": "application/json",
        "data": {
            "report_id": f"{boundary}-{uuid4()}",
            "action_item_id": action_item_id,
            "status": status,
            "percent": 100 if status == "done" else 40,
            "document_ref": document_ref,
            "reported_at": now,
        },
    }


def with_a_note(report: dict[str, Any]) -> dict[str, Any]:
    """The same report as v1 wrote it, with a free-text note: no longer published."""
    data = report["data"] | {"status": "in-progress", "note": "张三家长已联系"}
    del data["document_ref"]
    return report | {"type": report["type"].replace(".v2", ".v1"), "data": data}


def stored_kinds(committees: httpx.AsyncClient, aggregate_id: str) -> list[str]:
    app = committees.app  # type: ignore[attr-defined]
    stored = app.state.application.recorder.select_events(UUID(aggregate_id))
    return [e.topic.rsplit(".", 1)[-1] for e in stored]


class TestJointMeetingActionItems:
    async def test_departments_report_through_the_ingest_each_on_its_own_items(
        self,
        committees: httpx.AsyncClient,
        ingest: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        people: People,
        tokens: Tokens,
        clock: FileClock,
    ) -> None:
        # The city convenes a joint meeting with four departments.
        convened = await committees.post(
            "/joint-meetings",
            json={
                "convened_by": "city",
                "title": "2026年第四季度联席会议",
                "starts_at": "2026-12-01T09:00:00+08:00",
                "ends_at": "2026-12-01T11:00:00+08:00",
                "departments": ["edu", "jus", "hlth", "pol"],
                "schools": [SCHOOL],
            },
        )
        assert convened.status_code == 201, convened.text
        meeting_id = convened.json()["joint_meeting_id"]

        # Its resolutions become action items for three departments.
        async def assign(title: str, lead: str, supporters: list[str]) -> str:
            response = await committees.post(
                f"/joint-meetings/{meeting_id}/action-items",
                json={
                    "title": title,
                    "lead": lead,
                    "supporters": supporters,
                    "due_on": "2027-03-31",
                },
            )
            assert response.status_code == 201, response.text
            return str(response.json()["action_item_id"])

        legal = await assign("每校每学期一次法治讲座", "jus", ["edu"])
        health = await assign("心理健康筛查覆盖所有初中", "hlth", ["edu"])
        safety = await assign("校门口护学岗全覆盖", "pol", ["edu"])
        # Due before the meeting: refused, nothing appended.
        before = head(committees)
        early = await committees.post(
            f"/joint-meetings/{meeting_id}/action-items",
            json={"title": "x", "lead": "jus", "due_on": "2026-11-30"},
        )
        assert early.status_code == 422 and early.json()["code"] == "invalid-time", early.text
        assert head(committees) == before

        # The Justice Bureau's system reports its item done through the ingest.
        jus = tokens.department("jus")
        done = progress_report("legal", legal, "done", "JUS-2026-041")
        posted = await ingest.post("/events", json=done, headers=CLOUDEVENTS_JSON | as_(jus))
        assert posted.status_code == 202, posted.text

        async def completed() -> bool:
            item = (await committees.get(f"/action-items/{legal}")).json()
            return bool(item["done"])

        await eventually(completed, timeout=30, message="the department's report is recorded")
        item = (await committees.get(f"/action-items/{legal}", headers=as_(jus))).json()
        assert (item["percent"], item["escalated"]) == (100, False)
        assert item["progress"] == [
            {
                "department": "jus",
                "percent": 100,
                "status": "done",
                "note": None,
                "document_ref": "JUS-2026-041",
            }
        ]

        # Public security's credential cannot speak for the Justice Bureau...
        pol = tokens.department("pol")
        forged = progress_report("legal", health, "done")
        refused = await ingest.post("/events", json=forged, headers=CLOUDEVENTS_JSON | as_(pol))
        assert refused.status_code == 403, refused.text
        # ...and its own report on an item it neither leads nor supports changes nothing,
        # while one on its own item is recorded (in order, so after the refused one).
        own = progress_report("checks", health, "on-track")
        mine = progress_report("checks", safety, "delayed")
        # A report with free text (the retired v1) is refused before it reaches the bus.
        noted = await ingest.post(
            "/events", json=with_a_note(mine), headers=CLOUDEVENTS_JSON | as_(pol)
        )
        assert noted.status_code == 400, noted.text
        for event in (own, mine):
            posted = await ingest.post("/events", json=event, headers=CLOUDEVENTS_JSON | as_(pol))
            assert posted.status_code == 202, posted.text

        async def recorded() -> bool:
            item = (await committees.get(f"/action-items/{safety}")).json()
            return bool(item["percent"] == 40)

        await eventually(recorded, timeout=30, message="public security's own report arrives")
        assert stored_kinds(committees, health) == ["Assigned"]
        # Staff write their note through the service: kept encrypted there, read back by
        # the departments at the table, published without it.
        noted = await committees.post(
            f"/action-items/{safety}/progress",
            json={"status": "delayed", "note": "城区学校已设岗，郊区学校等待人员。"},
            headers=as_(pol),
        )
        assert noted.status_code == 200, noted.text
        item = (await committees.get(f"/action-items/{safety}", headers=as_(pol))).json()
        assert [(p["status"], p["percent"], p["note"]) for p in item["progress"]] == [
            ("delayed", 40, None),
            ("delayed", 40, "城区学校已设岗，郊区学校等待人员。"),
        ]
        kept = committees.app.state.application.action_item(UUID(safety))  # type: ignore[attr-defined]
        assert is_token(kept.notes[-1][3])
        # Nor through the service's API, as a coordinator of a department not at the item.
        cyl = tokens.issuer.token(role="coordinator", department="cyl", subject="cyl-1")
        before = head(committees)
        response = await committees.post(
            f"/action-items/{health}/progress", json={"note": "x"}, headers=as_(cyl)
        )
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert head(committees) == before

        # Past the due day, the open items escalate, once each; the done one does not.
        clock.move(timedelta(days=400))

        async def escalated() -> bool:
            return all(
                "Escalated" in stored_kinds(committees, item_id) for item_id in (health, safety)
            )

        await eventually(escalated, timeout=30, message="overdue items escalate")
        await asyncio.sleep(1.0)
        for item_id in (health, safety):
            assert stored_kinds(committees, item_id).count("Escalated") == 1
        assert "Escalated" not in stored_kinds(committees, legal)

        # A department sees its own list in GraphQL; the city sees the rates per department.
        query = """query ($department: String) {
            actionItems(department: $department) { id lead supporters done onTime escalated }
            committeeFigures {
                actionItemsByDepartment { department assigned done onTime escalated }
            }
        }"""

        async def projected() -> bool:
            data = await graphql(gateway, query)
            return (
                sum(r["escalated"] for r in data["committeeFigures"]["actionItemsByDepartment"])
                == 2
            )

        await eventually(projected, timeout=30, message="the action items reach the gateway")
        response = await gateway.post(
            "/graphql", json={"query": query, "variables": {}}, headers=as_(jus)
        )
        data = response.json()["data"]
        assert data["actionItems"] == [
            {
                "id": legal,
                "lead": "jus",
                "supporters": ["edu"],
                "done": True,
                "onTime": True,
                "escalated": False,
            }
        ]
        assert data["committeeFigures"]["actionItemsByDepartment"] == [
            {"department": "hlth", "assigned": 1, "done": 0, "onTime": 0, "escalated": 1},
            {"department": "jus", "assigned": 1, "done": 1, "onTime": 1, "escalated": 0},
            {"department": "pol", "assigned": 1, "done": 0, "onTime": 0, "escalated": 1},
        ]
        refused = await gateway.post(
            "/graphql",
            json={"query": query, "variables": {"department": "pol"}},
            headers=as_(jus),
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


class TestSatisfactionSurvey:
    async def test_answers_are_anonymous_once_per_parent_and_results_suppressed(
        self, committees: httpx.AsyncClient, tokens: Tokens
    ) -> None:
        # The school opens its survey for the term; a second one for the term is refused.
        body = {
            "school_id": SCHOOL,
            "district": "guangling",
            "term": "2026-autumn",
            "closes_on": "2099-01-15",
        }
        opened = await committees.post("/surveys", json=body)
        assert opened.status_code == 201, opened.text
        survey_id = opened.json()["survey_id"]
        assert (await committees.post("/surveys", json=body)).status_code == 409

        def parent(n: int, school: str = SCHOOL) -> dict[str, str]:
            return as_(
                tokens.issuer.token(role="parent", subject=f"parent-{n}", scope=f"school:{school}")
            )

        # Six parents answer; all but one are very satisfied overall.
        for n in range(6):
            scores = dict.fromkeys(("overall", "teaching", "safety", "communication", "care"), 5)
            scores["overall"] = 3 if n == 0 else 5
            answered = await committees.post(
                f"/surveys/{survey_id}/answers", json={"scores": scores}, headers=parent(n)
            )
            assert answered.status_code == 200, answered.text
        before = head(committees)
        again = await committees.post(
            f"/surveys/{survey_id}/answers", json={"scores": scores}, headers=parent(1)
        )
        assert again.status_code == 409 and again.json()["code"] == "already-answered"
        for refused, headers in ((403, None), (403, parent(7, OTHER_SCHOOL))):
            response = await committees.post(
                f"/surveys/{survey_id}/answers", json={"scores": scores}, headers=headers
            )
            assert response.status_code == refused, response.text
        assert head(committees) == before

        # Results are aggregates: a score given by fewer than five parents is hidden.
        results = (await committees.get(f"/surveys/{survey_id}/results")).json()
        overall = results["questions"][0]
        assert (results["responses"], overall["question"]) == (6, "overall")
        assert overall["scores"]["3"] in ("<5", "[x]") and overall["scores"]["5"] != 5
        assert overall["mean"] is None  # a mean of six answers would give the 3 away

        # Nothing stored names a parent: not the answers, not the guards.
        app = committees.app  # type: ignore[attr-defined]
        stored = app.state.application.recorder.select_notifications(0, 10_000)
        assert not any(b"parent-" in n.state for n in stored)

        # Closed, it takes no more answers, and its guards' salt is gone.
        closed = await committees.post(f"/surveys/{survey_id}/close", json={})
        assert closed.status_code == 200, closed.text
        late = await committees.post(
            f"/surveys/{survey_id}/answers", json={"scores": scores}, headers=parent(9)
        )
        assert late.status_code == 409, late.text
        assert app.state.application.personal.keys.is_erased(f"survey-guard-{survey_id}")
