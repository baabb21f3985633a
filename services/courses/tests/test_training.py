"""Teacher training in batches and the lecture quota of a term, on a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from contracts.courses import TrainingCertificateIssued, parse_term, term_of
from services.courses.application import CoursesApplication
from services.courses.domain import (
    InvalidTimeError,
    NotEnrolledError,
    OverQuotaError,
    TrainingClosedError,
    UnknownSchoolError,
)
from services.courses.integration import translate
from services.kit.citytime import city_day
from services.kit.deadlines.clock import CLOCK_FILE_ENV, FileClock
from services.kit.errors import ConflictError, DomainError, StaleVersionError
from services.kit.eventstore import build_application
from services.kit.settings import Settings

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
DONGGUAN, MEILING = "yz-dongguan-primary", "yz-meiling-primary"


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
    application = build_application(CoursesApplication, Settings(state_dir=tmp_path), "courses")
    application.clock = clock
    yield application
    application.close()


def head(app: CoursesApplication) -> int:
    return app.recorder.max_notification_id() or 0


def batch(app: CoursesApplication, **fields: Any) -> UUID:
    given = {
        "title": "班主任家庭教育指导培训 第1期",
        "audience": "head-teacher",
        "starts_on": date(2026, 11, 5),
        "capacity": 160,
        "quotas": {DONGGUAN: 100, MEILING: 60},
    } | fields
    return UUID(app.schedule_training(None, **given)["batch_id"])


def teachers(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n:03d}" for n in range(count)]


class TestTrainingBatches:
    def test_head_teachers_train_in_one_day_and_those_present_are_certified(
        self, app: CoursesApplication, clock: Clock
    ) -> None:
        # A batch of 160 head teachers; each school enrols within its quota.
        batch_id = batch(app)
        dongguan, meiling = teachers("dg", 100), teachers("ml", 60)
        app.enrol_teachers(None, batch_id, DONGGUAN, dongguan[:50], None)
        answer = app.enrol_teachers(None, batch_id, DONGGUAN, dongguan[50:], None)
        assert (answer["school_enrolled"], answer["school_quota"]) == (100, 100)
        answer = app.enrol_teachers(None, batch_id, MEILING, meiling, None)
        assert answer["enrolled"] == 160 and answer["ends_on"] == "2026-11-05"

        # One more from a full school is refused, and nothing is appended.
        before = head(app)
        with pytest.raises(OverQuotaError):
            app.enrol_teachers(None, batch_id, DONGGUAN, ["dg-extra"], None)
        assert head(app) == before

        # The day of training: 150 are present; marking them again changes nothing.
        clock.now = datetime(2026, 11, 5, 8, tzinfo=UTC)
        present = dongguan[:95] + meiling[:55]
        assert (
            app.record_training_attendance(None, batch_id, date(2026, 11, 5), present)["present"]
            == 150
        )
        before = head(app)
        app.record_training_attendance(None, batch_id, date(2026, 11, 5), present[:10])
        assert head(app) == before

        # Completion: a certificate each for the 150, with their school's district.
        done = app.complete_training(None, batch_id, None)
        assert done["certified"] == 150 and done["completed"] is True
        issued = [
            e
            for e in (translate(x) for x in _events(app))
            if isinstance(e, TrainingCertificateIssued)
        ]
        assert len(issued) == 150 and len({e.certificate_no for e in issued}) == 150
        assert {(e.school_id, e.district) for e in issued} == {
            (DONGGUAN, "321002"),
            (MEILING, "321002"),
        }
        with pytest.raises(TrainingClosedError):
            app.record_training_attendance(None, batch_id, date(2026, 11, 5), present[:1])

    def test_managers_train_three_days_and_must_be_present_on_each(
        self, app: CoursesApplication, clock: Clock
    ) -> None:
        batch_id = batch(app, audience="manager", capacity=20, quotas={DONGGUAN: 3})
        app.enrol_teachers(None, batch_id, DONGGUAN, ["m1", "m2", "m3"], None)
        for day, present in ((5, ["m1", "m2", "m3"]), (6, ["m1", "m2"]), (7, ["m1"])):
            clock.now = datetime(2026, 11, day, 8, tzinfo=UTC)
            with pytest.raises(InvalidTimeError):  # not ahead of the day
                app.record_training_attendance(None, batch_id, date(2026, 11, day + 1), ["m1"])
            if day < 7:
                with pytest.raises(InvalidTimeError):  # not before the last day
                    app.complete_training(None, batch_id, None)
            app.record_training_attendance(None, batch_id, date(2026, 11, day), present)
        assert app.complete_training(None, batch_id, None)["certified"] == 1

    def test_bad_batches_and_enrolments_are_refused_and_append_nothing(
        self, app: CoursesApplication, clock: Clock
    ) -> None:
        before = head(app)
        refused: list[tuple[dict[str, Any], type[Exception]]] = [
            ({"capacity": 120}, DomainError),  # a head teachers' batch holds 150-180
            ({"quotas": {DONGGUAN: 100, MEILING: 61}}, OverQuotaError),  # over 160 places
            ({"quotas": {"yz-nowhere": 10}}, UnknownSchoolError),
            ({"starts_on": date(2026, 11, 1)}, InvalidTimeError),  # in the past
        ]
        for fields, error in refused:
            with pytest.raises(error):
                batch(app, **fields)
        assert head(app) == before

        batch_id = batch(app)
        version = app.training_batch(batch_id).version
        before = head(app)
        with pytest.raises(OverQuotaError):  # a school without places
            app.enrol_teachers(None, batch_id, "yz-yucai-primary", ["t1"], None)
        with pytest.raises(StaleVersionError):
            app.enrol_teachers(None, batch_id, DONGGUAN, ["t1"], version + 1)
        with pytest.raises(ConflictError):  # the same teacher twice
            app.enrol_teachers(None, batch_id, DONGGUAN, ["t1", "t1"], None)
        with pytest.raises(NotEnrolledError):
            clock.now = datetime(2026, 11, 5, 8, tzinfo=UTC)
            app.record_training_attendance(None, batch_id, date(2026, 11, 5), ["t9"])
        with pytest.raises(TrainingClosedError):  # enrolment closes when it starts
            app.enrol_teachers(None, batch_id, DONGGUAN, ["t2"], None)
        assert head(app) == before


class TestLectureQuota:
    def test_the_quota_is_data_changed_with_its_version(self, app: CoursesApplication) -> None:
        term = term_of(NOW.date())
        assert term == parse_term("2026-2027-term-1")
        assert (term.starts_on, term.ends_on) == (date(2026, 9, 1), date(2027, 1, 31))
        first = app.set_lecture_quota(None, term, 3, None, 0)
        assert first["version"] == 1 and DONGGUAN in first["schools"]

        before = head(app)
        with pytest.raises(StaleVersionError):
            app.set_lecture_quota(None, term, 4, None, 0)
        with pytest.raises(UnknownSchoolError):
            app.set_lecture_quota(None, term, 4, ["yz-nowhere"], 1)
        assert app.set_lecture_quota(None, term, 3, None, 1)["version"] == 1  # no change
        assert head(app) == before

        changed = app.set_lecture_quota(None, term, 4, [DONGGUAN, MEILING], 1)
        assert changed == {
            "term": "2026-2027-term-1",
            "min_lectures": 4,
            "schools": [DONGGUAN, MEILING],
            "version": 2,
        }
        with pytest.raises(ValueError):
            parse_term("2026-2028-term-1")
        assert term_of(NOW.date() + timedelta(days=120)).label == "2026-2027-term-2"


def _events(app: CoursesApplication) -> list[Any]:
    return [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(0, 10_000, inclusive_of_start=False)
    ]


class TestTheKitsClock:
    def test_a_batch_is_recorded_as_it_happened_on_the_moved_clock(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """TONGXIN_CLOCK_FILE moves the service's time (the demo's completed training)."""
        monkeypatch.setenv(CLOCK_FILE_ENV, str(tmp_path / "clock"))
        moved = FileClock(tmp_path / "clock")
        app = build_application(CoursesApplication, Settings(state_dir=tmp_path), "courses")
        try:
            day = city_day(moved.now()) - timedelta(days=20)
            moved.move(-timedelta(days=21))
            batch_id = batch(app, starts_on=day)
            app.enrol_teachers(None, batch_id, DONGGUAN, teachers("dg", 3), None)
            moved.move(timedelta(days=1))
            app.record_training_attendance(None, batch_id, day, teachers("dg", 2))
            assert app.complete_training(None, batch_id, None)["certified"] == 2
            moved.move(-moved.offset())
            with pytest.raises(InvalidTimeError):  # back in the present, that day is past
                batch(app, starts_on=day)
        finally:
            app.close()
