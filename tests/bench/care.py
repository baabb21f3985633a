"""Care: opening files and recording visits on PostgreSQL, and the coverage query.

Commands go through `CareApplication` in this process (no HTTP: that cost is the
`http` step's), each one a full command: the child's fields encrypted with their own
data key, decided on fresh state and committed with its events. They are compared with
raw one-row psycopg commits measured in the same run (`raw-postgres`).

The coverage query runs over a read model of `files` files and `visits` visits (the
issue's 3,000 and 30,000), per class, school and district, p50/p95 of the whole query
with its suppression, next to a raw `COUNT(*)` over the same table; so do a care lead's
worklist (one school's first page) and home-teaching sessions per district (one
session for every tenth visit, on one file in twenty).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from contracts.care import (
    FileOpened,
    FileStatusChanged,
    HomeTeachingSessionDelivered,
    HomeVisitRecorded,
    ReviewScheduled,
)
from contracts.events import ContractEvent
from gateway.care.readmodel import CareReadModel
from gateway.care.types import CoverageFigure, HomeTeachingFigure, WorklistItem
from gateway.core.projection import SqliteProjection
from gateway.tests.support import Stream
from services.care.application import CareApplication
from services.kit.citytime import city_day
from services.kit.eventstore import build_application
from services.kit.privacy.personal import PersonalData
from services.kit.settings import Settings
from tests.bench.report import Figure, percentiles

SCHOOLS = 60
CLASSES = 10
TODAY = date(2026, 11, 20)
# The first days of the next school year: every family is due a visit again.
NEW_YEAR = date(2027, 9, 10)


def _spread(latencies: list[float]) -> dict[str, float]:
    return {k: round(v * 1000, 3) for k, v in percentiles(latencies, 50, 95).items()}


def commands(settings: Settings, files: int, visits_per_file: int) -> list[Figure]:
    app = build_application(CareApplication, settings, "care")
    assert isinstance(app, CareApplication)
    app.personal = PersonalData.open(settings, "care")
    try:
        opened: list[UUID] = []
        latencies: list[float] = []
        started = time.perf_counter()
        for n in range(files):
            t = time.perf_counter()
            answer = app.open_file(
                None,
                opened_by="bench",
                school_id=f"s{n % SCHOOLS}",
                class_id=f"c{n % CLASSES}",
                district_id=f"d{n % 6}",
                name=f"child {n}",
            )
            latencies.append(time.perf_counter() - t)
            opened.append(UUID(answer["file_id"]))
        elapsed = time.perf_counter() - started
        open_figure = Figure(
            "care-open-file",
            "care: open a file (data key + encrypted name + commit)",
            files / elapsed,
            "commands/s",
            _spread(latencies),
        )
        latencies = []
        started = time.perf_counter()
        today = city_day(datetime.now(UTC))
        for n, file_id in enumerate(opened[: max(1, files // 2)]):
            for v in range(visits_per_file):
                t = time.perf_counter()
                app.record_visit(
                    None,
                    file_id,
                    visited_on=today - timedelta(days=visits_per_file - v),
                    mode="home",
                    visitors=["head-teacher", "volunteer"],
                    notes=f"visit {n}-{v}",
                    next_visit_on=None,
                    recorded_by="bench",
                )
                latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
        visit_figure = Figure(
            "care-record-visit",
            "care: record a home visit (load file + encrypted notes + commit)",
            len(latencies) / elapsed,
            "commands/s",
            _spread(latencies),
        )
        return [open_figure, visit_figure]
    finally:
        app.personal.close()
        app.close()


def coverage(folder: Path, files: int, visits: int, queries: int) -> list[Figure]:
    model = CareReadModel(folder / "care-coverage.sqlite3").open()
    try:
        stream = Stream()
        opened_at = datetime(2026, 9, 2, tzinfo=UTC)
        batch = [
            FileOpened(
                file_id=f"f{n}",
                school_id=f"s{n % SCHOOLS}",
                class_id=f"c{n % CLASSES}",
                district_id=f"d{n % 6}",
                source="school",
                opened_at=opened_at,
            )
            for n in range(files)
        ]
        model.apply("bench", stream(*batch))
        for start in range(0, visits, 5_000):
            model.apply(
                "bench",
                stream(
                    *(
                        HomeVisitRecorded(
                            file_id=f"f{(n * 7) % files}",
                            visit_id=f"v{n}",
                            visited_on=date(2026, 9, 2) + timedelta(days=n % 70),
                            mode="home",
                            visitors=2,
                            head_teacher_went=True,
                        )
                        for n in range(start, min(start + 5_000, visits))
                    )
                ),
            )
        figures = []
        for level in ("class", "school", "district"):
            latencies = []
            for _ in range(queries):
                t = time.perf_counter()
                page = model.coverage(level, today=TODAY, first=100, after=None)  # type: ignore[arg-type]
                [CoverageFigure.from_row(row) for row in page.rows]
                latencies.append(time.perf_counter() - t)
            spread = _spread(latencies)
            figures.append(
                Figure(
                    f"care-coverage-{level}",
                    f"care: coverage by {level}, {files} files / {visits} visits (p50)",
                    spread["p50"],
                    "ms",
                    spread,
                )
            )
        model.apply(
            "bench",
            stream(
                *(
                    HomeTeachingSessionDelivered(
                        file_id=f"f{(n * 20) % files}",
                        session_id=f"h{n}",
                        delivered_on=date(2026, 9, 2) + timedelta(days=n % 70),
                        hours=2.0,
                    )
                    for n in range(visits // 10)
                )
            ),
        )
        figures.append(
            _timed(
                "care-worklist-school",
                f"care: a care lead's worklist, 50 due at a school, {files} files (p50)",
                queries,
                lambda: [
                    WorklistItem.of(row, NEW_YEAR)
                    for row in model.worklist(
                        today=NEW_YEAR, first=50, after=None, school_ids=("s1",), lead_id="lead"
                    ).rows
                ],
            )
        )
        figures.append(
            _timed(
                "care-home-teaching-district",
                f"care: home-teaching sessions by district, {visits // 10} sessions (p50)",
                queries,
                lambda: [
                    HomeTeachingFigure.from_row(row)
                    for row in model.home_teaching(
                        "district", today=TODAY, first=100, after=None
                    ).rows
                ],
            )
        )
        raw = sqlite3.connect(folder / "care-coverage.sqlite3")
        latencies = []
        for _ in range(queries):
            t = time.perf_counter()
            raw.execute("SELECT COUNT(*) FROM files").fetchone()
            latencies.append(time.perf_counter() - t)
        raw.close()
        spread = _spread(latencies)
        figures.append(
            Figure(
                "care-coverage-raw-count",
                "raw SQLite COUNT(*) of the same files (p50)",
                spread["p50"],
                "ms",
                spread,
            )  # fmt: skip
        )
        return figures
    finally:
        model.close()


def _timed(name: str, title: str, queries: int, query: Callable[[], object]) -> Figure:
    latencies = []
    for _ in range(queries):
        t = time.perf_counter()
        query()
        latencies.append(time.perf_counter() - t)
    spread = _spread(latencies)
    return Figure(name, title, spread["p50"], "ms", spread)


class OneStatementAtATime(CareReadModel):
    """The care read model writing each event's statements one `execute` at a time."""

    apply_events = SqliteProjection.apply_events


