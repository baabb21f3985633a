"""The alliance's ledger of measured facts: one row per measured event, and per-day buckets.

Every measurable event (`contracts.measures`) of every boundary the alliance reacts to is
kept here once, in the alliance's own database, with its consumer's stream position in
the same transaction: a redelivered event finds its position already passed (and its
event id already kept) and changes nothing. The ledger is a projection: dropped, it is
rebuilt from the streams and comes out identical (`checksum`).

How "as of any date" stays fast: counts and sums are read from `daily` buckets (event
type x day x group x facets), so a figure over a term reads at most a few hundred rows
per group whatever the number of events, and "as of 1 September" is the same query with
an earlier last day. Coverage needs distinct subjects: it reads `facts` through its
(event_type, day) index.
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
from typing import Any, Protocol

from contracts.measures import Fact
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
    """CREATE TABLE IF NOT EXISTS ledger_daily (
        event_type TEXT NOT NULL, day TEXT NOT NULL, department TEXT NOT NULL,
        school TEXT NOT NULL, district TEXT NOT NULL, unit TEXT NOT NULL, facets TEXT NOT NULL,
        events BIGINT NOT NULL, quantity DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (event_type, day, department, school, district, unit, facets))""",
)
GROUP_COLUMNS = {"school", "district", "unit", "department"}


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
        touched: set[str] = set()
        with self._db.write() as cur:
            found = cur.rows(
                "SELECT position FROM ledger_positions WHERE consumer = ?", (consumer,)
            )
            position = int(found[0][0]) if found else 0
            if last_seq <= position:
                return touched
            for item in measured:
                if item.seq <= position:
                    continue
                fact = item.fact
                facets = json.dumps(fact.facets, sort_keys=True, separators=(",", ":"))
                keys = (
                    item.event_type,
                    fact.day.isoformat(),
                    item.department,
                    fact.school or "",
                    fact.district or "",
                    fact.unit or "",
                )
                inserted = cur.run(
                    "INSERT INTO ledger_facts (event_key, consumer, seq, event_type, day,"
                    " department, school, district, unit, subject, quantity, facets)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (event_key) DO NOTHING",
                    (
                        item.event_key,
                        item.consumer,
                        item.seq,
                        item.event_type,
                        keys[1],
                        item.department,
                        keys[3],
                        keys[4],
                        keys[5],
                        fact.subject or "",
                        fact.quantity,
                        facets,
                    ),
                ).rowcount
                if inserted != 1:
                    continue
                cur.run(
                    "INSERT INTO ledger_daily (event_type, day, department, school, district,"
                    " unit, facets, events, quantity) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)"
                    " ON CONFLICT (event_type, day, department, school, district, unit, facets)"
                    " DO UPDATE SET events = ledger_daily.events + 1,"
                    " quantity = ledger_daily.quantity + excluded.quantity",
                    (*keys, facets, fact.quantity),
                )
                touched.add(item.event_type)
            cur.run(
                "INSERT INTO ledger_positions (consumer, position) VALUES (?, ?)"
                " ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
                (consumer, last_seq),
            )
        return touched

    def buckets(
        self, event_types: Sequence[str], group: str, first: date, last: date
    ) -> list[Bucket]:
        """Events and quantities per group and facets, for days first..last."""
        column = _group_column(group)
        if not event_types:
            return []
        marks = ", ".join("?" for _ in event_types)
        with self._db.read() as cur:
            rows = cur.rows(
                f"SELECT {column}, facets, SUM(events), SUM(quantity) FROM ledger_daily"  # noqa: S608 - column from a closed list
                f" WHERE event_type IN ({marks}) AND day >= ? AND day <= ?"
                f" GROUP BY {column}, facets",
                (*event_types, first.isoformat(), last.isoformat()),
            )
        return [Bucket(str(r[0]), json.loads(r[1]), int(r[2]), float(r[3])) for r in rows]

    def subjects(
        self, event_types: Sequence[str], group: str, first: date, last: date
    ) -> list[tuple[str, str, dict[str, str]]]:
        """(group, subject, facets) of the facts with a subject, for coverage."""
        column = _group_column(group)
        if not event_types:
            return []
        marks = ", ".join("?" for _ in event_types)
        with self._db.read() as cur:
            rows = cur.rows(
                f"SELECT DISTINCT {column}, subject, facets FROM ledger_facts"  # noqa: S608 - column from a closed list
                f" WHERE event_type IN ({marks}) AND day >= ? AND day <= ? AND subject <> ''",
                (*event_types, first.isoformat(), last.isoformat()),
            )
        return [(str(r[0]), str(r[1]), json.loads(r[2])) for r in rows]

    def contributions(
        self, event_types: Sequence[str], first: date, last: date, limit: int
    ) -> list[tuple[Contribution, dict[str, str]]]:
        """The facts behind a figure, newest first."""
        if not event_types:
            return []
        marks = ", ".join("?" for _ in event_types)
        with self._db.read() as cur:
            rows = cur.rows(
                "SELECT event_key, event_type, department, day, school, district, unit,"  # noqa: S608 - placeholders only
                f" quantity, facets FROM ledger_facts WHERE event_type IN ({marks})"
                " AND day >= ? AND day <= ? ORDER BY day DESC, event_key LIMIT ?",
                (*event_types, first.isoformat(), last.isoformat(), limit),
            )
        return [
            (
                Contribution(
                    event_key=str(r[0]),
                    event_type=str(r[1]),
                    department=str(r[2]),
                    day=str(r[3]),
                    school=str(r[4]),
                    district=str(r[5]),
                    unit=str(r[6]),
                    quantity=float(r[7]),
                ),
                json.loads(r[8]),
            )
            for r in rows
        ]

    def totals(self, last: date) -> dict[str, int]:
        """Events kept per event type, up to a day."""
        with self._db.read() as cur:
            rows = cur.rows(
                "SELECT event_type, SUM(events) FROM ledger_daily WHERE day <= ?"
                " GROUP BY event_type ORDER BY event_type",
                (last.isoformat(),),
            )
        return {str(r[0]): int(r[1]) for r in rows}

    def checksum(self) -> str:
        """A digest of the buckets and facts: equal after a rebuild from the same streams."""
        digest = hashlib.sha256()
        with self._db.read() as cur:
            for row in cur.rows(
                "SELECT event_type, day, department, school, district, unit, facets, events,"
                " quantity FROM ledger_daily ORDER BY event_type, day, department, school,"
                " district, unit, facets"
            ):
                digest.update(repr(row).encode())
            for row in cur.rows(
                "SELECT event_key, event_type, day, subject FROM ledger_facts ORDER BY event_key"
            ):
                digest.update(repr(row).encode())
        return digest.hexdigest()

    def reset(self) -> None:
        """Forget everything: the consumers replay their streams from the start."""
        with self._db.write() as cur:
            for table in ("ledger_daily", "ledger_facts", "ledger_positions"):
                cur.run(f"DELETE FROM {table}")  # noqa: S608 - fixed table names


def _group_column(group: str) -> str:
    if group == "city":
        return "'city'"
    if group not in GROUP_COLUMNS:
        raise ValueError(f"cannot group by {group!r}")
    return group
