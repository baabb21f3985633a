"""Enrolments and points awards written a run at a time: the semester's busiest events.

A run of consecutive `ParentEnrolled` and `PointsAwarded` events (a city's semester is
mostly these two, interleaved) costs four reads (the run's parents, their classes' counts,
their points in the run's periods, their terms already counted) and one `executemany` per
table, instead of several statements per event. The run ends in the state its events one by
one end in:

- an enrolment moves the parent to their class and sets the class's participation to the
  class's parents and active parents at that moment (counted from the rows read at the start
  plus the moves and activations of the run so far), and the class they left to its own
  counts without them;
- points per parent and period are summed over the run; a new row takes the school,
  class and district of the run's first award for it, as the first insert would;
- the histograms move award by award in memory, from the totals read at the start, so a
  parent whose class changed within a period moves between the right scopes; the
  model writes the summed changes once per batch (`before_commit`);
- a parent counts once per term in their class (`term_participation`), from their
  first award in it;
- a parent becoming active adds one to the participation of the class they are enrolled
  in (nothing for a parent not enrolled yet: enrolment counts them then).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date
from functools import lru_cache
from typing import Any

from contracts.courses import ParentEnrolled, PointsAwarded, term_of
from services.kit.citytime import city_day


@lru_cache(maxsize=4096)
def periods_of_day(day: date) -> tuple[str, str, str]:
    """The ISO week, month and term a city day counts in."""
    year, week, _ = day.isocalendar()
    return f"week:{year}-W{week:02d}", f"month:{day.year}-{day.month:02d}", term_of(day).label


def periods_of(award: PointsAwarded) -> tuple[str, str, str]:
    earned = award.earned_at
    return periods_of_day(city_day(earned if earned.tzinfo else earned.replace(tzinfo=UTC)))


def scopes_of(award: PointsAwarded) -> tuple[str, str, str, str]:
    """The histogram scopes an award counts in: the city, its district, school and class."""
    return (
        "city",
        f"district:{award.district}",
        f"school:{award.school_id}",
        f"class:{award.school_id}/{award.class_id}",
    )


def _ids(values: set[str]) -> str:
    return json.dumps(sorted(values))


class _Parent:
    """A parent's row as the run leaves it."""

    __slots__ = ("school", "klass", "district", "active")

    def __init__(
        self, school: str | None, klass: str | None, district: str | None, active: int
    ) -> None:
        self.school = school
        self.klass = klass
        self.district = district
        self.active = active


def _parents(conn: sqlite3.Connection, ids: set[str]) -> dict[str, _Parent]:
    return {
        row[0]: _Parent(row[1], row[2], row[3], row[4])
        for row in conn.execute(
            "SELECT id, school_id, class_id, district, active FROM parents "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (_ids(ids),),
        )
    }


def _class_counts(
    conn: sqlite3.Connection, classes: set[tuple[str, str]]
) -> dict[tuple[str, str], list[int]]:
    """[parents, active parents] of each class, as stored before the run."""
    counts = {key: [0, 0] for key in classes}
    if classes:
        for school, klass, enrolled, active in conn.execute(
            "SELECT p.school_id, p.class_id, COUNT(*), COALESCE(SUM(p.active), 0) "
            "FROM json_each(?) AS k JOIN parents AS p "
            "ON p.school_id = json_extract(k.value, '$[0]') "
            "AND p.class_id = json_extract(k.value, '$[1]') "
            "GROUP BY p.school_id, p.class_id",
            (json.dumps(sorted(classes)),),
        ):
            counts[(school, klass)] = [enrolled, active]
    return counts


