"""Points awards written a run at a time: the semester's busiest events in the read model.

A run of consecutive `PointsAwarded` events costs three reads (the run's parents, their
points in the run's periods, their terms already counted) and one `executemany` per
table, instead of five statements per award. The run ends in the state its awards one by
one end in:

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

from contracts.courses import PointsAwarded, term_of
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


def write_awards(
    conn: sqlite3.Connection,
    awards: Sequence[PointsAwarded],
    histogram: Counter[tuple[str, str, int]],
) -> None:
    """Write a run of awards in the open transaction; add the histogram changes to `histogram`."""
    if not awards:
        return
    periods = [periods_of(award) for award in awards]
    parents = {award.parent_id for award in awards}
    parent_ids = _ids(parents)
    enrolled: dict[str, tuple[str | None, str | None, int]] = {
        row[0]: (row[1], row[2], row[3])
        for row in conn.execute(
            "SELECT id, school_id, class_id, active FROM parents "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (parent_ids,),
        )
    }
    totals: dict[tuple[str, str], int] = {
        (row[0], row[1]): row[2]
        for row in conn.execute(
            "SELECT parent_id, period, points FROM points_periods "
            "WHERE parent_id IN (SELECT value FROM json_each(?)) "
            "AND period IN (SELECT value FROM json_each(?))",
            (parent_ids, _ids({p for week, month, _ in periods for p in (week, month)})),
        )
    }
    counted: set[tuple[str, str]] = {
        (row[0], row[1])
        for row in conn.execute(
            "SELECT parent_id, term FROM term_active "
            "WHERE parent_id IN (SELECT value FROM json_each(?)) "
            "AND term IN (SELECT value FROM json_each(?))",
            (parent_ids, _ids({term for _, _, term in periods})),
        )
    }

    became_active: list[str] = []
    active_in_class: Counter[tuple[str, str]] = Counter()
    new_in_term: list[tuple[str, str]] = []
    # (term, school, class) -> district of the first award, parents new in the term.
    in_term: dict[tuple[str, str, str], tuple[str, int]] = {}
    # (parent, period) -> school, class and district of the first award, points summed.
    rows: dict[tuple[str, str], tuple[str, str, str, int]] = {}
    for award, (week, month, term) in zip(awards, periods, strict=True):
        parent = award.parent_id
        school, klass, active = enrolled.get(parent, (None, None, 0))
        if not active:
            enrolled[parent] = (school, klass, 1)
            became_active.append(parent)
            if school is not None and klass is not None:
                active_in_class[(school, klass)] += 1
        if (parent, term) not in counted:
            counted.add((parent, term))
            new_in_term.append((parent, term))
            key = (term, award.school_id, award.class_id)
            district, count = in_term.get(key, (award.district, 0))
            in_term[key] = (district, count + 1)
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
        "INSERT INTO parents (id, active) VALUES (?, 1) ON CONFLICT (id) DO UPDATE SET active = 1",
        [(parent,) for parent in became_active],
    )
    conn.executemany(
        "UPDATE participation SET active = active + ? WHERE school_id = ? AND class_id = ?",
        [(count, school, klass) for (school, klass), count in active_in_class.items()],
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