def readmodel_apply(folder: Path, files: int, visits: int, batch: int = 500) -> list[Figure]:
    """Events/s the care read model applies in consumer-sized batches of a term's mix
    (files opened, statuses, reviews, visits, home sessions), its statements in runs
    (`executemany`) next to one `execute` each, on the same events in the same run."""
    events = _term(files, visits)
    figures = []
    for name, model_class in (("executemany", CareReadModel), ("execute", OneStatementAtATime)):
        path = folder / f"care-apply-{name}.sqlite3"
        path.unlink(missing_ok=True)
        model = model_class(path).open()
        try:
            cpu_started = time.process_time()
            started = time.perf_counter()
            for offset in range(0, len(events), batch):
                model.apply("bench", events[offset : offset + batch])
            elapsed = time.perf_counter() - started
            cpu_s = time.process_time() - cpu_started
        finally:
            model.close()
        figures += [
            Figure(
                f"care-readmodel-apply.{name}",
                f"care read model: a term's events applied, batches of {batch}, {name}",
                len(events) / elapsed,
                "events/s",
                {"events": len(events), "batch": batch, "seconds": elapsed},
            ),
            Figure(
                f"care-readmodel-apply.{name}.cpu_us",
                f"care read model: a term's events applied, {name}: CPU per event",
                cpu_s / len(events) * 1e6,
                "us",
                {"events": len(events), "cpu_seconds": cpu_s},
            ),
        ]
    return figures


def _term(files: int, visits: int) -> list[Any]:
    """Files opened a school at a time with their first review, then visits, statuses and
    home sessions interleaved, as commands across the city would publish them."""
    opened_at = datetime(2026, 9, 2, tzinfo=UTC)
    first_day = date(2026, 9, 2)
    mixed: list[ContractEvent] = []
    for n in range(files):
        mixed.append(
            FileOpened(
                file_id=f"f{n}",
                school_id=f"s{n % SCHOOLS}",
                class_id=f"c{n % CLASSES}",
                district_id=f"d{n % 6}",
                source="school",
                opened_at=opened_at,
            )
        )
        mixed.append(ReviewScheduled(file_id=f"f{n}", review_on=first_day + timedelta(days=30)))
    for n in range(visits):
        file_id = f"f{(n * 7) % files}"
        day = first_day + timedelta(days=n % 70)
        mixed.append(
            HomeVisitRecorded(
                file_id=file_id,
                visit_id=f"v{n}",
                visited_on=day,
                mode="home",
                visitors=2,
                head_teacher_went=True,
            )
        )
        if n % 10 == 0:
            mixed.append(
                HomeTeachingSessionDelivered(
                    file_id=file_id, session_id=f"h{n}", delivered_on=day, hours=2.0
                )
            )
        if n % 25 == 0:
            mixed.append(
                FileStatusChanged(file_id=file_id, status="monitoring", changed_at=opened_at)
            )
    return Stream()(*mixed)