def write_run(
    conn: sqlite3.Connection,
    events: Sequence[ParentEnrolled | PointsAwarded],
    histogram: Counter[tuple[str, str, int]],
) -> None:
    """Write a run in the open transaction; add the histogram changes to `histogram`."""
    if not events:
        return
    awards = [event for event in events if isinstance(event, PointsAwarded)]
    periods = {id(award): periods_of(award) for award in awards}
    award_parents = {award.parent_id for award in awards}
    parents = _parents(conn, {event.parent_id for event in events})
    enrolling = {e.parent_id for e in events if isinstance(e, ParentEnrolled)}
    classes = _class_counts(
        conn,
        {(e.school_id, e.class_id) for e in events if isinstance(e, ParentEnrolled)}
        | {
            (state.school, state.klass)
            for parent, state in parents.items()
            if parent in enrolling and state.school is not None and state.klass is not None
        },
    )
    parent_ids = _ids(award_parents)
    totals: dict[tuple[str, str], int] = {
        (row[0], row[1]): row[2]
        for row in conn.execute(
            # Parent by parent through the primary key: left to itself, SQLite reads every
            # row of the run's periods through `points_in_city` (all the city's parents).
            "SELECT pp.parent_id, pp.period, pp.points "
            "FROM json_each(?) AS k CROSS JOIN points_periods AS pp ON pp.parent_id = k.value "
            "WHERE pp.period IN (SELECT value FROM json_each(?))",
            (
                parent_ids,
                _ids({p for week, month, _ in periods.values() for p in (week, month)}),
            ),
        )
    }
    counted: set[tuple[str, str]] = {
        (row[0], row[1])
        for row in conn.execute(
            "SELECT parent_id, term FROM term_active "
            "WHERE parent_id IN (SELECT value FROM json_each(?)) "
            "AND term IN (SELECT value FROM json_each(?))",
            (parent_ids, _ids({term for _, _, term in periods.values()})),
        )
    }

    written: dict[str, _Parent] = {}
    # Participation rows an enrolment set in this run: [district, enrolled, active].
    participation: dict[tuple[str, str], list[Any]] = {}
    # Parents becoming active in classes whose row the run did not set (yet).
    active_in_class: Counter[tuple[str, str]] = Counter()
    new_in_term: list[tuple[str, str]] = []
    # (term, school, class) -> district of the first award, parents new in the term.
    in_term: dict[tuple[str, str, str], tuple[str, int]] = {}
    # (parent, period) -> school, class and district of the first award, points summed.
    rows: dict[tuple[str, str], tuple[str, str, str, int]] = {}
    for event in events:
        parent = event.parent_id
        state = parents.get(parent)
        if state is None:
            state = parents[parent] = _Parent(None, None, None, 0)
        if isinstance(event, ParentEnrolled):
            left_key = (state.school, state.klass)
            left = classes.get(left_key)  # type: ignore[arg-type]
            if left is not None:
                left[0] -= 1
                left[1] -= state.active
                participation[left_key] = [state.district, left[0], left[1]]  # type: ignore[index]
                active_in_class.pop(left_key, None)  # type: ignore[arg-type]
            state.school, state.klass, state.district = (
                event.school_id,
                event.class_id,
                event.district,
            )
            key = (event.school_id, event.class_id)
            joined = classes[key]
            joined[0] += 1
            joined[1] += state.active
            participation[key] = [event.district, joined[0], joined[1]]
            active_in_class.pop(key, None)
            written[parent] = state
            continue
        award = event
        week, month, term = periods[id(award)]
        if not state.active:
            state.active = 1
            written[parent] = state
            if state.school is not None and state.klass is not None:
                key = (state.school, state.klass)
                if key in classes:
                    classes[key][1] += 1
                if key in participation:
                    participation[key][2] += 1
                else:
                    active_in_class[key] += 1
        if (parent, term) not in counted:
            counted.add((parent, term))
            new_in_term.append((parent, term))
            term_key = (term, award.school_id, award.class_id)
            district, count = in_term.get(term_key, (award.district, 0))
            in_term[term_key] = (district, count + 1)
        scopes = scopes_of(award)
        for period in (week, month):
            before = totals.get((parent, period), 0)
            after = totals[(parent, period)] = before + award.points
            school_id, class_id, district, points = rows.get(
                (parent, period), (award.school_id, award.class_id, award.district, 0)
            )
            rows[(parent, period)] = (school_id, class_id, district, points + award.points)
            for scope in scopes:
                if before > 0:
                    histogram[(scope, period, before)] -= 1
                if after > 0:
                    histogram[(scope, period, after)] += 1

    conn.executemany(
        "INSERT INTO parents (id, school_id, class_id, district, active) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET school_id = excluded.school_id, "
        "class_id = excluded.class_id, district = excluded.district, active = excluded.active",
        [
            (parent, state.school, state.klass, state.district, state.active)
            for parent, state in written.items()
        ],
    )
    conn.executemany(
        "UPDATE participation SET active = active + ? WHERE school_id = ? AND class_id = ?",
        [(count, school, klass) for (school, klass), count in active_in_class.items()],
    )
    conn.executemany(
        "INSERT INTO participation (school_id, class_id, district, enrolled, active) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (school_id, class_id) DO UPDATE SET "
        "enrolled = excluded.enrolled, active = excluded.active, district = excluded.district",
        [
            (school, klass, district, enrolled, active)
            for (school, klass), (district, enrolled, active) in participation.items()
        ],
    )
    conn.executemany(
        "INSERT INTO term_active (parent_id, term) VALUES (?, ?) "
        "ON CONFLICT (parent_id, term) DO NOTHING",
        new_in_term,
    )
    conn.executemany(
        "INSERT INTO term_participation (school_id, class_id, term, district, active) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (term, school_id, class_id) "
        "DO UPDATE SET active = active + excluded.active",
        [
            (school, klass, term, district, count)
            for (term, school, klass), (district, count) in in_term.items()
        ],
    )
    conn.executemany(
        "INSERT INTO points_periods (parent_id, period, points, school_id, class_id, district) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (parent_id, period) "
        "DO UPDATE SET points = points + excluded.points",
        [
            (parent, period, points, school, klass, district)
            for (parent, period), (school, klass, district, points) in rows.items()
        ],
    )
