"""The alliance's ledger of measured facts: one row per measured event, and running totals.

Every measurable event (`contracts.measures`) of every boundary the alliance reacts to is
kept here once, in the alliance's own database, with its consumer's stream position in
the same transaction: a redelivered event finds its position already passed (and its
event id already kept) and changes nothing. The ledger is a projection: dropped, it is
rebuilt from the streams and comes out identical (`checksum`).

How "as of any date" stays fast: for each event type, grouping (city, school, district,
unit, department), group and facet values, `ledger_running` holds the running total of
events and quantity up to each day the group had events. A count or sum over days
first..last is the total on the last such day up to `last` less the one before `first`:
two index seeks per group, whatever the number of events or days, so a whole scorecard
as of 1 September is a few hundred indexed reads.

Coverage needs distinct subjects, and the ones reached among a population: for each
event type, period (each term, school year and calendar year) and subject (with its
groups and facets), `ledger_firsts` holds the first day the subject was seen in the
period, kept at apply time (a late event moves it earlier). Coverage as of a day is one
SQL statement: the population's subjects first seen by then, each with one index seek for
whether it was reached by then: rows per subject and period, not per event.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

from contracts.measures import Fact
from services.alliance.periods import period_of
from services.kit.privacy.database import postgres_pool, sqlite_path
from services.kit.settings import Settings

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ledger_positions (
        consumer TEXT PRIMARY KEY, position BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ledger_facts (
        event_key TEXT PRIMARY KEY,
        consumer TEXT NOT NULL, seq BIGINT NOT NULL,
        event_type TEXT NOT NULL, department TEXT NOT NULL, day TEXT NOT NULL,
        school TEXT NOT NULL, district TEXT NOT NULL, unit TEXT NOT NULL,
        subject TEXT NOT NULL, quantity DOUBLE PRECISION NOT NULL, facets TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS ledger_facts_type_day ON ledger_facts (event_type, day)""",
    # The groups each event type was counted in, per grouping: the rows a figure lists.
    """CREATE TABLE IF NOT EXISTS ledger_groups (
        event_type TEXT NOT NULL, grouping TEXT NOT NULL, group_key TEXT NOT NULL,
        facets TEXT NOT NULL,
        PRIMARY KEY (event_type, grouping, group_key, facets))""",
    # A group's events and quantity from its first day up to `day` included, one row per
    # day the group had events.
    """CREATE TABLE IF NOT EXISTS ledger_running (
        event_type TEXT NOT NULL, grouping TEXT NOT NULL, group_key TEXT NOT NULL,
        facets TEXT NOT NULL, day TEXT NOT NULL,
        events BIGINT NOT NULL, quantity DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (event_type, grouping, group_key, facets, day))""",
    # The first day each subject was seen in each period, with its groups and facets.
    """CREATE TABLE IF NOT EXISTS ledger_firsts (
        event_type TEXT NOT NULL, period TEXT NOT NULL, subject TEXT NOT NULL,
        school TEXT NOT NULL, district TEXT NOT NULL, unit TEXT NOT NULL,
        department TEXT NOT NULL, facets TEXT NOT NULL, day TEXT NOT NULL,
        PRIMARY KEY (event_type, period, subject, school, district, unit, department, facets))""",
    """CREATE TABLE IF NOT EXISTS ledger_layout (
        name TEXT PRIMARY KEY, version BIGINT NOT NULL)""",
)
LAYOUT = 4
"""1: per-day buckets summed when read; 2: running totals per grouping; 3: and the first
day of each subject per period; 4: a fact's day is the city's (`contracts.city.city_day`)."""
GROUPINGS = ("city", "school", "district", "unit", "department")
ALL = "*"
"""The group of every fact with a group in its grouping (no school id is `*`)."""


@dataclass(frozen=True)
class Measured:
    """One event to keep: where it came from and its facts."""

    consumer: str
    seq: int
    event_key: str
    event_type: str
    department: str
    fact: Fact


@dataclass(frozen=True)
class Bucket:
    group: str
    facets: dict[str, str]
    events: int
    quantity: float


