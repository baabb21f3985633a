"""The care read model: coverage with small cells suppressed, due work, erasure, rebuilds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from contracts.care import (
    BreakGlassOpened,
    CareLeadNamed,
    FileErased,
    FileOpened,
    FileStatusChanged,
    FollowUpRecorded,
    HomeTeachingScheduled,
    HomeTeachingSessionDelivered,
    HomeVisitRecorded,
    IntakeReceived,
    LeadAssigned,
    ReviewOverdue,
    ReviewScheduled,
    ReviewsCleared,
)
from contracts.events import ContractEvent
from gateway.care import due
from gateway.care.readmodel import CareReadModel
from gateway.care.types import CoverageFigure, HomeTeachingFigure
from gateway.tests.support import Stream

CONSUMER = "gateway-care"
TODAY = date(2026, 11, 20)
OPENED = datetime(2026, 9, 10, tzinfo=UTC)


def opened(fid: str, school: str, klass: str = "c1") -> FileOpened:
    return FileOpened(
        file_id=fid,
        school_id=school,
        class_id=klass,
        district_id="d1",
        source="school",
        opened_at=OPENED,
    )


def visited(fid: str, on: date, next_on: date | None = None) -> HomeVisitRecorded:
    return HomeVisitRecorded(
        file_id=fid,
        visit_id=f"v-{fid}-{on}",
        visited_on=on,
        mode="home",
        visitors=2,
        head_teacher_went=True,
        next_visit_on=next_on,
    )


def figures(model: CareReadModel, level: str = "school") -> dict[str, CoverageFigure]:
    page = model.coverage(level, today=TODAY, first=100, after=None)  # type: ignore[arg-type]
    return {row.key: CoverageFigure.from_row(row) for row in page.rows}


def test_coverage_suppresses_small_cells_and_erasure_leaves_it(tmp_path: Path) -> None:
    model = CareReadModel(tmp_path / "care.sqlite3").open()
    stream = Stream()
    events = [opened(f"a{n}", "big") for n in range(12)] + [opened("b0", "small")]
    events += [visited(f"a{n}", TODAY - timedelta(days=n)) for n in range(6)]
    # A visit last school year does not count this year.
    events += [visited("a11", date(2026, 6, 1))]
    model.apply(CONSUMER, stream(*events))
    big, small = figures(model)["big"], figures(model)["small"]
    assert (big.files_in_care.value, big.visited.value, big.share_visited) == (12, 6, 0.5)
    assert small.files_in_care.suppressed == "<5" and small.visited.value is None
    before = model.canonical_dump()
    model.apply(CONSUMER, stream(FileErased(file_id="a0", erased_at=OPENED)))
    assert figures(model)["big"] == big
    assert model.file("a0") is None and model.canonical_dump() != before


def test_the_worklist_holds_what_is_due_today(tmp_path: Path) -> None:
    model = CareReadModel(tmp_path / "care.sqlite3").open()
    stream = Stream()
    model.apply(
        CONSUMER,
        stream(
            opened("never", "s"),
            opened("fine", "s"),
            visited("fine", TODAY - timedelta(days=3), TODAY + timedelta(days=30)),
            opened("next-came", "s"),
            visited("next-came", TODAY - timedelta(days=40), TODAY - timedelta(days=1)),
            opened("review", "s"),
            visited("review", TODAY - timedelta(days=2)),
            ReviewScheduled(file_id="review", review_on=TODAY - timedelta(days=1)),
        ),
    )
    page = model.worklist(today=TODAY, first=10, after=None, school_ids=("s",), lead_id=None)
    assert sorted(row.id for row in page.rows) == ["never", "next-came", "review"]
    assert model.worklist(today=TODAY, first=10, after=None, school_ids=(), lead_id=None).rows == []


def test_the_school_year_starts_in_september() -> None:
    assert due.school_year_start(date(2026, 11, 20)) == date(2026, 9, 1)
    assert due.school_year_start(date(2027, 3, 1)) == date(2026, 9, 1)
    assert due.visit_due(date(2026, 6, 30), None, date(2026, 9, 2))
    assert not due.visit_due(date(2026, 9, 2), None, date(2026, 9, 3))


def test_the_services_overdue_flag_puts_a_file_on_the_worklist_until_rescheduled(
    tmp_path: Path,
) -> None:
    model = CareReadModel(tmp_path / "care.sqlite3").open()
    stream = Stream()
    later = TODAY + timedelta(days=10)
    model.apply(
        CONSUMER,
        stream(
            opened("f", "s"),
            visited("f", TODAY - timedelta(days=2), TODAY + timedelta(days=60)),
            ReviewScheduled(file_id="f", review_on=later),
        ),
    )

    def listed() -> list[str]:
        page = model.worklist(today=TODAY, first=10, after=None, school_ids=("s",), lead_id=None)
        return [row.id for row in page.rows]

    assert listed() == []
    # The service's clock ran ahead of the gateway's day: its flag counts all the same.
    model.apply(
        CONSUMER,
        stream(ReviewOverdue(file_id="f", school_id="s", district_id="d1", review_on=later)),
    )
    assert listed() == ["f"]
    row = model.file("f")
    assert row is not None and row.review_overdue(TODAY) and row.review_overdue_on == later
    model.apply(CONSUMER, stream(ReviewScheduled(file_id="f", review_on=later + timedelta(30))))
    assert listed() == []
    model.apply(CONSUMER, stream(ReviewsCleared(file_id="f")))
    cleared = model.file("f")
    assert cleared is not None and cleared.review_on is None


def test_home_teaching_by_district_suppresses_a_few_children(tmp_path: Path) -> None:
    model = CareReadModel(tmp_path / "care.sqlite3").open()
    stream = Stream()
    events: list[ContractEvent] = [opened(f"t{n}", "s") for n in range(6)]
    # Six children taught at home, two sessions each.
    events += [
        HomeTeachingSessionDelivered(
            file_id=f"t{n % 6}", session_id=f"h{n}", delivered_on=TODAY, hours=2.0
        )
        for n in range(12)
    ]
    model.apply(CONSUMER, stream(*events))
    page = model.home_teaching("district", today=TODAY, first=10, after=None)
    [shown] = [HomeTeachingFigure.from_row(r) for r in page.rows]
    assert (shown.children.value, shown.sessions_delivered, shown.hours_delivered) == (6, 12, 24)
    # By school-and-class the same six are one cell; a class of two taught is hidden.
    model.apply(CONSUMER, stream(opened("u0", "s", "c2"), opened("u1", "s", "c2")))
    model.apply(
        CONSUMER,
        stream(
            *(
                HomeTeachingSessionDelivered(
                    file_id=f"u{n}", session_id=f"hu{n}", delivered_on=TODAY, hours=1.0
                )
                for n in range(2)
            )
        ),
    )
    rows = model.home_teaching("class", today=TODAY, first=10, after=None).rows
    hidden = {r.key: HomeTeachingFigure.from_row(r) for r in rows}["s/c2"]
    assert hidden.children.suppressed == "<5"
    assert (hidden.sessions_delivered, hidden.hours_delivered) == (None, None)


def test_a_batch_ends_where_its_events_one_by_one_end(tmp_path: Path) -> None:
    # Runs of one statement are written together: a term's visits and timeline lines,
    # with replays out of order (a visit and a status before the file is opened, an older
    # visit after a newer one, a file erased between two of its events, redelivery).
    day = date(2026, 10, 1)
    session = HomeTeachingSessionDelivered(file_id="b", session_id="s1", delivered_on=day, hours=2)
    stream = Stream()
    events = stream(
        CareLeadNamed(school_id="s1", lead_id="lead-1"),
        IntakeReceived(
            intake_id="i1", file_id="a", school_id="s1", source="civ", received_at=OPENED
        ),
        visited("a", day + timedelta(days=3), day + timedelta(days=30)),
        FileStatusChanged(file_id="a", status="monitoring", changed_at=OPENED),
        opened("a", "s1"),
        opened("b", "s1"),
        opened("c", "s2"),
        visited("a", day + timedelta(days=5)),
        visited("b", day),
        visited("a", day + timedelta(days=4)),
        LeadAssigned(file_id="b", lead_id="lead-2", assigned_at=OPENED),
        ReviewScheduled(file_id="b", review_on=day),
        ReviewOverdue(file_id="b", school_id="s1", district_id="d1", review_on=day),
        ReviewScheduled(file_id="c", review_on=day),
        ReviewsCleared(file_id="c"),
        HomeTeachingScheduled(
            file_id="b", sessions_per_week=2, starts_on=day, ends_on=day + timedelta(days=60)
        ),
        session,
        session,
        FollowUpRecorded(file_id="c", follow_up_id="u1", followed_up_on=day, mode="call"),
        visited("c", day),
        FileErased(file_id="c", erased_at=OPENED),
        visited("c", day + timedelta(days=1)),
        BreakGlassOpened(file_id="a", school_id="s1", opened_by="head-1", until=OPENED),
        CareLeadNamed(school_id="s1", lead_id="lead-3"),
        opened("a", "s1"),
    )
    batched = CareReadModel(tmp_path / "batched.sqlite3").open()
    one_by_one = CareReadModel(tmp_path / "one-by-one.sqlite3").open()
    try:
        batched.apply(CONSUMER, events)
        for delivered in events:
            one_by_one.apply(CONSUMER, [delivered])
        assert batched.canonical_dump() == one_by_one.canonical_dump()
        a = batched.file("a")
        assert a is not None and a.last_visit_on == day + timedelta(days=5)
        assert batched.file("c") is None
        assert batched.care_lead("s1") == "lead-3"
        assert batched.intakes_waiting(None) == {}
    finally:
        batched.close()
        one_by_one.close()
