"""The table of per-person data keys, wrapped, in the service's own database.

One row per person: the key id, the wrapped key, and once erased, no key at all. The
row of an erased person stays (a tombstone), so that no new key is ever made for them
and their old tokens are known to be erased rather than foreign.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from services.kit.groupcommit import GroupCommitter
from services.kit.privacy.database import SqliteDatabase

TABLE = "person_data_keys"


@dataclass(frozen=True)
class KeyRecord:
    person_id: str
    kid: str
    wrapped: bytes | None
    """The data key wrapped by the master key; None once the person is erased."""


class DataKeyStore(Protocol):
    def by_kid(self, kid: str) -> KeyRecord | None: ...

    def by_kids(self, kids: Sequence[str]) -> list[KeyRecord]:
        """The records of those of `kids` that exist, in one query."""
        ...

    def by_person(self, person_id: str) -> KeyRecord | None: ...

    def create(self, record: KeyRecord) -> KeyRecord:
        """Store the record unless the person has one already; the person's stored record."""
        ...

    def erase(self, person_id: str, tombstone_kid: str) -> bool:
        """Forget the person's key (a tombstone if they had none); whether a key was destroyed."""
        ...

    def close(self) -> None: ...


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SqliteDataKeyStore:
    """Keys in the service's SQLite file; erased keys are overwritten on disk (secure_delete)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        # Concurrent registrations' keys share one transaction (see `_stored_record`).
        self._creates = GroupCommitter(self._create_all)
        with db.write() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " person_id TEXT PRIMARY KEY,"
                " kid TEXT NOT NULL UNIQUE,"
                " wrapped_key BLOB,"
                " created_at TEXT NOT NULL,"
                " erased_at TEXT)"
            )

    def by_kid(self, kid: str) -> KeyRecord | None:
        return self._one("kid", kid)

    def by_kids(self, kids: Sequence[str]) -> list[KeyRecord]:
        if not kids:
            return []
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT person_id, kid, wrapped_key FROM {TABLE}"
                f" WHERE kid IN ({','.join('?' * len(kids))})",
                list(kids),
            ).fetchall()
        return [KeyRecord(row[0], row[1], row[2]) for row in rows]

    def by_person(self, person_id: str) -> KeyRecord | None:
        return self._one("person_id", person_id)

    def _one(self, column: str, value: str) -> KeyRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT person_id, kid, wrapped_key FROM {TABLE} WHERE {column} = ?", (value,)
            ).fetchone()
        return None if row is None else KeyRecord(row[0], row[1], row[2])

    def create(self, record: KeyRecord) -> KeyRecord:
        return _stored_record(self._creates.save([record]))

    def _create_all(self, records: Sequence[KeyRecord]) -> list[KeyRecord]:
        now = _now()
        people = [r.person_id for r in records]
        with self.db.write() as conn:
            conn.executemany(
                f"INSERT INTO {TABLE} (person_id, kid, wrapped_key, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (person_id) DO NOTHING",
                [(r.person_id, r.kid, r.wrapped, now) for r in records],
            )
            rows = conn.execute(
                f"SELECT person_id, kid, wrapped_key FROM {TABLE}"
                f" WHERE person_id IN ({','.join('?' * len(people))})",
                people,
            ).fetchall()
        stored = {row[0]: KeyRecord(row[0], row[1], row[2]) for row in rows}
        return [stored[person] for person in people]

    def erase(self, person_id: str, tombstone_kid: str) -> bool:
        now = _now()
        with self.db.write() as conn:
            destroyed = conn.execute(
                f"UPDATE {TABLE} SET wrapped_key = NULL, erased_at = ?"
                " WHERE person_id = ? AND wrapped_key IS NOT NULL",
                (now, person_id),
            ).rowcount
            conn.execute(
                f"INSERT INTO {TABLE} (person_id, kid, wrapped_key, created_at, erased_at)"
                " VALUES (?, ?, NULL, ?, ?) ON CONFLICT (person_id) DO NOTHING",
                (person_id, tombstone_kid, now, now),
            )
        if destroyed:
            # The write-ahead log still holds the page as it was when the key was
            # written; fold it into the (zero-overwritten) file and empty it. Best
            # effort: a reader in another process can hold the log open for a while.
            with self.db.read() as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return bool(destroyed)

    def close(self) -> None:
        self.db.close()


class PostgresDataKeyStore:
    """Keys in the service's PostgreSQL database.

    PostgreSQL keeps an updated row's old version until VACUUM reclaims it (and its WAL
    and base backups keep it longer): without the master key those bytes are useless,
    and backups must expire within the erasure deadline (see `datakeys`).
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._creates = GroupCommitter(self._create_all)
        with pool.connection() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " person_id TEXT PRIMARY KEY,"
                " kid TEXT NOT NULL UNIQUE,"
                " wrapped_key BYTEA,"
                " created_at TIMESTAMPTZ NOT NULL,"
                " erased_at TIMESTAMPTZ)"
            )

    def by_kid(self, kid: str) -> KeyRecord | None:
        return self._one("kid", kid)

    def by_kids(self, kids: Sequence[str]) -> list[KeyRecord]:
        if not kids:
            return []
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT person_id, kid, wrapped_key FROM {TABLE} WHERE kid = ANY(%s)",
                (list(kids),),
            ).fetchall()
        return [KeyRecord(row[0], row[1], _bytes(row[2])) for row in rows]

    def by_person(self, person_id: str) -> KeyRecord | None:
        return self._one("person_id", person_id)

    def _one(self, column: str, value: str) -> KeyRecord | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT person_id, kid, wrapped_key FROM {TABLE} WHERE {column} = %s", (value,)
            ).fetchone()
        return None if row is None else KeyRecord(row[0], row[1], _bytes(row[2]))

    def create(self, record: KeyRecord) -> KeyRecord:
        return _stored_record(self._creates.save([record]))

    def _create_all(self, records: Sequence[KeyRecord]) -> list[KeyRecord]:
        people = [r.person_id for r in records]
        with self.pool.connection() as conn, conn.transaction():
            conn.cursor().executemany(
                f"INSERT INTO {TABLE} (person_id, kid, wrapped_key, created_at)"
                " VALUES (%s, %s, %s, now()) ON CONFLICT (person_id) DO NOTHING",
                [(r.person_id, r.kid, r.wrapped) for r in records],
            )
            rows = conn.execute(
                f"SELECT person_id, kid, wrapped_key FROM {TABLE} WHERE person_id = ANY(%s)",
                (people,),
            ).fetchall()
        stored = {row[0]: KeyRecord(row[0], row[1], _bytes(row[2])) for row in rows}
        return [stored[person] for person in people]

    def erase(self, person_id: str, tombstone_kid: str) -> bool:
        with self.pool.connection() as conn, conn.transaction():
            destroyed = conn.execute(
                f"UPDATE {TABLE} SET wrapped_key = NULL, erased_at = now()"
                " WHERE person_id = %s AND wrapped_key IS NOT NULL",
                (person_id,),
            ).rowcount
            conn.execute(
                f"INSERT INTO {TABLE} (person_id, kid, wrapped_key, created_at, erased_at)"
                " VALUES (%s, %s, NULL, now(), now()) ON CONFLICT (person_id) DO NOTHING",
                (person_id, tombstone_kid),
            )
        return bool(destroyed)

    def close(self) -> None:
        self.pool.close()


def _stored_record(records: Sequence[KeyRecord]) -> KeyRecord:
    """The one record a grouped create returns for its caller.

    A key was its own transaction and commit, which halved registrations: concurrent
    creates now share one (`GroupCommitter`), each caller still waiting for its commit.
    """
    (record,) = records
    return record


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)
