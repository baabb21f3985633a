"""Enrolments and awards written a run at a time end where the straightforward writes end."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.courses import ParentEnrolled, ParentErased, PointsAwarded, RankingConsentChanged
from contracts.events import ContractEvent
from gateway.courses.readmodel import CoursesReadModel
from gateway.tests.support import Stream
from services.kit.consumer import Delivered

T = datetime(2026, 11, 10, 12, tzinfo=UTC)


class EventByEvent(CoursesReadModel):
    """Each event written on its own, an enrolment as straightforwardly as it can be: the
    parent moved to the class, then the parents and active parents of the class joined and
    of the class left counted from the rows."""

    def apply_events(
        self, conn: sqlite3.Connection, events: Sequence[ContractEvent], changed: set[str]
    ) -> None:
        for event in events:
            if isinstance(event, ParentEnrolled):
                conn.execute(
                    "INSERT INTO parents (id) VALUES (?) ON CONFLICT (id) DO NOTHING",
                    (event.parent_id,),
                )
                before = conn.execute(
                    "SELECT school_id, class_id, district FROM parents WHERE id = ?",
                    (event.parent_id,),
                ).fetchone()
                conn.execute(
                    "UPDATE parents SET school_id = ?, class_id = ?, district = ? WHERE id = ?",
                    (event.school_id, event.class_id, event.district, event.parent_id),
                )
                if before[0] is not None and before[1] is not None:
                    self._count(conn, before[0], before[1], before[2])
                self._count(conn, event.school_id, event.class_id, event.district)
            else:
                self.apply_event(conn, event, changed)

    @staticmethod
    def _count(conn: sqlite3.Connection, school: str, klass: str, district: str) -> None:
        conn.execute(
            "INSERT INTO participation (school_id, class_id, district, enrolled, active) "
            "SELECT ?, ?, ?, COUNT(*), COALESCE(SUM(active), 0) FROM parents "
            "WHERE school_id = ? AND class_id = ? "
            "ON CONFLICT (school_id, class_id) DO UPDATE SET enrolled = excluded.enrolled, "
            "active = excluded.active, district = excluded.district",
            (school, klass, district, school, klass),
        )


def enrolled(parent: str, school: str, klass: str) -> ParentEnrolled:
    return ParentEnrolled(
        parent_id=parent, school_id=school, class_id=klass, district=f"d-{school}", enrolled_at=T
    )


def awarded(parent: str, points: int, school: str, klass: str, days: int) -> PointsAwarded:
    return PointsAwarded(
        parent_id=parent, school_id=school, class_id=klass, district=f"d-{school}",
        activity="attendance", source_id=f"s-{parent}-{points}-{days}", points=points,
        rule_version=1, earned_at=T + timedelta(days=days),
    )  # fmt: skip


def mixed_stream(seed: int) -> list[ContractEvent]:
    """Enrolments and awards interleaved, with what a tolerant replay brings: awards before
    the enrolment, parents moving class (and back), consent and erasure ending runs, awards
    over two terms and several weeks."""
    rng = random.Random(seed)
    classes = [("s1", "1-1"), ("s1", "1-2"), ("s2", "2-1")]
    parents = [f"p{n}" for n in range(12)]
    events: list[ContractEvent] = []
    for _ in range(120):
        parent = rng.choice(parents)
        school, klass = rng.choice(classes)
        roll = rng.random()
        if roll < 0.35:
            events.append(enrolled(parent, school, klass))
        elif roll < 0.9:
            days = rng.choice([0, 3, 9, 100])
            events.append(awarded(parent, rng.choice([1, 5, 5, 10]), school, klass, days))
        elif roll < 0.95:
            events.append(RankingConsentChanged(parent_id=parent, opted_in=rng.random() < 0.5))
        else:
            events.append(ParentErased(parent_id=parent, erased_at=T))
    return events


def dump_after(model: CoursesReadModel, delivered: list[Delivered], batch: int) -> str:
    model.open()
    try:
        for start in range(0, len(delivered), batch):
            model.apply("c", delivered[start : start + batch])
        return model.canonical_dump()
    finally:
        model.close()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_runs_end_where_the_events_one_by_one_end(tmp_path: Path, seed: int) -> None:
    delivered = Stream()(*mixed_stream(seed))
    expected = dump_after(EventByEvent(tmp_path / "reference.sqlite3"), delivered, 1)
    assert '"participation":[{' in expected and '"points_histogram":[{' in expected
    for batch in (1, 4, 17, 500):
        found = dump_after(CoursesReadModel(tmp_path / f"runs-{batch}.sqlite3"), delivered, batch)
        assert found == expected, f"batches of {batch}"


def test_a_rebuild_ends_where_the_live_model_ended(tmp_path: Path) -> None:
    delivered = Stream()(*mixed_stream(5))
    model = CoursesReadModel(tmp_path / "courses.sqlite3")
    live = dump_after(model, delivered, 7)
    model.open()
    try:
        model.reset()
        model.apply("c", delivered)
        # A redelivered tail changes nothing.
        model.apply("c", delivered[-30:])
        assert model.canonical_dump() == live
    finally:
        model.close()


def test_a_class_a_parent_leaves_counts_them_no_more_at_once(
    tmp_path: Path,
) -> None:
    stream = Stream()
    model = CoursesReadModel(tmp_path / "courses.sqlite3").open()
    try:
        model.apply(
            "c",
            stream(
                enrolled("a", "s1", "1-1"),
                enrolled("b", "s1", "1-1"),
                awarded("a", 5, "s1", "1-1", 0),
                enrolled("a", "s1", "1-2"),
            ),
        )
        rows = {
            row["class_id"]: (row["enrolled"], row["active"])
            for row in model._conn.execute("SELECT * FROM participation")  # type: ignore[union-attr]
        }
        assert rows == {"1-1": (1, 0), "1-2": (1, 1)}
        model.apply("c", stream(enrolled("c", "s1", "1-1")))
        rows = {
            row["class_id"]: (row["enrolled"], row["active"])
            for row in model._conn.execute("SELECT * FROM participation")  # type: ignore[union-attr]
        }
        assert rows == {"1-1": (2, 0), "1-2": (1, 1)}
    finally:
        model.close()
