"""The care read model: coverage with small cells suppressed, due work, erasure, rebuilds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from contracts.care import FileErased, FileOpened, HomeVisitRecorded, ReviewScheduled
from gateway.care import due
from gateway.care.readmodel import CareReadModel
from gateway.care.types import CoverageFigure
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
