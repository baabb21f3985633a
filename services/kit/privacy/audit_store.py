"""Where a service keeps its access log: its own database, SQLite or PostgreSQL.

Appends serialise on the chain's head: the transaction takes the write lock before it
reads the newest entry (SQLite `BEGIN IMMEDIATE`, PostgreSQL a table lock that readers
pass), so two writers never both extend the same entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from services.kit.privacy.audit_chain import AccessRecord, Entry, Head, chain
from services.kit.privacy.database import SqliteDatabase

TABLE = "access_log"
COLUMNS = "seq, at, subject, role, department, person_id, fields, purpose, outcome, prev_hash, hash"


class AuditStore(Protocol):
    def append(self, records: Sequence[AccessRecord]) -> list[Entry]:
        """Chain and store the records in one transaction; the stored entries."""
        ...

    def entries(self, after: int, limit: int) -> list[Entry]:
        """Up to `limit` entries after position `after`, in position order."""
        ...

    def by_person(self, person_id: str) -> list[Entry]: ...

    def by_person_newest(self, person_id: str, before: int | None, limit: int) -> list[Entry]:
        """Up to `limit` of the person's entries before position `before`, newest first."""
        ...

    def head(self) -> Head | None: ...

    def close(self) -> None: ...


def _row(entry: Entry) -> tuple[Any, ...]:
    return (
        entry.seq,
        entry.at,
        entry.subject,
        entry.role,
        entry.department,
        entry.person_id,
        json.dumps(list(entry.fields)),
        entry.purpose,
        entry.outcome,
        entry.prev_hash,
        entry.hash,
    )


def _entry(row: Sequence[Any]) -> Entry:
    fields = json.loads(row[6])
    if not isinstance(fields, list):
        fields = [str(fields)]
    return Entry(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        tuple(str(f) for f in fields),
        row[7],
        row[8],
        row[9],
        row[10],
    )


def _before(seq: int | None) -> int:
    # Positions are BIGINT in PostgreSQL: its largest value stands for "from the newest".
    return (1 << 63) - 1 if seq is None else seq


_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " seq {int} PRIMARY KEY,"
    " at TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " department TEXT,"
    " person_id TEXT NOT NULL,"
    " fields TEXT NOT NULL,"
    " purpose TEXT NOT NULL,"
    " outcome TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL)"
)
_INDEX = f"CREATE INDEX IF NOT EXISTS {TABLE}_person ON {TABLE} (person_id, seq)"


class SqliteAuditStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        with db.write() as conn:
            conn.execute(_CREATE.replace("{int}", "INTEGER"))
            conn.execute(_INDEX)

    def append(self, records: Sequence[AccessRecord]) -> list[Entry]:
        if not records:
            return []
        with self.db.write() as conn:
            row = conn.execute(
                f"SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            entries = chain(Head(row[0], row[1]) if row else None, records)
            conn.executemany(
                f"INSERT INTO {TABLE} ({COLUMNS}) VALUES ({', '.join('?' * 11)})",
                [_row(e) for e in entries],
            )
        return entries

    def entries(self, after: int, limit: int) -> list[Entry]:
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
        return [_entry(r) for r in rows]

    def by_person(self, person_id: str) -> list[Entry]:
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE person_id = ? ORDER BY seq", (person_id,)
            ).fetchall()
        return [_entry(r) for r in rows]

    def by_person_newest(self, person_id: str, before: int | None, limit: int) -> list[Entry]:
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE person_id = ? AND seq < ?"
                " ORDER BY seq DESC LIMIT ?",
                (person_id, _before(before), limit),
            ).fetchall()
        return [_entry(r) for r in rows]

    def head(self) -> Head | None:
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return Head(row[0], row[1]) if row else None

    def close(self) -> None:
        self.db.close()


class PostgresAuditStore:
    def __init__(self, pool: Any) -> None:
        self.pool = pool
        with pool.connection() as conn:
            conn.execute(_CREATE.replace("{int}", "BIGINT"))
            conn.execute(_INDEX)

    def append(self, records: Sequence[AccessRecord]) -> list[Entry]:
        if not records:
            return []
        with self.pool.connection() as conn, conn.transaction():
            # Conflicts with itself only: readers and `verify` go on while a writer holds it.
            conn.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")
            row = conn.execute(
                f"SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            entries = chain(Head(row[0], row[1]) if row else None, records)
            # COPY: a page of entries in one statement, not a statement per entry.
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY {TABLE} ({COLUMNS}) FROM STDIN") as copy,
            ):
                for entry in entries:
                    copy.write_row(_row(entry))
        return entries

    def entries(self, after: int, limit: int) -> list[Entry]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE seq > %s ORDER BY seq LIMIT %s",
                (after, limit),
            ).fetchall()
        return [_entry(r) for r in rows]

    def by_person(self, person_id: str) -> list[Entry]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE person_id = %s ORDER BY seq", (person_id,)
            ).fetchall()
        return [_entry(r) for r in rows]

    def by_person_newest(self, person_id: str, before: int | None, limit: int) -> list[Entry]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE person_id = %s AND seq < %s"
                " ORDER BY seq DESC LIMIT %s",
                (person_id, _before(before), limit),
            ).fetchall()
        return [_entry(r) for r in rows]

    def head(self) -> Head | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return Head(row[0], row[1]) if row else None

    def close(self) -> None:
        self.pool.close()
