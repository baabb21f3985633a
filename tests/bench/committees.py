"""Committees: suggestions submitted on PostgreSQL (each schedules its deadline in the
same transaction), departments' progress reports applied as the reaction applies them,
and the figures query over a read model of many suggestions and action items.

Commands go through `CommitteesApplication` in this process (no HTTP: that cost is the
`http` step's); they are compared with raw one-row psycopg commits measured in the same
run (`raw-postgres`). The figures query is compared with a raw `COUNT(*)` over the same
SQLite table.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

from contracts.action_items import PROGRESS_BY_BOUNDARY
from contracts.committees import (
    ActionItemAssigned,
    ActionItemCompleted,
    SuggestionAnswered,
    SuggestionAssigned,
    SuggestionSubmitted,
)
from gateway.committees.readmodel import CommitteesReadModel
from gateway.committees.types import CommitteeFigures
from gateway.tests.support import Stream
from services.committees.application import CommitteesApplication
from services.kit.eventstore import build_application
from services.kit.privacy.personal import PersonalData
from services.kit.settings import Settings
from tests.bench.report import Figure, percentiles

SCHOOLS = 60
DEPARTMENTS = ("pol", "hlth", "jus", "wf", "cult")


def _spread(latencies: list[float]) -> dict[str, float]:
    return {k: round(v * 1000, 3) for k, v in percentiles(latencies, 50, 95).items()}


def commands(settings: Settings, suggestions: int, reports: int) -> list[Figure]:
    app = build_application(CommitteesApplication, settings, "committees")
    assert isinstance(app, CommitteesApplication)
    app.personal = PersonalData.open(settings, "committees")
    try:
        committee = UUID(
            app.form_committee(
                None,
                level="school",
                scope_id="s0",
                district="d0",
                title="bench",
                term_ends_on=date(2099, 7, 31),
            )["committee_id"]
        )
        latencies: list[float] = []
        started = time.perf_counter()
        for n in range(suggestions):
            t = time.perf_counter()
            app.submit_suggestion(
                None,
                committee_id=committee,
                member_id=None,
                anonymous=False,
                topic="safety",
                text=f"suggestion {n}",
                department=None,
                received_on=None,
            )
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
        submit = Figure(
            "committees-submit",
            "committees: submit a suggestion (events + its deadline, one commit)",
            suggestions / elapsed,
            "commands/s",
            _spread(latencies),
        )
        now = datetime.now(UTC)
        meeting = UUID(
            app.convene_joint_meeting(
                None,
                convened_by="city",
                district=None,
                title="bench",
                starts_at=now,
                ends_at=now + timedelta(hours=2),
                departments=["edu", "jus"],
                schools=[],
                committees=[],
            )["joint_meeting_id"]
        )
        items = [
            app.assign_action_item(
                None, meeting, title=f"item {n}", lead="jus", supporters=[], due_on=date(2099, 1, 1)
            )["action_item_id"]
            for n in range(100)
        ]
        batches = max(1, reports // 100)
        started = time.perf_counter()
        for b in range(batches):
            app.record_progress_reports(
                "bench-progress",
                b + 1,
                [
                    PROGRESS_BY_BOUNDARY["legal"](
                        report_id=f"r{b}-{n}",
                        action_item_id=item,
                        status="on-track",
                        percent=(b % 99) + 1,
                        reported_at=now,
                    )
                    for n, item in enumerate(items)
                ],
            )
        elapsed = time.perf_counter() - started
        progress = Figure(
            "committees-progress-reports",
            "committees: departments' progress reports, applied 100 per tracked commit",
            batches * 100 / elapsed,
            "reports/s",
        )
        return [submit, progress]
    finally:
        app.personal.close()
        app.close()


def figures(folder: Path, suggestions: int, queries: int) -> list[Figure]:
    model = CommitteesReadModel(folder / "committees-figures.sqlite3").open()
    try:
        stream = Stream()
        at = datetime(2026, 9, 2, tzinfo=UTC)
        for start in range(0, suggestions, 5_000):
            batch: list = []
            for n in range(start, min(start + 5_000, suggestions)):
                sid = f"s{n}"
                batch.append(
                    SuggestionSubmitted(
                        suggestion_id=sid,
                        committee_id=f"c{n % 500}",
                        school_id=f"s{n % SCHOOLS}",
                        district=f"d{n % 6}",
                        topic="safety",
                        anonymous=False,
                        received_on="2026-09-01",
                        submitted_at=at,
                    )
                )
                batch.append(
                    SuggestionAssigned(
                        suggestion_id=sid,
                        level="school",
                        assigned_department=DEPARTMENTS[n % 5] if n % 3 == 0 else None,
                        due_at=at + timedelta(days=21),
                        assigned_at=at,
                    )
                )
                if n % 2 == 0:
                    batch.append(
                        SuggestionAnswered(
                            suggestion_id=sid,
                            answered_by="edu",
                            on_time=n % 4 == 0,
                            answered_at=at + timedelta(days=n % 30),
                        )
                    )
                if n % 50 == 0:
                    item = f"a{n}"
                    lead = DEPARTMENTS[n % 5]
                    batch.append(
                        ActionItemAssigned(
                            action_item_id=item,
                            joint_meeting_id="m",
                            convened_by="city",
                            district=None,
                            title="bench",
                            lead_department=lead,
                            supporting_departments=["edu"],
                            due_at=at + timedelta(days=60),
                            assigned_at=at,
                        )
                    )
                    batch.append(
                        ActionItemCompleted(
                            action_item_id=item,
                            lead_department=lead,
                            on_time=n % 100 == 0,
                            completed_at=at + timedelta(days=40),
                        )
                    )
            model.apply("bench", stream(*batch))
        latencies = []
        now = datetime.now(UTC)
        for _ in range(queries):
            t = time.perf_counter()
            CommitteeFigures.from_figures(model.figures(now))
            latencies.append(time.perf_counter() - t)
        spread = _spread(latencies)
        query = Figure(
            "committees-figures",
            f"committees: figures over {suggestions} suggestions (p50)",
            spread["p50"],
            "ms",
            spread,
        )
        raw = sqlite3.connect(folder / "committees-figures.sqlite3")
        latencies = []
        for _ in range(queries):
            t = time.perf_counter()
            raw.execute("SELECT COUNT(*) FROM suggestions").fetchone()
            latencies.append(time.perf_counter() - t)
        raw.close()
        spread = _spread(latencies)
        count = Figure(
            "committees-figures-raw-count",
            "raw SQLite COUNT(*) of the same suggestions (p50)",
            spread["p50"],
            "ms",
            spread,
        )
        return [query, count]
    finally:
        model.close()
