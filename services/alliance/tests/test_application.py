"""The alliance application on a real SQLite store: the plan's rules, the ledger counting
each event once, figures as of a day, assessments frozen and corrected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import care, reports, resources
from contracts.measures import Fact, measure_of
from services.alliance import api
from services.alliance.api import ContributionsQuery
from services.alliance.application import AllianceApplication
from services.alliance.domain import (
    AlreadyClosedError,
    MilestoneBeforeStartError,
    NotMeasurableError,
    PeriodNotOverError,
    Selection,
    ThresholdOutOfRangeError,
    UnknownEventTypeError,
)
from services.alliance.figures import evaluate_campaign, evaluate_target, scorecards
from services.alliance.integration import translate
from services.alliance.ledger import Ledger, Measured
from services.alliance.periods import parse_label, period_of
from services.alliance.reactions import MeasuredFacts
from services.kit.auth import Principal
from services.kit.eventstore import build_application
from services.kit.settings import Settings

LECTURE = reports.LegalLectureGiven.event_type()
DRILL = reports.SafetyDrillSupervised.event_type()
LAST_TERM = "2025-2026-term-2"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AllianceApplication]:
    application = build_application(AllianceApplication, Settings(state_dir=tmp_path), "alliance")
    yield application
    application.close()


def task(app: AllianceApplication, **changes: Any) -> str:
    fields: dict[str, Any] = {
        "code": "T03",
        "title": "Parent-child curriculum",
        "action": "curriculum",
        "lead": "edu",
        "supporting": ["jus", "wf"],
        "starts_on": date(2025, 9, 1),
        "ends_on": date(2027, 8, 31),
    } | changes
    return str(app.define_task(None, **fields)["task_id"])


def lectures_target(app: AllianceApplication, task_id: str, threshold: float = 2) -> str:
    return str(
        app.define_target(
            None,
            task_id=task_id,
            title="Each school at least two legal lectures a term",
            metric="count",
            numerator=Selection((LECTURE,)),
            denominator=None,
            group_by="school",
            threshold=threshold,
            period="term",
            about_children=False,
        )["target_id"]
    )


def lecture(seq: int, school: str, held_on: date, consumer: str = "c-legal") -> Measured:
    event = reports.LegalLectureGiven(
        report_id=f"r{seq}",
        school_id=school,
        district_id="hanjiang",
        held_on=held_on,
        audience="families",
        attendance=120,
    )
    measure = measure_of(type(event))
    assert measure is not None
    return Measured(consumer, seq, f"jus/{seq}", LECTURE, "jus", measure.fact_of(event))


def drill(seq: int, held_on: date, kind: str) -> Measured:
    """A safety drill at school s1, as its measure would give it."""
    fact = Fact(held_on, "s1", "d1", None, None, 1.0, {"kind": kind})
    return Measured("c-drill", seq, f"d{seq:02}", DRILL, "emg", fact)


class TestThePlan:
    def test_a_milestone_due_before_its_task_starts_is_refused(
        self, app: AllianceApplication
    ) -> None:
        task_id = task(app, starts_on=date(2026, 9, 1))
        version = app.plan().version
        with pytest.raises(MilestoneBeforeStartError):
            app.schedule_milestone(
                None, task_id, title="Early", answerable="edu", due_on=date(2026, 8, 1)
            )
        assert app.plan().version == version

    def test_a_target_over_an_event_type_that_does_not_exist_is_refused(
        self, app: AllianceApplication
    ) -> None:
        task_id = task(app)
        with pytest.raises(UnknownEventTypeError):
            app.define_target(
                None,
                task_id=task_id,
                title="x",
                metric="count",
                numerator=Selection(("org.tongxin.care.home-visit-made.v9",)),
                denominator=None,
                group_by="city",
                threshold=1,
                period="term",
                about_children=False,
            )

    def test_a_type_without_a_measure_is_refused(self, app: AllianceApplication) -> None:
        task_id = task(app)
        with pytest.raises(NotMeasurableError):
            app.define_target(
                None,
                task_id=task_id,
                title="x",
                metric="count",
                numerator=Selection(("org.tongxin.volunteers.volunteer-registered.v2",)),
                denominator=None,
                group_by="city",
                threshold=1,
                period="term",
                about_children=False,
            )

    def test_a_share_threshold_above_100_is_refused(self, app: AllianceApplication) -> None:
        task_id = task(app)
        with pytest.raises(ThresholdOutOfRangeError):
            app.define_target(
                None,
                task_id=task_id,
                title="x",
                metric="share",
                numerator=Selection((DRILL,), {"kind": "fire_"}),
                denominator=Selection((DRILL,)),
                group_by="city",
                threshold=120,
                period="term",
                about_children=False,
            )

    def test_the_plan_publishes_its_definitions(self, app: AllianceApplication) -> None:
        task_id = task(app)
        lectures_target(app, task_id)
        published = [translate(e) for _, e in _events(app) if translate(e) is not None]
        types = [type(p).__name__ for p in published]
        assert types[:2] == ["TaskDefined", "TargetDefined"]


def _events(app: AllianceApplication) -> list[tuple[int, Any]]:
    return [
        (n.id, app.mapper.to_domain_event(n))
        for n in app.recorder.select_notifications(start=0, limit=1000)
    ]


class TestTheLedger:
    def test_each_event_counts_once_and_a_redelivery_changes_nothing(
        self, app: AllianceApplication
    ) -> None:
        task_id = task(app)
        target_id = lectures_target(app, task_id)
        target = app.plan().targets[target_id]
        day = date(2026, 10, 10)
        app.measured("c-legal", 2, [lecture(1, "s1", day), lecture(2, "s1", day)])
        before = app.ledger.checksum()
        # The same batch again, and the same events under later positions.
        app.measured("c-legal", 2, [lecture(1, "s1", day), lecture(2, "s1", day)])
        app.measured("c-legal", 4, [lecture(1, "s1", day, "c-legal"), lecture(2, "s1", day)])
        assert app.ledger.checksum() == before
        value = evaluate_target(app.ledger, target, date(2026, 11, 1))
        assert value.value == 2 and value.met

    def test_as_of_a_day_counts_what_happened_up_to_that_day(
        self, app: AllianceApplication
    ) -> None:
        target_id = lectures_target(app, task(app))
        target = app.plan().targets[target_id]
        app.measured(
            "c-legal",
            3,
            [
                lecture(1, "s1", date(2026, 9, 10)),
                lecture(2, "s2", date(2026, 10, 10)),
                lecture(3, "s1", date(2026, 11, 10)),
            ],
        )
        assert evaluate_target(app.ledger, target, date(2026, 9, 30)).value == 1
        assert evaluate_target(app.ledger, target, date(2026, 11, 30)).value == 3
        # The term before counts nothing of this one.
        assert evaluate_target(app.ledger, target, date(2026, 8, 31)).value is None

    def test_a_rebuilt_ledger_is_identical(self, app: AllianceApplication) -> None:
        batch = [lecture(n, f"s{n % 3}", date(2026, 10, n)) for n in range(1, 20)]
        app.measured("c-legal", 19, batch)
        before = app.ledger.checksum()
        app.ledger.reset()
        assert app.ledger.position("c-legal") == 0
        app.measured("c-legal", 19, batch)
        assert app.ledger.checksum() == before

    def test_a_moment_counts_on_the_city_s_day_not_utc_s(self) -> None:
        # 01:30 on 1 September in the city is still 31 August in UTC: the file opened on
        # the first day of the school year counts in that year.
        event = care.FileOpened(
            file_id="f1",
            school_id="s1",
            class_id="c1",
            district_id="321002",
            source="school",
            opened_at=datetime(2026, 8, 31, 17, 30, tzinfo=UTC),
        )
        measure = measure_of(type(event))
        assert measure is not None
        assert measure.fact_of(event).day == date(2026, 9, 1)
        assert period_of("school-year", measure.fact_of(event).day).label == "2026-2027-school-year"

    def test_a_ledger_kept_in_utc_days_is_read_again_from_the_streams(
        self, app: AllianceApplication, tmp_path: Path
    ) -> None:
        app.measured("c-legal", 3, [lecture(n, "s1", date(2026, 10, n)) for n in range(1, 4)])
        with app.ledger._db.write() as cur:
            cur.run("UPDATE ledger_layout SET version = 3 WHERE name = 'ledger'")
        reopened, empty = (
            Ledger(Settings(state_dir=tmp_path)),
            Ledger(Settings(state_dir=tmp_path / "new")),
        )
        try:
            assert reopened.position("c-legal") == 0
            assert reopened.version() == ()
            assert reopened.checksum() == empty.checksum()
        finally:
            reopened.close()
            empty.close()

    def test_a_late_event_moves_the_running_totals_of_the_days_after_it(
        self, app: AllianceApplication, tmp_path: Path
    ) -> None:
        target_id = lectures_target(app, task(app))
        target = app.plan().targets[target_id]
        on = [date(2026, 10, 10), date(2026, 10, 20), date(2026, 10, 5)]
        app.measured("c-legal", 2, [lecture(1, "s1", on[0]), lecture(2, "s2", on[1])])
        # Reported late, for a day before the others.
        app.measured("c-legal", 3, [lecture(3, "s1", on[2])])
        value = evaluate_target(app.ledger, target, date(2026, 10, 15), trend=True)
        assert [(g.group, g.value) for g in value.groups] == [("s1", 2)]
        assert value.value == 2
        assert evaluate_target(app.ledger, target, date(2026, 10, 7)).value == 1
        assert evaluate_target(app.ledger, target, date(2026, 10, 30)).value == 3
        # The same events in day order make the same ledger.
        in_order = build_application(
            AllianceApplication, Settings(state_dir=tmp_path / "in-order"), "alliance"
        )
        try:
            in_order.measured(
                "c-legal", 3,
                [lecture(3, "s1", on[2]), lecture(1, "s1", on[0]), lecture(2, "s2", on[1])],
            )  # fmt: skip
            assert in_order.ledger.checksum() == app.ledger.checksum()
        finally:
            in_order.close()

    def test_a_second_writer_is_noticed_and_the_totals_stay_right(
        self, app: AllianceApplication, tmp_path: Path
    ) -> None:
        # Another process on the same ledger (as after a restart beside a stopping one).
        other = Ledger(Settings(state_dir=tmp_path))
        try:
            app.measured("c-legal", 1, [lecture(1, "s1", date(2026, 10, 5))])
            other.record("c-legal", 2, [lecture(2, "s1", date(2026, 10, 5))])
            app.measured("c-legal", 3, [lecture(3, "s1", date(2026, 10, 6))])
            other.record("c-legal", 4, [lecture(4, "s1", date(2026, 10, 6))])
            window = (date(2026, 9, 1), date(2026, 10, 31))
            assert [b.events for b in app.ledger.buckets([LECTURE], "school", *window)] == [4]
            assert [b.events for b in other.buckets([LECTURE], "city", *window)] == [4]
        finally:
            other.close()

    def test_the_trend_reads_the_same_values_as_the_figure(self, app: AllianceApplication) -> None:
        target_id = lectures_target(app, task(app))
        target = app.plan().targets[target_id]
        app.measured(
            "c-legal", 4,
            [lecture(n, f"s{n % 2}", date(2026, 9, 7) + timedelta(weeks=n)) for n in range(1, 5)],
        )  # fmt: skip
        as_of = date(2026, 10, 12)
        value = evaluate_target(app.ledger, target, as_of, trend=True)
        for day, point in value.trend:
            assert point == evaluate_target(app.ledger, target, day).value

    def test_campaign_lists_the_lagging_units(self, app: AllianceApplication) -> None:
        task_id = task(app)
        campaign_id = app.launch_campaign(
            None,
            task_id=task_id,
            title="A hundred lectures",
            counts=Selection((LECTURE,)),
            unit="school",
            units=("s1", "s2", "s3"),
            quota=2,
            period="term",
        )["campaign_id"]
        app.measured(
            "c-legal",
            3,
            [lecture(1, "s1", date(2026, 10, 1)), lecture(2, "s1", date(2026, 10, 2)),
             lecture(3, "s2", date(2026, 10, 3))],
        )  # fmt: skip
        progress = evaluate_campaign(
            app.ledger, app.plan().campaigns[campaign_id], date(2026, 11, 1)
        )
        assert progress.lagging == ["s2", "s3"]
        assert progress.units[0] == ("s1", 2.0, 100.0)


class TestOneRequestsFigures:
    def test_a_target_is_read_from_the_ledger_once_per_day_asked(
        self, app: AllianceApplication, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        target_id = lectures_target(app, task(app))
        app.measured(
            "c-legal", 2, [lecture(1, "s1", date(2026, 10, 5)), lecture(2, "s2", date(2026, 10, 6))]
        )
        reads: list[str] = []
        original = app.ledger.buckets
        monkeypatch.setattr(
            app.ledger, "buckets", lambda *a, **k: reads.append("b") or original(*a, **k)
        )
        figures = app.figures()
        day = date(2026, 11, 1)
        value = evaluate_target(figures, app.plan().targets[target_id], day, trend=True)
        cards = scorecards(app.plan(), app.figures(), period_of("term", day), day)
        assert value.value == 2
        assert [c["targets"] for c in cards if c["department"] == "edu"] == [1]
        assert reads == ["b"]
        # A moved ledger is read afresh.
        app.measured("c-legal", 3, [lecture(3, "s3", date(2026, 10, 7))])
        assert evaluate_target(app.figures(), app.plan().targets[target_id], day).value == 3
        assert reads == ["b", "b"]

    def test_a_facet_filter_narrows_the_groups_read_and_keeps_the_figure(
        self, app: AllianceApplication
    ) -> None:
        drills = [
            drill(n, date(2026, 10, n), kind)
            for n, kind in ((1, "fire_"), (2, "fire2"), (3, "earthquake"))
        ]
        app.measured("c-drill", 3, drills)
        day = date(2026, 10, 31)
        narrowed = app.ledger.buckets([DRILL], "school", date(2026, 9, 1), day, {"kind": "fire_"})
        # `_` is no wildcard here: only the exact value is read.
        assert [b.facets["kind"] for b in narrowed] == ["fire_"]
        counts = app.figures().counts(
            Selection((DRILL,), {"kind": "fire_"}), "school", date(2026, 9, 1), day
        )
        assert counts[0] == {"s1": 1}


class TestDrillDown:
    def test_a_filtered_target_lists_a_full_page_then_the_next(
        self, app: AllianceApplication
    ) -> None:
        target_id = str(
            app.define_target(
                None,
                task_id=task(app),
                title="Fire drills",
                metric="count",
                numerator=Selection((DRILL,), {"kind": "fire"}),
                denominator=None,
                group_by="school",
                threshold=1,
                period="term",
                about_children=False,
            )["target_id"]
        )
        # The newest facts are earthquake drills: a filter applied after the row limit
        # would find none of the fire drills among them.
        drills = [
            drill(n, date(2026, 9, 1) + timedelta(days=n), "fire" if n <= 6 else "earthquake")
            for n in range(1, 13)
        ]
        app.measured("c-drill", 12, drills)
        edu = Principal(subject="edu-admin", role="admin", department="edu", scope=("city",))

        def page(after: str | None) -> list[str]:
            body = ContributionsQuery(
                target_id=target_id, as_of=date(2026, 10, 1), limit=4, after=after
            )
            answer = api.contributions(body, edu, app)
            return [e["event_key"] for e in answer["events"]]

        first = page(None)
        assert first == ["d06", "d05", "d04", "d03"]
        assert page(first[-1]) == ["d02", "d01"]


class TestAssessment:
    def test_closed_once_frozen_and_corrected_as_a_correction(
        self, app: AllianceApplication
    ) -> None:
        task_id = task(app, lead="jus", supporting=["edu"])
        lectures_target(app, task_id, threshold=2)
        last_term = parse_label(LAST_TERM)
        app.measured("c-legal", 1, [lecture(1, "s1", date(2026, 3, 1))])
        closed = app.close_assessment(None, last_term)
        jus = next(c for c in closed["scorecards"] if c["department"] == "jus")
        assert (jus["targets"], jus["targets_met"]) == (1, 0)
        with pytest.raises(AlreadyClosedError):
            app.close_assessment(None, last_term)
        # A late report for that term arrives: the correction shows it, the frozen one stays.
        app.measured("c-legal", 2, [lecture(2, "s1", date(2026, 4, 1))])
        corrected = app.correct_assessment(None, last_term, reason="late report")
        assert corrected["corrected"] and corrected["correction"] == 1
        jus = next(c for c in corrected["scorecards"] if c["department"] == "jus")
        assert jus["targets_met"] == 1
        assessment = app.assessment(LAST_TERM)
        frozen = next(c for c in assessment.scorecards if c["department"] == "jus")
        assert frozen["targets_met"] == 0

    def test_a_period_not_yet_over_is_not_closed(self, app: AllianceApplication) -> None:
        with pytest.raises(PeriodNotOverError):
            app.close_assessment(None, period_of("term", date.today()))


class TestTheNewerServicesEvents:
    """Care's home visits and resources' completed visits count through their contracts'
    measures alone: no alliance code names the care or the resources service."""

    def test_a_home_visit_counts_toward_the_families_in_care_visited(
        self, app: AllianceApplication, tmp_path: Path
    ) -> None:
        opened, visit = care.FileOpened.event_type(), care.HomeVisitRecorded.event_type()
        target_id = app.define_target(
            None,
            task_id=task(app, code="T08", action="care"),
            title="Every family in care visited this school year",
            metric="coverage",
            numerator=Selection((visit,)),
            denominator=Selection((opened,)),
            group_by="city",
            threshold=100,
            period="school-year",
            about_children=True,
        )["target_id"]
        target = app.plan().targets[str(target_id)]
        files = [
            care.FileOpened(
                file_id=f"f{n}",
                school_id="yz-dongguan-primary",
                class_id="3-2",
                district_id="321002",
                source="school",
                opened_at=datetime(2026, 9, 5, 9, tzinfo=UTC),
            )
            for n in range(5)
        ]
        visits = [
            care.HomeVisitRecorded(
                file_id=f"f{n}",
                visit_id=f"v{n}-{k}",
                visited_on=date(2026, 10, 10 + k),
                mode="home",
                visitors=2,
                head_teacher_went=True,
            )
            for n in range(4)
            for k in range(2 if n == 0 else 1)
        ]
        app.measured("c-care", 5, [_measured(n, e) for n, e in enumerate(files, 1)])
        assert evaluate_target(app.ledger, target, date(2026, 11, 1)).value == 0
        app.measured("c-care", 10, [_measured(n, e) for n, e in enumerate(visits, 6)])
        value = evaluate_target(app.ledger, target, date(2026, 11, 1))
        # Four of the five files visited (the first twice, counted once).
        assert value.value == 80 and not value.met
        # The fifth file's visit reported late, for a day before the others: counted from
        # its own day on, in this school year only.
        late = care.HomeVisitRecorded(
            file_id="f4",
            visit_id="v4-late",
            visited_on=date(2026, 10, 1),
            mode="home",
            visitors=1,
            head_teacher_went=True,
        )
        app.measured("c-care", 11, [_measured(11, late)])
        assert evaluate_target(app.ledger, target, date(2026, 10, 1)).value == 20
        assert evaluate_target(app.ledger, target, date(2026, 11, 1)).value == 100
        assert evaluate_target(app.ledger, target, date(2027, 9, 1)).value is None
        # The same events in another order make the same ledger, first days included.
        shuffled = build_application(
            AllianceApplication, Settings(state_dir=tmp_path / "shuffled"), "alliance"
        )
        try:
            events = [*files, *visits, late]
            # f0's second visit in an earlier batch than its first (two consumers' worth).
            for consumer, order in (("one", [11, 7, 1, 10, 3]), ("two", [9, 2, 8, 4, 6, 5])):
                shuffled.measured(consumer, 11, [_measured(n, events[n - 1]) for n in order])
            assert shuffled.ledger.checksum() == app.ledger.checksum()
        finally:
            shuffled.close()

    def test_a_completed_venue_visit_counts_in_its_school_s_district(
        self, app: AllianceApplication
    ) -> None:
        completed = resources.VisitCompleted.event_type()
        target_id = app.define_target(
            None,
            task_id=task(app, code="T01", action="learning-map", lead="cult"),
            title="Venue visits completed per district",
            metric="count",
            numerator=Selection((completed,)),
            denominator=None,
            group_by="district",
            threshold=1,
            period="term",
            about_children=False,
        )["target_id"]
        target = app.plan().targets[str(target_id)]
        event = resources.VisitCompleted(
            booking_id="b1",
            slot_id="s1",
            venue_id="canal-museum",
            school_id="yz-dongguan-primary",
            head_count=30,
            rating=5,
            at=datetime(2026, 10, 20, 11, tzinfo=UTC),
        )
        app.measured("c-resources", 1, [_measured(1, event)])
        value = evaluate_target(app.ledger, target, date(2026, 11, 1))
        assert value.value == 1 and value.met
        assert [(g.group, g.value) for g in value.groups] == [("321002", 1)]


def _measured(seq: int, event: Any) -> Measured:
    """A contract event as the measuring reaction keeps it (its school placed in a district)."""
    measure = measure_of(type(event))
    assert measure is not None
    fact = MeasuredFacts(None)._placed(measure.fact_of(event))  # type: ignore[arg-type]
    return Measured(
        f"c-{event.boundary}", seq, f"{event.boundary}/{seq}", event.event_type(),
        event.department(), fact,
    )  # fmt: skip
