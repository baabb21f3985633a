"""The courses application on a real SQLite store: the standard, the waitlist, points."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from contracts.courses import SessionAttended
from contracts.guidance import CommunityParentSchoolInspected
from contracts.measures import measure_of
from services.courses.application import CoursesApplication
from services.courses.domain import (
    TEN_HAVES,
    EvidenceMissingError,
    RegistrationClosedError,
)
from services.courses.integration import translate
from services.kit.errors import StaleVersionError
from services.kit.eventstore import build_application
from services.kit.privacy.personal import PersonalData
from services.kit.settings import Settings

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STEPS = ["video", "discussion", "summary", "homework", "micro-lesson"]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[CoursesApplication]:
    settings = Settings(state_dir=tmp_path)
    application = build_application(CoursesApplication, settings, "courses")
    application.personal = personal = PersonalData.open(settings, "courses")
    application.clock = clock
    yield application
    application.close()
    personal.close()


def school(app: CoursesApplication, level: str = "community") -> UUID:
    answer = app.register_parent_school(
        None, name="文昌社区家长学校", level=level, host_kind="community", host_id="c1",
        district="guangling",
    )  # fmt: skip
    return UUID(answer["parent_school_id"])


def with_evidence(app: CoursesApplication, school_id: UUID) -> None:
    for item in TEN_HAVES:
        app.record_evidence(None, school_id, item, f"doc-{item}", date(2026, 9, 1))


def course(app: CoursesApplication) -> UUID:
    answer = app.publish_course(
        None, title="Talking with teenagers", problem="Doors slam.", stages=["middle"],
        themes=["parent-child-communication"], steps=STEPS,
    )  # fmt: skip
    return UUID(answer["course_id"])


def session(app: CoursesApplication, capacity: int, mode: str = "online") -> UUID:
    held_at = str(school(app)) if mode == "in-person" else None
    answer = app.schedule_session(
        None, course_id=str(course(app)), parent_school_id=held_at, school_id="s1",
        district="guangling", mode=mode, lecturer_kind="teacher", lecturer_id="t1",
        starts_at=NOW + timedelta(days=1), ends_at=NOW + timedelta(days=2), capacity=capacity,
    )  # fmt: skip
    return UUID(answer["session_id"])


def parent(app: CoursesApplication, n: int = 0) -> UUID:
    answer = app.enrol_parent(
        None, name=f"Parent {n}", school_id="s1", class_id="3-2", district="guangling",
        ranking_opt_in=False,
    )  # fmt: skip
    return UUID(answer["parent_id"])


def published(app: CoursesApplication) -> list[Any]:
    stored = app.recorder.select_notifications(start=0, limit=1000, inclusive_of_start=False)
    events = [translate(app.mapper.to_domain_event(n)) for n in stored]
    return [e for e in events if e is not None]


class TestTheTenHaves:
    def test_a_school_meets_the_standard_only_with_all_ten_verified_for_a_year(
        self, app: CoursesApplication, clock: Clock
    ) -> None:
        school_id = school(app)
        with pytest.raises(EvidenceMissingError):
            app.inspect(None, school_id, {"signage": "verified"}, NOW.date(), "edu")
        with_evidence(app, school_id)
        nine = dict.fromkeys(TEN_HAVES[:9], "verified") | {"funding": "rejected"}
        assert app.inspect(None, school_id, nine, NOW.date(), "edu")["meets_standard"] is False
        done = app.inspect(None, school_id, {"funding": "verified"}, NOW.date(), "edu")
        assert done["meets_standard"] is True
        # A year after the oldest verdict, the standard lapses until inspected again.
        clock.now = NOW + timedelta(days=366)
        assert app.parent_school(school_id).meets_standard_on(clock.now.date()) is False

    def test_the_womens_federation_inspects_community_schools_only(
        self, app: CoursesApplication
    ) -> None:
        community, hosted = school(app), school(app, level="school")
        with_evidence(app, community)
        with_evidence(app, hosted)
        events = [
            CommunityParentSchoolInspected(
                inspection_id=f"wf-{n}",
                parent_school_id=str(school_id),
                verified=list(TEN_HAVES),
                rejected=[],
                inspected_on=NOW.date(),
                reported_at=NOW,
            )  # fmt: skip
            for n, school_id in enumerate((community, hosted))
        ]
        app.record_guidance_inspections("wf", 2, events)
        assert app.parent_school(community).meets_standard_on(NOW.date())
        assert not app.parent_school(hosted).meets_standard_on(NOW.date())
        assert app.consumer_position("wf") == 2


class TestRegistrations:
    def test_concurrent_registrations_never_overbook_and_the_waitlist_keeps_order(
        self, app: CoursesApplication
    ) -> None:
        session_id = session(app, capacity=5)
        parents = [parent(app, n) for n in range(12)]
        answers: list[dict[str, Any]] = []
        threads = [
            threading.Thread(target=lambda p=p: answers.append(app.register(None, session_id, p)))
            for p in parents
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        held = app.session(session_id)
        assert held.places_filled == 5 and len(held.waitlist) == 7
        first_in_line = held.waitlist[0]
        cancelled = app.cancel_registration(None, session_id, UUID(next(iter(held.places))))
        assert cancelled["promoted_parent_id"] == first_in_line
        assert app.session(session_id).places_filled == 5

    def test_registration_closes_when_an_in_person_session_starts(
        self, app: CoursesApplication, clock: Clock
    ) -> None:
        session_id = session(app, capacity=5, mode="in-person")
        clock.now = NOW + timedelta(days=1)
        with pytest.raises(RegistrationClosedError):
            app.register(None, session_id, parent(app))


class TestPoints:
    def test_a_rule_change_applies_from_then_on(
        self, app: CoursesApplication, clock: Clock
    ) -> None:
        session_id = session(app, capacity=5)
        early, late = parent(app, 1), parent(app, 2)
        for p in (early, late):
            app.register(None, session_id, p)
        clock.now = NOW + timedelta(days=1, hours=1)
        assert app.attend(None, session_id, early, None)["points"] == 5
        with pytest.raises(StaleVersionError):
            app.change_points_rules(None, 2, attendance=12, online_completion=8, homework=4)
        app.change_points_rules(None, 1, attendance=12, online_completion=8, homework=4)
        assert app.attend(None, session_id, late, None)["points"] == 8
        assert app.parent(early).points == 5
        awarded = [e for e in published(app) if type(e).__name__ == "PointsAwarded"]
        assert [(e.points, e.rule_version) for e in awarded] == [(5, 1), (8, 2)]

    def test_no_name_leaves_the_service(self, app: CoursesApplication) -> None:
        parent(app, 7)
        assert all("Parent 7" not in e.model_dump_json() for e in published(app))


class TestAttendancesPerSchool:
    def test_an_attendance_carries_the_parents_school_and_counts_for_it(
        self, app: CoursesApplication, clock: Clock
    ) -> None:
        session_id = session(app, capacity=5)
        attendee = parent(app)
        app.register(None, session_id, attendee)
        clock.now = NOW + timedelta(days=1, hours=1)
        app.attend(None, session_id, attendee, None)
        [attended] = [e for e in published(app) if isinstance(e, SessionAttended)]
        assert (attended.school_id, attended.district) == ("s1", "guangling")
        measure = measure_of(SessionAttended)
        assert measure is not None
        fact = measure.fact_of(attended)
        assert (fact.school, fact.district, fact.subject) == ("s1", "guangling", str(attendee))

    def test_an_attendance_stored_before_the_school_went_with_it_still_reads(
        self, app: CoursesApplication, clock: Clock
    ) -> None:
        session_id = session(app, capacity=5)
        attendee = parent(app)
        app.register(None, session_id, attendee)
        clock.now = NOW + timedelta(days=1, hours=1)
        app.attend(None, session_id, attendee, None)
        stored = app.recorder.select_notifications(start=0, limit=1000, inclusive_of_start=False)
        [old] = [
            event
            for event in (app.mapper.to_domain_event(n) for n in stored)
            if type(event).__qualname__ == "Session.Attended"
        ]
        for added in ("school_id", "district"):  # as an event written before has them
            del old.__dict__[added]
        attended = translate(old)
        assert isinstance(attended, SessionAttended)
        assert (attended.school_id, attended.district) == (None, None)
        measure = measure_of(SessionAttended)
        assert measure is not None and measure.fact_of(attended).school is None
        # The session replays it too (the domain method's defaults fill the gap).
        replayed = old.mutate(app.repository.get(session_id, version=old.originator_version - 1))
        assert replayed is not None and replayed.places[str(attendee)] == "attended"
