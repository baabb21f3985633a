"""The kit's process recorders: the outbox's, plus the deadlines table in their insert.

`store_env` names these classes (`PROCESS_RECORDER_TOPIC`), so every service's events
and its deadlines are written by one transaction. The changes ride in as the
`deadlines` keyword of `insert_events` (`services.kit.deadlines.table.KWARG`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import Composed

from services.kit.deadlines import table
from services.kit.deadlines.model import Deadline, micros
from services.kit.outbox import PostgresOutboxRecorder, SQLiteOutboxRecorder


class DeadlineQueries:
    """What the deadline runner and the tests ask of the table."""

    deadline_statements: table.Statements
    datastore: Any

    def due_deadlines(self, now: datetime, limit: int) -> list[Deadline]:
        """Deadlines due at `now`, soonest first."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.deadline_statements.due, (micros(now), limit))
            return [table.deadline_of(row) for row in cursor.fetchall()]

    def pending_deadlines(self, owner_id: UUID) -> list[Deadline]:
        """One aggregate's pending deadlines."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.deadline_statements.pending, (str(owner_id),))
            return [table.deadline_of(row) for row in cursor.fetchall()]

    def deadline_summary(self) -> tuple[int, int | None]:
        """How many deadlines are pending, and when the next falls due (micros)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.deadline_statements.count)
            row = cursor.fetchone()
            return int(row["n"]), (None if row["next_us"] is None else int(row["next_us"]))

    def forget_deadline(self, key: str) -> None:
        """Remove a deadline that has fired or become moot (nothing if already gone)."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.deadline_statements.done, (key,))

    def forget_deadlines(self, keys: list[str]) -> None:
        """Remove these deadlines in one transaction (those still there)."""
        if not keys:
            return
        with self.datastore.transaction(commit=True) as cursor:
            for key in keys:
                cursor.execute(self.deadline_statements.done, (key,))


class SQLiteRecorder(DeadlineQueries, SQLiteOutboxRecorder):
    def __init__(self, datastore: SQLiteDatastore, *, events_table_name: str = "stored_events"):
        # Set first: the base class asks for its create statements while it initialises.
        self.deadline_statements = table.sqlite_statements()
        super().__init__(datastore, events_table_name=events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        creates = [str(statement) for statement in self.deadline_statements.create]
        return [*super().construct_create_table_statements(), *creates]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        table.write(c, self.deadline_statements, kwargs.get(table.KWARG))
        return ids


class PostgresRecorder(DeadlineQueries, PostgresOutboxRecorder):
    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ):
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        name = events_table_name.removesuffix("_events") + "_deadlines"
        self.check_identifier_length(name + "_due")
        self.deadline_statements = table.postgres_statements(datastore.schema, name)
        for statement in self.deadline_statements.create:
            assert isinstance(statement, Composed)
            self.sql_create_statements.append(statement)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        table.write(curs, self.deadline_statements, kwargs.get(table.KWARG))