@dataclass(frozen=True)
class Contribution:
    """A fact as a drill-down shows it: the event, its day and groups, never a person."""

    event_key: str
    event_type: str
    department: str
    day: str
    school: str
    district: str
    unit: str
    quantity: float


class _Database(Protocol):
    def write(self) -> Any: ...
    def read(self) -> Any: ...
    def close(self) -> None: ...


class _Sqlite:
    def __init__(self, settings: Settings) -> None:
        self._conn = sqlite3.connect(
            sqlite_path(settings, "alliance-ledger"),
            timeout=10.0,
            isolation_level=None,
            check_same_thread=False,
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        # A commit is not synced to disk (WAL stays consistent): a projection rebuilt from
        # its streams may lose its last batches at a power cut, and replays them.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Cursor(self._conn, "?")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Any]:
        with self._lock:
            yield _Cursor(self._conn, "?")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Postgres:
    def __init__(self, settings: Settings) -> None:
        self._pool = postgres_pool(settings, "alliance", max_size=4)

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction():
            yield _Cursor(conn, "%s")

    @contextmanager
    def read(self) -> Iterator[Any]:
        with self._pool.connection() as conn:
            yield _Cursor(conn, "%s")

    def close(self) -> None:
        self._pool.close()


class _Cursor:
    """SQL written with `?` placeholders, run on either database."""

    def __init__(self, conn: Any, mark: str) -> None:
        self._conn = conn
        self._mark = mark

    def run(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(statement.replace("?", self._mark), tuple(params))

    def run_many(self, statement: str, params: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows (psycopg pipelines them; SQLite prepares it once)."""
        if not params:
            return
        if self._mark == "?":
            self._conn.executemany(statement, params)
        else:
            with self._conn.cursor() as cursor:
                cursor.executemany(statement.replace("?", self._mark), params)

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.run(statement, params).fetchall())


class Ledger:
    """The measured facts; see the module docstring. Thread-safe, synchronous."""

    def __init__(self, settings: Settings) -> None:
        self._db: _Database = (
            _Postgres(settings) if settings.store == "postgres" else _Sqlite(settings)
        )
        with self._db.write() as cur:
            for statement in SCHEMA:
                cur.run(statement)
            _upgrade(cur)
            cur.run(
                "INSERT INTO ledger_layout (name, version) VALUES ('writes', 0)"
                " ON CONFLICT (name) DO NOTHING"
            )
        self._listed: set[tuple[str, ...]] = set()
        """Groups known to be in `ledger_groups` (a cache: they are never removed but by
        `reset`)."""
        self._latest: dict[tuple[str, ...], _Latest] = {}
        """Each group's last day with events and its running total then, as this process
        wrote it; trusted only while no one else wrote (`_writes`)."""
        self._writes = -1
        """The ledger's write count after this process's last batch."""
        self._recording = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def position(self, consumer: str) -> int:
        with self._db.read() as cur:
            found = cur.rows(
                "SELECT position FROM ledger_positions WHERE consumer = ?", (consumer,)
            )
        return int(found[0][0]) if found else 0

    def record(self, consumer: str, last_seq: int, measured: Iterable[Measured]) -> set[str]:
        """Keep the facts and the consumer's position in one transaction; the event types
        of the facts newly kept (an event already kept, or below the position, is skipped)."""
        with self._recording:
            try:
                return self._record(consumer, last_seq, measured)
            except BaseException:
                # Rolled back: what this process remembers of the totals may be ahead.
                self._latest.clear()
                self._writes = -1
                raise

    def _record(self, consumer: str, last_seq: int, measured: Iterable[Measured]) -> set[str]:
        touched: set[str] = set()
        with self._db.write() as cur:
            found = cur.rows(
                "SELECT position FROM ledger_positions WHERE consumer = ?", (consumer,)
            )
            position = int(found[0][0]) if found else 0
            if last_seq <= position:
                return touched
            # Counted in the batch's transaction (which also serialises writers on
            # PostgreSQL): a count not one past this process's last means another
            # process wrote, and the remembered totals are read again.
            writes = int(
                cur.rows(
                    "UPDATE ledger_layout SET version = version + 1 WHERE name = 'writes'"
                    " RETURNING version"
                )[0][0]
            )
            if writes != self._writes + 1:
                self._latest.clear()
            self._writes = writes
            fresh: dict[str, Measured] = {}
            for item in measured:
                if item.seq > position:
                    fresh.setdefault(item.event_key, item)
            kept = _already_kept(cur, list(fresh))
            rows = []
            totals = _RunningTotals()
            firsts = _Firsts()
            for item in fresh.values():
                if item.event_key in kept:
                    continue
                fact = item.fact
                row = _Row(
                    event_type=item.event_type,
                    day=fact.day.isoformat(),
                    department=item.department,
                    school=fact.school or "",
                    district=fact.district or "",
                    unit=fact.unit or "",
                    facets=_facets_text(fact.facets),
                    quantity=fact.quantity,
                )
                rows.append(
                    (
                        item.event_key,
                        item.consumer,
                        item.seq,
                        row.event_type,
                        row.day,
                        row.department,
                        row.school,
                        row.district,
                        row.unit,
                        fact.subject or "",
                        row.quantity,
                        row.facets,
                    )
                )
                totals.add(row)
                if fact.subject:
                    firsts.add(row, fact.subject)
                touched.add(item.event_type)
            cur.run_many(
                "INSERT INTO ledger_facts (event_key, consumer, seq, event_type, day,"
                " department, school, district, unit, subject, quantity, facets)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            listed = totals.apply(cur, self._listed, self._latest)
            firsts.apply(cur)
            cur.run(
                "INSERT INTO ledger_positions (consumer, position) VALUES (?, ?)"
                " ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
                (consumer, last_seq),
            )
        # Only once committed: a group rolled back with its batch is listed again.
        self._listed |= listed
        return touched

    def version(self) -> tuple[tuple[str, int], ...]:
        """Every consumer's position: unchanged, so is the ledger (what it holds is a
        function of the positions reached, the projection being deterministic)."""
        with self._db.read() as cur:
            rows = cur.rows("SELECT consumer, position FROM ledger_positions ORDER BY consumer")
        return tuple((str(c), int(p)) for c, p in rows)

    def buckets(
        self,
        event_types: Sequence[str],
        group: str,
        first: date,
        last: date,
        where: dict[str, str] | None = None,
    ) -> list[Bucket]:
        """Events and quantities per group and facets, for days first..last: per group, its
        running total up to `last` less the one before `first`. `where` narrows the groups
        read to facets that may match it (the caller still checks each bucket's facets)."""
        return self._window(event_types, group, first, last, "<>", where or {})

    def overall(
        self,
        event_types: Sequence[str],
        group: str,
        first: date,
        last: date,
        where: dict[str, str] | None = None,
    ) -> list[Bucket]:
        """Events and quantities of all the groups together, per facets, for first..last."""
        return self._window(event_types, group, first, last, "=", where or {})

    def _window(
        self,
        event_types: Sequence[str],
        group: str,
        first: date,
        last: date,
        all_: str,
        where: dict[str, str],
    ) -> list[Bucket]:
        if group not in GROUPINGS:
            raise ValueError(f"cannot group by {group!r}")
        if not event_types:
            return []
        marks = ", ".join("?" for _ in event_types)
        upto, before = last.isoformat(), first.isoformat()
        if group == "city":
            all_, key = "=", "city"
        else:
            key = ALL
        # A group whose facets do not match `where` is not sought.
        narrowing, patterns = _facets_where("g.facets", where)
        with self._db.read() as cur:
            rows = cur.rows(
                f"SELECT g.group_key, g.facets, {_RUNNING_EVENTS_UPTO}, {_RUNNING_EVENTS_BEFORE},"  # noqa: S608 - fixed SQL, placeholders only
                f" {_RUNNING_QUANTITY_UPTO}, {_RUNNING_QUANTITY_BEFORE} FROM ledger_groups g"
                f" WHERE g.event_type IN ({marks}) AND g.grouping = ? AND g.group_key {all_} ?"
                f"{narrowing}",
                (upto, before, upto, before, *event_types, group, key, *patterns),
            )
        out = []
        for key, facets, events_upto, events_before, quantity_upto, quantity_before in rows:
            events = int(events_upto or 0) - int(events_before or 0)
            if events:
                quantity = float(quantity_upto or 0) - float(quantity_before or 0)
                out.append(Bucket(str(key), _parsed_facets(facets), events, quantity))
        return out

    def coverage(
        self,
        reached: tuple[Sequence[str], dict[str, str]],
        population: tuple[Sequence[str], dict[str, str]],
        group: str,
        period: str,
        last: date,
    ) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
        """Per group, (subjects of the population, those of them reached) in the period
        (a label) up to `last`; and the same over all groups. Each side is (event types,
        facets asked for). A subject is reached in a group when reached there."""
        column = _group_column(group)
        if not reached[0] or not population[0]:
            return {}, (0, 0)
        per_group = self._covered(reached, population, period, last, column, same_group=True)
        overall = self._covered(reached, population, period, last, column, same_group=False)
        # A group with no population has no coverage (nor a row, as when grouped).
        found = {key: counts for key, counts in per_group.items() if counts[0]}
        return found, next(iter(overall.values()), (0, 0))

    def _covered(
        self,
        reached: tuple[Sequence[str], dict[str, str]],
        population: tuple[Sequence[str], dict[str, str]],
        period: str,
        last: date,
        column: str,
        *,
        same_group: bool,
    ) -> dict[str, tuple[int, int]]:
        """Grouped by `column`, or (not `same_group`) all together; either way only the
        subjects seen with a group in it ('city' has every one)."""
        reached_marks = ", ".join("?" for _ in reached[0])
        population_marks = ", ".join("?" for _ in population[0])
        reached_where, reached_patterns = _facets_where("r.facets", reached[1])
        population_where, population_patterns = _facets_where("p.facets", population[1])
        if column == "'city'":
            grouped, joined, grouped_only = column, "", ""
        elif same_group:
            grouped, joined = f"p.{column}", f" AND r.{column} = p.{column}"
            grouped_only = f" AND p.{column} <> ''"
        else:
            grouped, joined = "'city'", f" AND r.{column} <> ''"
            grouped_only = f" AND p.{column} <> ''"
        upto = last.isoformat()
        with self._db.read() as cur:
            rows = cur.rows(
                f"SELECT {grouped}, COUNT(DISTINCT p.subject), COUNT(DISTINCT CASE WHEN"  # noqa: S608 - columns from a closed list, placeholders only
                " EXISTS (SELECT 1 FROM ledger_firsts r WHERE r.event_type IN"
                f" ({reached_marks}) AND r.period = p.period AND r.subject = p.subject"
                f" AND r.day <= ?{joined}{reached_where}) THEN p.subject END)"
                f" FROM ledger_firsts p WHERE p.event_type IN ({population_marks})"
                f" AND p.period = ? AND p.day <= ?{grouped_only}{population_where}"
                # PostgreSQL refuses a constant in GROUP BY: all together is no GROUP BY.
                + ("" if grouped.startswith("'") else f" GROUP BY {grouped}"),
                (
                    *reached[0],
                    upto,
                    *reached_patterns,
                    *population[0],
                    period,
                    upto,
                    *population_patterns,
                ),
            )
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}

    def contributions(
        self,
        event_types: Sequence[str],
        first: date,
        last: date,
        limit: int,
        where: dict[str, str] | None = None,
        after: str | None = None,
    ) -> list[Contribution]:
        """The facts behind a figure, newest first (then by event key), those whose facets
        match `where` only; `after`: the event key of the last fact of the page before."""
        if not event_types:
            return []
        marks = ", ".join("?" for _ in event_types)
        matching, patterns = _facets_where("facets", where or {})
        paging: tuple[str, ...] = ()
        if after is not None:
            matching += (
                " AND (day < (SELECT day FROM ledger_facts WHERE event_key = ?)"
                " OR (day = (SELECT day FROM ledger_facts WHERE event_key = ?)"
                " AND event_key > ?))"
            )
            paging = (after, after, after)
        with self._db.read() as cur:
            rows = cur.rows(
                "SELECT event_key, event_type, department, day, school, district, unit,"  # noqa: S608 - placeholders only
                f" quantity FROM ledger_facts WHERE event_type IN ({marks})"
                f" AND day >= ? AND day <= ?{matching} ORDER BY day DESC, event_key LIMIT ?",
                (*event_types, first.isoformat(), last.isoformat(), *patterns, *paging, limit),
            )
        return [
            Contribution(
                event_key=str(r[0]),
                event_type=str(r[1]),
                department=str(r[2]),
                day=str(r[3]),
                school=str(r[4]),
                district=str(r[5]),
                unit=str(r[6]),
                quantity=float(r[7]),
            )
            for r in rows
        ]

    def totals(self, last: date) -> dict[str, int]:
        """Events kept per event type, up to a day."""
        with self._db.read() as cur:
            types = [
                str(r[0])
                for r in cur.rows(
                    "SELECT DISTINCT event_type FROM ledger_groups WHERE grouping = 'city'"
                )
            ]
        out: dict[str, int] = {}
        for event_type in sorted(types):
            counted = sum(b.events for b in self.buckets([event_type], "city", date.min, last))
            if counted:
                out[event_type] = counted
        return out

    def checksum(self) -> str:
        """A digest of the running totals and the facts: equal after a rebuild from the
        same streams."""
        digest = hashlib.sha256()
        with self._db.read() as cur:
            for row in cur.rows(
                "SELECT event_type, grouping, group_key, facets, day, events, quantity"
                " FROM ledger_running ORDER BY event_type, grouping, group_key, facets, day"
            ):
                digest.update(repr(row).encode())
            for row in cur.rows(
                "SELECT event_key, event_type, day, subject FROM ledger_facts ORDER BY event_key"
            ):
                digest.update(repr(row).encode())
            for row in cur.rows(
                "SELECT event_type, period, subject, school, district, unit, department, facets,"
                " day FROM ledger_firsts ORDER BY event_type, period, subject, school, district,"
                " unit, department, facets"
            ):
                digest.update(repr(row).encode())
        return digest.hexdigest()

    def reset(self) -> None:
        """Forget everything: the consumers replay their streams from the start."""
        with self._db.write() as cur:
            for table in (
                "ledger_running",
                "ledger_groups",
                "ledger_firsts",
                "ledger_facts",
                "ledger_positions",
            ):
                cur.run(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        self._listed = set()
        self._latest.clear()


@dataclass(frozen=True)
class _Row:
    """A fact as the running totals see it: its type, day, groups and facets."""

    event_type: str
    day: str
    department: str
    school: str
    district: str
    unit: str
    facets: str
    quantity: float

    def groups(self) -> Iterator[tuple[str, str]]:
        """(grouping, group) it counts in; a fact naming no school is in no school's figure.
        Each grouping's `ALL` counts every fact with a group in it: a figure's overall value
        (and its trend) reads that one row instead of every group's."""
        yield "city", "city"
        for grouping, key in (
            ("school", self.school),
            ("district", self.district),
            ("unit", self.unit),
            ("department", self.department),
        ):
            if key:
                yield grouping, key
                yield grouping, ALL


class _RunningTotals:
    """A batch's facts summed per group and day, then added to the running totals.

    A new day's row starts from the group's total on its last day before (zero for a new
    group), and the sum is added to that row and to every later one: an event arriving
    late for an earlier day moves the totals after it too, while events in day order
    touch one row per group and day of the batch.
    """

    def __init__(self) -> None:
        self._sums: dict[tuple[str, str, str, str, str], list[float]] = {}

    def add(self, row: _Row) -> None:
        for grouping, key in row.groups():
            found = self._sums.setdefault(
                (row.event_type, grouping, key, row.facets, row.day), [0, 0.0]
            )
            found[0] += 1
            found[1] += row.quantity

    def apply(
        self,
        cur: _Cursor,
        known: set[tuple[str, ...]],
        latest: dict[tuple[str, ...], _Latest],
    ) -> set[tuple[str, ...]]:
        """Add the sums; the groups listed for the first time (`known`: listed already).

        `latest` (each group's last day and total then, kept up to date here) makes the
        common case one write: a day after the group's last gets a new row of its total so
        far plus the day's sum; the last day itself is updated in place. An event late for
        an earlier day takes the general way, first: a row for the day (the group's total
        before it) if there is none, then the sum added to that row and every later one.
        Each of the three kinds is one statement for the whole batch."""
        ordered = sorted(self._sums.items())
        for group in {k[:4] for k, _ in ordered} - latest.keys():
            found = cur.rows(
                "SELECT day, events, quantity FROM ledger_running WHERE event_type = ?"
                " AND grouping = ? AND group_key = ? AND facets = ? ORDER BY day DESC LIMIT 1",
                group,
            )
            latest[group] = (
                _Latest(str(found[0][0]), int(found[0][1]), float(found[0][2]))
                if found
                else _Latest("", 0, 0.0)
            )
        late, same_day, new_day = [], [], []
        for full, (events, quantity) in ordered:
            key, day = full[:4], full[4]
            last = latest[key]
            moved = _Latest(max(day, last.day), last.events + int(events), last.quantity + quantity)
            if day < last.day:
                late.append((key, day, int(events), quantity))
            elif day == last.day:
                same_day.append((int(events), quantity, *key, day))
            else:
                new_day.append((*key, day, moved.events, moved.quantity))
            latest[key] = moved
        cur.run_many(
            "INSERT INTO ledger_running (event_type, grouping, group_key, facets, day,"
            f" events, quantity) SELECT ?, ?, ?, ?, ?, COALESCE({_BEFORE_EVENTS}, 0),"
            f" COALESCE({_BEFORE_QUANTITY}, 0) WHERE NOT EXISTS (SELECT 1 FROM ledger_running"
            " WHERE event_type = ? AND grouping = ? AND group_key = ? AND facets = ? AND day = ?)",
            [(*group, day, *group, day, *group, day, *group, day) for group, day, _, _ in late],
        )
        cur.run_many(
            "UPDATE ledger_running SET events = events + ?, quantity = quantity + ?"
            " WHERE event_type = ? AND grouping = ? AND group_key = ? AND facets = ?"
            " AND day >= ?",
            [(events, quantity, *group, day) for group, day, events, quantity in late],
        )
        cur.run_many(
            "UPDATE ledger_running SET events = events + ?, quantity = quantity + ?"
            " WHERE event_type = ? AND grouping = ? AND group_key = ? AND facets = ?"
            " AND day = ?",
            same_day,
        )
        cur.run_many(
            "INSERT INTO ledger_running (event_type, grouping, group_key, facets, day,"
            " events, quantity) VALUES (?, ?, ?, ?, ?, ?, ?)",
            new_day,
        )
        listed: set[tuple[str, ...]] = {tuple(k[:4]) for k, _ in ordered} - known
        cur.run_many(
            "INSERT INTO ledger_groups (event_type, grouping, group_key, facets)"
            " VALUES (?, ?, ?, ?)"
            " ON CONFLICT (event_type, grouping, group_key, facets) DO NOTHING",
            sorted(listed),
        )
        self._sums.clear()
        return listed


@dataclass(frozen=True)
class _Latest:
    """A group's last day with events ('' for none yet) and its running total then."""

    day: str
    events: int
    quantity: float


class _Firsts:
    """A batch's subjects with the first day of each in each of its periods, then kept
    where earlier than the day already known (an event late for an earlier day moves it)."""

    def __init__(self) -> None:
        self._days: dict[tuple[str, ...], str] = {}

    def add(self, row: _Row, subject: str) -> None:
        for period in _periods_of(row.day):
            key = (
                row.event_type,
                period,
                subject,
                row.school,
                row.district,
                row.unit,
                row.department,
                row.facets,
            )
            known = self._days.get(key)
            if known is None or row.day < known:
                self._days[key] = row.day

    def apply(self, cur: _Cursor) -> None:
        cur.run_many(
            "INSERT INTO ledger_firsts (event_type, period, subject, school, district, unit,"
            " department, facets, day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (event_type, period, subject, school, district, unit, department,"
            " facets) DO UPDATE SET day = excluded.day WHERE excluded.day < ledger_firsts.day",
            [(*key, day) for key, day in sorted(self._days.items())],
        )
        self._days.clear()


@lru_cache(maxsize=2048)
def _periods_of(day: str) -> tuple[str, ...]:
    """The labels of the periods a day belongs to: its term, school year, calendar year."""
    on = date.fromisoformat(day)
    return tuple(period_of(kind, on).label for kind in ("term", "school-year", "calendar-year"))


def _already_kept(cur: _Cursor, event_keys: list[str]) -> set[str]:
    """The event keys of a batch the ledger holds already (a redelivery)."""
    found: set[str] = set()
    for offset in range(0, len(event_keys), 500):
        part = event_keys[offset : offset + 500]
        marks = ", ".join("?" for _ in part)
        found.update(
            str(r[0])
            for r in cur.rows(
                f"SELECT event_key FROM ledger_facts WHERE event_key IN ({marks})",  # noqa: S608 - placeholders only
                part,
            )
        )
    return found


def _before(column: str) -> str:
    """A group's running total on its last day with events before a given day."""
    return (
        f"(SELECT {column} FROM ledger_running WHERE event_type = ? AND grouping = ?"
        " AND group_key = ? AND facets = ? AND day < ? ORDER BY day DESC LIMIT 1)"
    )


def _running(column: str, compare: str) -> str:
    """The listed group's running total on its last day with events `compare` a day."""
    return (
        f"(SELECT r.{column} FROM ledger_running r WHERE r.event_type = g.event_type"
        " AND r.grouping = g.grouping AND r.group_key = g.group_key AND r.facets = g.facets"
        f" AND r.day {compare} ? ORDER BY r.day DESC LIMIT 1)"
    )


_BEFORE_EVENTS = _before("events")
_BEFORE_QUANTITY = _before("quantity")
_RUNNING_EVENTS_UPTO = _running("events", "<=")
_RUNNING_EVENTS_BEFORE = _running("events", "<")
_RUNNING_QUANTITY_UPTO = _running("quantity", "<=")
_RUNNING_QUANTITY_BEFORE = _running("quantity", "<")


def _upgrade(cur: _Cursor) -> None:
    """An older ledger is emptied, its positions included, so that its consumers read the
    streams again: before layout 4 a fact's day was UTC's, which only the events can mend."""
    found = cur.rows("SELECT version FROM ledger_layout WHERE name = 'ledger'")
    if found and int(found[0][0]) >= LAYOUT:
        return
    for table in (
        "ledger_facts",
        "ledger_running",
        "ledger_groups",
        "ledger_firsts",
        "ledger_positions",
    ):
        cur.run(f"DELETE FROM {table}")  # noqa: S608 - the ledger's own table names
    cur.run("DROP TABLE IF EXISTS ledger_daily")
    cur.run(
        "INSERT INTO ledger_layout (name, version) VALUES ('ledger', ?)"
        " ON CONFLICT (name) DO UPDATE SET version = excluded.version",
        (LAYOUT,),
    )


@lru_cache(maxsize=4096)
def _facets_of(items: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(dict(items), separators=(",", ":"))


def _facets_where(column: str, where: dict[str, str]) -> tuple[str, list[str]]:
    """SQL keeping the rows whose stored facets (compact JSON, keys sorted) hold each
    `name: value` of `where`: the pair `"name":"value"` between separators. Inside a JSON
    string a quote is escaped, so the pair cannot be found inside another value."""
    clause = "".join(
        f" AND (',' || SUBSTR({column}, 2, LENGTH({column}) - 2) || ',') LIKE ? ESCAPE '!'"
        for _ in where
    )
    patterns = [
        "%," + _like_literal(_facets_of(((k, v),))[1:-1]) + ",%" for k, v in sorted(where.items())
    ]
    return clause, patterns


def _like_literal(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


@lru_cache(maxsize=4096)
def _parsed_facets(text: str) -> dict[str, str]:
    """Stored facets read back; shared between callers, who never change them."""
    parsed: dict[str, str] = json.loads(text)
    return parsed


def _facets_text(facets: dict[str, str]) -> str:
    """Facet values as stored (keys sorted); a few distinct values recur over millions."""
    return _facets_of(tuple(sorted(facets.items())))


def _group_column(group: str) -> str:
    if group == "city":
        return "'city'"
    if group not in GROUPINGS:
        raise ValueError(f"cannot group by {group!r}")
    return group
