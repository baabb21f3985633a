"""The courses journey, through the public HTTP and GraphQL interfaces, on PostgreSQL and NATS.

A parent school is inspected and meets the ten haves; a course is published; a session
is scheduled with a volunteer lecturer; 200 parents register at once for 150 places
(exactly 150 in, 50 waitlisted); cancellations promote the waitlist in order; the host
checks parents in; their points and ranks show in GraphQL, names only with consent.
Then: a points rule changing mid-term, the Women's Federation inspecting through the
ingest, and a rebuilt read model equal to the live one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.courses import term_of
from gateway.courses.readmodel import CoursesReadModel
from gateway.main import create_gateway
from services.courses.domain import TEN_HAVES
from services.courses.main import create_service as create_courses
from services.kit.consumer import Consumer
from services.kit.settings import Settings
from tests.support.apps import CLOUDEVENTS_JSON, Tokens, running
from tests.support.apps import store_head as head
from tests.support.streams import read_stream
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(300)

SCHOOL = "yz-dongguan-primary"
OTHER_SCHOOL = "yz-meiling-primary"  # also in Guangling
DISTRICT = "321002"  # Guangling (contracts/city.json)
PARENTS = 200
PLACES = 150
LECTURER = str(uuid4())  # a volunteer lecturer's id, as the volunteers service issued it
COURSE = {
    "title": "孩子沉迷手机怎么办 When a child cannot put the phone down",
    "problem": "The child spends evenings on the phone and homework slips.",
    "stages": ["primary", "middle"],
    "themes": ["parent-child-communication", "double-reduction"],
    "steps": [
        "A five-minute video of one family's evening",
        "Parents discuss what they saw at home",
        "Summing up: rules agreed together hold better",
        "Homework: agree one phone rule with the child",
        "Micro-lesson: screen time by age",
    ],
}


@pytest.fixture
def store_settings(pg_settings: Settings) -> Settings:
    """This journey runs on PostgreSQL only (the volunteers' covers SQLite as well)."""
    return pg_settings


def edu(tokens: Tokens) -> str:
    return tokens.issuer.token(role="coordinator", department="edu", subject="edu-coordinator")


def parent_token(tokens: Tokens, parent_id: str) -> str:
    return tokens.issuer.token(role="parent", subject=parent_id, scope="")


@pytest.fixture
async def courses(settings: Settings, tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    app = create_courses(settings)
    async with running(app, edu(tokens)) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


class Clock:
    """The courses service's clock, moved by the test: sessions are in the future."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(courses: httpx.AsyncClient) -> Clock:
    clock = Clock()
    courses.app.state.application.clock = clock  # type: ignore[attr-defined]
    return clock


@pytest.fixture
async def gateway(
    settings: Settings, tokens: Tokens, tmp_path: Path, courses: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    app = courses.app  # type: ignore[attr-defined]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://courses"
    ) as upstream:
        gateway = create_gateway(
            settings, readmodel_dir=tmp_path / "readmodels", http_clients={"courses": upstream}
        )
        async with running(gateway, tokens.viewer()) as client:
            client.app = gateway  # type: ignore[attr-defined]
            yield client


async def graphql(
    client: httpx.AsyncClient, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    answer = await response
    assert answer.status_code == status, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def parent_school(courses: httpx.AsyncClient, level: str = "school") -> str:
    host = {"school": ("school", SCHOOL), "community": ("community", "yz-wenchang-community")}
    host_kind, host_id = host[level]
    body = {
        "name": f"东关小学家长学校 {level}",
        "level": level,
        "host_kind": host_kind,
        "host_id": host_id,
        "district": DISTRICT,
    }
    return str((await ok(courses.post("/parent-schools", json=body), 201))["parent_school_id"])


async def evidence_for_all(courses: httpx.AsyncClient, school_id: str) -> None:
    for n, item in enumerate(TEN_HAVES):
        body = {"item": item, "document_ref": f"doc-{n}", "dated": "2026-09-01"}
        await ok(courses.post(f"/parent-schools/{school_id}/evidence", json=body))


async def course(courses: httpx.AsyncClient) -> str:
    return str((await ok(courses.post("/courses", json=COURSE), 201))["course_id"])


async def session(
    courses: httpx.AsyncClient,
    course_id: str,
    starts_at: datetime,
    *,
    capacity: int = PLACES,
    mode: str = "in-person",
    school_id: str | None = None,
    hours: int = 2,
) -> str:
    body = {
        "course_id": course_id,
        "mode": mode,
        "parent_school_id": school_id,
        "school_id": SCHOOL,
        "district": DISTRICT,
        "lecturer_kind": "volunteer",
        "lecturer_id": LECTURER,
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=hours)).isoformat(),
        "capacity": capacity,
    }
    return str((await ok(courses.post("/sessions", json=body), 201))["session_id"])


async def enrol(courses: httpx.AsyncClient, n: int, opted_in: bool, klass: str = "3-2") -> str:
    body = {
        "name": f"家长 Parent {n:03d}",
        "school_id": SCHOOL,
        "class_id": klass,
        "district": DISTRICT,
        "ranking_opt_in": opted_in,
    }
    return str((await ok(courses.post("/parents", json=body), 201))["parent_id"])


async def caught_up(
    gateway: httpx.AsyncClient, courses: httpx.AsyncClient, settings: Settings
) -> CoursesReadModel:
    """Wait until the gateway's read model holds everything the service stored so far."""
    live: CoursesReadModel = gateway.app.state.features["courses"].readmodel  # type: ignore[attr-defined]
    last = head(courses)

    async def there() -> bool:
        messages = await read_stream(settings.nats_urls, "COURSES")
        published = [m.seq for m in messages if int(m.headers.get("ce-sequence", 0)) <= last]
        target = max(published, default=0)
        return bool(published) and live.position("gateway-courses") >= target

    await eventually(there, timeout=60, message="the read model catches up with the service")
    return live


class TestCoursesJourney:
    async def test_from_inspection_to_points_and_rank_in_graphql(
        self,
        courses: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        clock: Clock,
        tokens: Tokens,
        settings: Settings,
    ) -> None:
        # A school's parent school puts its evidence on file and is inspected: all ten verified.
        school_id = await parent_school(courses)
        await evidence_for_all(courses, school_id)
        today = clock.now.date().isoformat()
        inspected = await ok(
            courses.post(
                f"/parent-schools/{school_id}/inspections",
                json={"verdicts": dict.fromkeys(TEN_HAVES, "verified"), "inspected_on": today},
            )
        )
        assert inspected["meets_standard"] is True

        # A course is published; a session with a volunteer lecturer is scheduled.
        course_id = await course(courses)
        starts_at = clock.now + timedelta(days=2)
        session_id = await session(courses, course_id, starts_at, school_id=school_id)

        # 200 parents (the first ten agree to be named in rankings) register at once.
        parents = [await enrol(courses, n, opted_in=n < 10) for n in range(PARENTS)]
        answers = await asyncio.gather(
            *(
                ok(courses.post(f"/sessions/{session_id}/registrations", json={"parent_id": p}))
                for p in parents
            )
        )
        placed = [a["parent_id"] for a in answers if a["status"] == "registered"]
        waiting = sorted(
            (a for a in answers if a["status"] == "waitlisted"),
            key=lambda a: a["waitlist_position"],
        )
        assert len(placed) == PLACES and len(waiting) == PARENTS - PLACES
        assert [a["waitlist_position"] for a in waiting] == list(range(1, 51))
        view = await ok(courses.get(f"/sessions/{session_id}"))
        assert view["places_filled"] == PLACES and view["places_left"] == 0
        assert view["waitlist"] == [a["parent_id"] for a in waiting]

        # Three parents cancel: the first three on the waitlist move up, in order.
        promoted = []
        for parent_id in placed[:3]:
            cancelled = await ok(
                courses.post(f"/sessions/{session_id}/cancellations", json={"parent_id": parent_id})
            )
            promoted.append(cancelled["promoted_parent_id"])
        assert promoted == [a["parent_id"] for a in waiting[:3]]
        view = await ok(courses.get(f"/sessions/{session_id}"))
        assert view["places_filled"] == PLACES and view["waitlisted"] == 47

        # The evening of the lecture: the host checks in twenty parents (10 points each);
        # one of them also hands in the course's homework (3 points).
        clock.now = starts_at + timedelta(minutes=5)
        attending = placed[3:13] + promoted + placed[13:20]
        for parent_id in attending:
            answer = await ok(
                courses.post(f"/sessions/{session_id}/attendance", json={"parent_id": parent_id})
            )
            assert answer["points"] == 10
        top = attending[0]
        homework = await ok(courses.post(f"/parents/{top}/homework", json={"course_id": course_id}))
        assert homework["points_earned"] == 3 and homework["points"] == 13

        # GraphQL: the parent school, the session's places, the parent's points and rank.
        await caught_up(gateway, courses, settings)
        month = starts_at.date().isoformat()
        data = await graphql(
            gateway,
            """
            query ($session: ID!, $month: Date!) {
              parentSchools(first: 5) { edges { node { meetsStandard itemsVerified } } }
              parentSchoolStandard { district level schools meeting share }
              courses(theme: DOUBLE_REDUCTION) { edges { node { title revision steps } } }
              session(id: $session) { placesFilled placesLeft waitlisted attended }
              ranking(scope: SCHOOL, schoolId: "yz-dongguan-primary", on: $month, first: 25) {
                edges { node { rank points parentId name } }
              }
              participation { edges { node {
                schoolId enrolled { value } active { value } rate meetsTarget } } }
            }
            """,
            session=session_id,
            month=month,
        )
        assert data["parentSchools"]["edges"] == [
            {"node": {"meetsStandard": True, "itemsVerified": 10}}
        ]
        assert data["parentSchoolStandard"] == [
            {"district": DISTRICT, "level": "SCHOOL", "schools": 1, "meeting": 1, "share": 1.0}
        ]
        assert data["courses"]["edges"][0]["node"]["revision"] == 1
        assert data["session"] == {
            "placesFilled": PLACES,
            "placesLeft": 0,
            "waitlisted": 47,
            "attended": 20,
        }
        ranked = [e["node"] for e in data["ranking"]["edges"]]
        assert len(ranked) == 20
        assert ranked[0] == {
            "rank": 1,
            "points": 13,
            "parentId": None,
            "name": _name_of(top, parents),
        }
        assert {(r["rank"], r["points"]) for r in ranked[1:]} == {(2, 10)}
        # The dashboard sees names only of parents who opted in, and no ids at all.
        assert all(r["parentId"] is None for r in ranked)
        named = {r["name"] for r in ranked if r["name"] is not None}
        assert named == {_name_of(p, parents) for p in attending if p in parents[:10]}
        assert data["participation"]["edges"] == [
            {
                "node": {
                    "schoolId": SCHOOL,
                    "enrolled": {"value": PARENTS},
                    "active": {"value": 20},
                    "rate": 0.1,
                    "meetsTarget": False,
                }
            }
        ]

        # A parent sees their own points and ranks; another parent may not.
        mine = """
            query ($id: ID!, $month: Date!) {
              parentPoints(parentId: $id, on: $month) { points ranks { scope rank parentsRanked } }
            }
        """
        own = await graphql(gateway, mine, parent_token(tokens, top), id=top, month=month)
        assert own["parentPoints"] == {
            "points": 13,
            "ranks": [
                {"scope": "CLASS", "rank": 1, "parentsRanked": 20},
                {"scope": "SCHOOL", "rank": 1, "parentsRanked": 20},
                {"scope": "DISTRICT", "rank": 1, "parentsRanked": 20},
                {"scope": "CITY", "rank": 1, "parentsRanked": 20},
            ],
        }
        other = attending[1]
        refused = await gateway.post(
            "/graphql",
            json={"query": mine, "variables": {"id": other, "month": month}},
            headers={"Authorization": f"Bearer {parent_token(tokens, top)}"},
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    async def test_a_rule_change_mid_term_keeps_earlier_points_and_rebuilds_identically(
        self,
        courses: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        clock: Clock,
        settings: Settings,
        tmp_path: Path,
    ) -> None:
        # An online session, open for a week; three parents register.
        course_id = await course(courses)
        opens = clock.now + timedelta(hours=1)
        session_id = await session(courses, course_id, opens, mode="online", hours=24 * 7)
        parents = [await enrol(courses, n, opted_in=False) for n in range(3)]
        for parent_id in parents:
            await ok(
                courses.post(f"/sessions/{session_id}/registrations", json={"parent_id": parent_id})
            )

        # Two complete it under the starting rules (5 points) ...
        clock.now = opens + timedelta(hours=1)
        complete: Callable[[str], Any] = lambda p: ok(  # noqa: E731
            courses.post(f"/sessions/{session_id}/attendance", json={"parent_id": p})
        )
        assert [(await complete(p))["points"] for p in parents[:2]] == [5, 5]

        # ... the bureau changes the rules (a stale version is refused) ...
        rules = {"attendance": 12, "online_completion": 8, "homework": 4}
        stale = await courses.put("/points-rules", json=rules | {"expected_version": 2})
        assert stale.status_code == 409 and stale.json()["code"] == "stale-version"
        changed = await ok(courses.put("/points-rules", json=rules | {"expected_version": 1}))
        assert changed["rules_version"] == 2

        # ... the third completes later, by the new rule; earlier points stay as they were.
        clock.now += timedelta(hours=1)
        assert (await complete(parents[2]))["points"] == 8
        for parent_id, points in zip(parents, (5, 5, 8), strict=True):
            assert (await ok(courses.get(f"/parents/{parent_id}")))["points"] == points

        # The read model rebuilt from scratch with a new consumer is identical to the live one.
        live = await caught_up(gateway, courses, settings)
        rebuilt = CoursesReadModel(tmp_path / "rebuilt.sqlite3").open()
        consumer = Consumer(
            name="rebuild-check", boundary="courses", projection=rebuilt, settings=settings
        )
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        try:
            target = live.position("gateway-courses")
            await eventually(lambda: rebuilt.position("rebuild-check") >= target, timeout=30)
        finally:
            stop.set()
            await task
        dump = rebuilt.canonical_dump()
        assert dump == live.canonical_dump()
        assert all(p in dump for p in parents) and "Parent 00" not in dump
        rebuilt.close()


class TestTrainingQuotasAndTermParticipation:
    async def test_a_batch_is_trained_quotas_lag_and_a_term_is_taken_part_in(
        self,
        courses: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        clock: Clock,
        settings: Settings,
    ) -> None:
        # A head teachers' batch of 150 tomorrow: 100 places for Dongguan, 50 for Meiling.
        day = (clock.now + timedelta(days=1)).date()
        batch = {
            "title": "班主任家庭教育指导培训 Head teachers, batch 1",
            "audience": "head-teacher",
            "starts_on": day.isoformat(),
            "capacity": 150,
            "quotas": {SCHOOL: 100, OTHER_SCHOOL: 50},
        }
        batch_id = (await ok(courses.post("/training-batches", json=batch), 201))["batch_id"]
        enrolments = f"/training-batches/{batch_id}/enrolments"
        dongguan = [f"dg-{n:03d}" for n in range(100)]
        meiling = [f"ml-{n:03d}" for n in range(50)]
        await ok(courses.post(enrolments, json={"school_id": SCHOOL, "teacher_ids": dongguan}))
        await ok(courses.post(enrolments, json={"school_id": OTHER_SCHOOL, "teacher_ids": meiling}))

        # A school over its quota is refused; nothing is appended.
        before = head(courses)
        over = await courses.post(enrolments, json={"school_id": SCHOOL, "teacher_ids": ["x"]})
        assert_problem(over, 422, "over-quota")
        assert head(courses) == before

        # The day of training: 148 present; the batch is completed with 148 certificates.
        clock.now = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=8)
        present = dongguan[:99] + meiling[:49]
        body = {"day": day.isoformat(), "teacher_ids": present}
        await ok(courses.post(f"/training-batches/{batch_id}/attendance", json=body))
        done = await ok(courses.post(f"/training-batches/{batch_id}/completion", json={}))
        assert done["certified"] == 148
        record = await ok(courses.get(f"/training-batches/{batch_id}"))
        assert len(record["certificates"]) == 148 and "dg-099" not in {
            c["teacher_id"] for c in record["certificates"]
        }

        # The term's quota: each school at least two lectures. Dongguan schedules two.
        term = term_of(clock.now.date()).label
        quota = {"min_lectures": 2, "schools": [SCHOOL, OTHER_SCHOOL], "expected_version": 0}
        assert (await ok(courses.put(f"/lecture-quotas/{term}", json=quota)))["version"] == 1
        course_id = await course(courses)
        opens = clock.now + timedelta(hours=1)
        online = await session(courses, course_id, opens, mode="online", hours=6)
        await session(courses, course_id, opens, mode="online", hours=6)

        # Ten parents of class 3-2 and three of 3-3; nine of 3-2 complete a lecture online.
        parents = [await enrol(courses, n, opted_in=False) for n in range(10)]
        others = [await enrol(courses, n, opted_in=False, klass="3-3") for n in range(10, 13)]
        clock.now = opens + timedelta(minutes=30)
        for parent_id in parents[:9]:
            registration = {"parent_id": parent_id}
            await ok(courses.post(f"/sessions/{online}/registrations", json=registration))
            await ok(courses.post(f"/sessions/{online}/attendance", json=registration))
        assert others

        await caught_up(gateway, courses, settings)
        data = await graphql(
            gateway,
            """
            query ($term: String!) {
              trainingBatches { edges { node {
                audience capacity enrolled certified quotas { schoolId quota enrolled } } } }
              trainedTeachers(perSchool: true) { district schoolId audience trained }
              lectureQuota(term: $term) {
                minLectures schools { schoolId lectures } lagging { schoolId lectures } }
              termParticipation(term: $term, schoolId: "yz-dongguan-primary") {
                classId enrolled { value suppressed } active { value } rate meetsFloor
                meetsTarget }
            }
            """,
            term=term,
        )
        assert data["trainingBatches"]["edges"] == [
            {
                "node": {
                    "audience": "HEAD_TEACHER",
                    "capacity": 150,
                    "enrolled": 150,
                    "certified": 148,
                    "quotas": [
                        {"schoolId": SCHOOL, "quota": 100, "enrolled": 100},
                        {"schoolId": OTHER_SCHOOL, "quota": 50, "enrolled": 50},
                    ],
                }
            }
        ]
        assert data["trainedTeachers"] == [
            {"district": DISTRICT, "schoolId": s, "audience": "HEAD_TEACHER", "trained": n}
            for s, n in ((SCHOOL, 99), (OTHER_SCHOOL, 49))
        ]
        assert data["lectureQuota"] == {
            "minLectures": 2,
            "schools": [
                {"schoolId": SCHOOL, "lectures": 2},
                {"schoolId": OTHER_SCHOOL, "lectures": 0},
            ],
            "lagging": [{"schoolId": OTHER_SCHOOL, "lectures": 0}],
        }
        assert data["termParticipation"] == [
            {
                "classId": "3-2",
                "enrolled": {"value": 10, "suppressed": None},
                "active": {"value": 9},
                "rate": 0.9,
                "meetsFloor": True,
                "meetsTarget": True,
            },
            {
                "classId": "3-3",
                "enrolled": {"value": None, "suppressed": "<5"},
                "active": {"value": None},
                "rate": None,
                "meetsFloor": None,
                "meetsTarget": None,
            },
        ]


class TestWomensFederationInspections:
    async def test_wf_publishes_an_inspection_through_the_ingest(
        self,
        courses: httpx.AsyncClient,
        ingest: httpx.AsyncClient,
        tokens: Tokens,
    ) -> None:
        # A community parent school with its evidence on file.
        school_id = await parent_school(courses, level="community")
        await evidence_for_all(courses, school_id)
        event = wf_inspection(school_id, verified=list(TEN_HAVES))

        # Another department's system may not publish the Federation's events.
        before = head(courses)
        refused = await ingest.post(
            "/events",
            json=event,
            headers=CLOUDEVENTS_JSON | {"Authorization": f"Bearer {tokens.department('civ')}"},
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert head(courses) == before

        # The Federation's own system does; the courses service records the verdicts.
        accepted = await ingest.post(
            "/events",
            json=event,
            headers=CLOUDEVENTS_JSON | {"Authorization": f"Bearer {tokens.department('wf')}"},
        )
        assert accepted.status_code == 202, accepted.text

        async def met() -> dict[str, Any] | None:
            view = (await courses.get(f"/parent-schools/{school_id}")).json()
            return view if view["meets_standard"] else None

        view = await eventually(met, timeout=30, message="the wf inspection reaches courses")
        assert {i["verdict"] for i in view["items"]} == {"verified"}


def wf_inspection(school_id: str, verified: list[str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "specversion": "1.0",
        "id": str(uuid4()),
        "source": "/wf/guidance",
        "type": "org.tongxin.guidance.community-parent-school-inspected.v1",
        "subject": school_id,
        "time": now.isoformat(),
        "datacontenttype": "application/json",
        "data": {
            "inspection_id": f"wf-{uuid4()}",
            "parent_school_id": school_id,
            "verified": verified,
            "rejected": [],
            "inspected_on": now.date().isoformat(),
            "reported_at": now.isoformat(),
        },
    }


def _name_of(parent_id: str, parents: list[str]) -> str | None:
    n = parents.index(parent_id)
    return f"家长 Parent {n:03d}" if n < 10 else None


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if code is not None:
        assert body["code"] == code, body


class TestBadInputChangesNothing:
    async def test_every_command_refuses_bad_input_with_a_problem_and_appends_nothing(
        self, courses: httpx.AsyncClient, clock: Clock
    ) -> None:
        school_id = await parent_school(courses)
        course_id = await course(courses)
        starts_at = clock.now + timedelta(days=1)
        session_id = await session(courses, course_id, starts_at, school_id=school_id)
        parent_id = await enrol(courses, 1, opted_in=False)
        version = (await ok(courses.post("/courses", json=COURSE), 201))["version"]
        good = {
            "course_id": course_id,
            "mode": "in-person",
            "parent_school_id": school_id,
            "school_id": SCHOOL,
            "district": DISTRICT,
            "lecturer_kind": "volunteer",
            "lecturer_id": LECTURER,
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
            "capacity": 10,
        }
        before_start = (starts_at - timedelta(hours=1)).isoformat()
        yesterday, an_hour_ago = clock.now - timedelta(days=1), clock.now - timedelta(hours=1)
        batch = {
            "title": "Head teachers",
            "audience": "head-teacher",
            "starts_on": starts_at.date().isoformat(),
            "capacity": 160,
            "quotas": {SCHOOL: 100, OTHER_SCHOOL: 60},
        }
        term = term_of(clock.now.date()).label
        refused: list[tuple[str, str, dict[str, Any], int, str | None]] = [
            ("POST", "/sessions", good | {"capacity": 0}, 422, None),
            ("POST", "/sessions", good | {"ends_at": before_start}, 422, "invalid-time"),
            (
                "POST",
                "/sessions",
                good | {"starts_at": yesterday.isoformat(), "ends_at": an_hour_ago.isoformat()},
                422,
                "invalid-time",
            ),
            (
                "POST",
                "/training-batches",
                batch | {"starts_on": str(yesterday.date())},
                422,
                "invalid-time",
            ),
            ("POST", "/sessions", good | {"lecturer_kind": "celebrity"}, 422, None),
            ("POST", "/courses", COURSE | {"themes": ["astrology"]}, 422, None),
            ("POST", "/courses", COURSE | {"steps": COURSE["steps"][:4]}, 422, None),
            (
                "PUT",
                f"/courses/{course_id}",
                COURSE | {"expected_version": version + 5},
                409,
                "stale-version",
            ),
            (
                "POST",
                f"/parent-schools/{school_id}/inspections",
                {"verdicts": {"signage": "verified"}, "inspected_on": "2026-09-01"},
                422,
                "evidence-missing",
            ),
            (
                "POST",
                f"/parent-schools/{school_id}/evidence",
                {"item": "sofas", "document_ref": "d1", "dated": "2026-09-01"},
                422,
                None,
            ),
            (
                "POST",
                f"/sessions/{session_id}/attendance",
                {"parent_id": parent_id},
                409,
                "not-registered",
            ),
            (
                "PUT",
                "/points-rules",
                {"attendance": -1, "online_completion": 1, "homework": 1},
                422,
                None,
            ),
            ("POST", "/training-batches", batch | {"capacity": 0}, 422, None),
            (
                "POST",
                "/training-batches",
                batch | {"quotas": {SCHOOL: 100, OTHER_SCHOOL: 70}},
                422,
                "over-quota",
            ),
            ("POST", "/training-batches", batch | {"quotas": {"yz-nowhere": 9}}, 422, None),
            ("PUT", "/lecture-quotas/2026-autumn", {"min_lectures": 2}, 422, None),
            ("PUT", f"/lecture-quotas/{term}", {"min_lectures": 0}, 422, None),
            (
                "PUT",
                f"/lecture-quotas/{term}",
                {"min_lectures": 2, "expected_version": 3},
                409,
                "stale-version",
            ),
        ]
        for method, path, body, status, code in refused:
            before = head(courses)
            assert_problem(await courses.request(method, path, json=body), status, code)
            assert head(courses) == before, (method, path)

        # Registration for a session that has started (the clock moves past its start).
        clock.now = starts_at + timedelta(minutes=1)
        before = head(courses)
        late = await courses.post(
            f"/sessions/{session_id}/registrations", json={"parent_id": parent_id}
        )
        assert_problem(late, 422, "registration-closed")
        assert head(courses) == before
