"""The pending deliveries table: what is still to be sent to which endpoint, and when.

One row per (feed entry, endpoint) not yet delivered nor dead-lettered. The reaction that
records a feed entry adds its rows in the same transaction, and every attempt's outcome
changes or removes its row in the transaction that records the attempt (the `KWARG`
keyword of `insert_events`, like the kit's deadlines), so a row exists exactly while its
delivery is pending, across restarts. The dispatcher reads it by endpoint and due time
(an index), never by scanning the log.

`seq` is the feed order (ordering per subject follows it). A delivery's `Delivery`
aggregate is made at its first attempt (`recorded` says it exists): fanning an entry out
to many endpoints writes rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier

from services.feeds.domain import DeliveryStart
from services.feeds.history import (
    AttemptRow,
    EndpointTotals,
    HistoryStatements,
    LoggedDelivery,
    attempt_of,
    logged_of,
    postgres_history,
    sqlite_history,
    write_history,
)
from services.kit.deadlines.recorders import PostgresRecorder, SQLiteRecorder

# The keyword argument of `insert_events` that carries a save's changes to the table.
KWARG = "pending_deliveries"
COLUMNS = (
    "seq, delivery_id, endpoint_id, partner_id, entry_id, message_id, subject, ordered, "
    "event_time, due_us, rounds, recorded, body"
)


@dataclass(frozen=True)
class PendingDelivery(DeliveryStart):
    """A row: one feed entry still to be sent to one endpoint (its `DeliveryStart`, with
    when it is due now)."""

    delivery_id: UUID
    ordered: bool
    # Attempts since it was (re)scheduled, and whether its Delivery aggregate exists.
    rounds: int = 0
    recorded: bool = False
    seq: int = 0
    # The CloudEvent as posted (the entry's agreed fields only): no read per attempt.
    body: str = ""


@dataclass
class Changes:
    """What one save does to the table."""

    add: list[PendingDelivery] = field(default_factory=list)
    # delivery id -> (next due time, rounds): an attempt failed, another is due later.
    retry: dict[UUID, tuple[float, int]] = field(default_factory=dict)
    remove: list[UUID] = field(default_factory=list)
    # The delivery log (services.feeds.history): deliveries' states, and attempts made.
    logged: list[LoggedDelivery] = field(default_factory=list)
    attempts: list[AttemptRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.add or self.retry or self.remove or self.logged or self.attempts)


@dataclass(frozen=True)
class Statements:
    create: tuple[str | Composable, ...]
    add: str | Composable
    retry: str | Composable
    remove: str | Composable
    due: str | Composable
    next_due: str | Composable
    of_endpoint: str | Composable
    summary: str | Composable
    waiting: str | Composable


def micros(at: float) -> int:
    return round(at * 1_000_000)


# Due rows of one endpoint, soonest first; for an ordered endpoint only the first pending
# row of each subject (a later one waits until the earlier is delivered or dead).
_DUE = (
    "SELECT " + COLUMNS + " FROM {t} p WHERE p.endpoint_id = {p} AND p.due_us <= {p} "
    "AND (p.ordered = {false} OR NOT EXISTS (SELECT 1 FROM {t} q WHERE "
    "q.endpoint_id = p.endpoint_id AND q.subject = p.subject AND q.seq < p.seq)) "
    "ORDER BY p.due_us, p.seq LIMIT {p}"
)
_NEXT_DUE = "SELECT MIN(due_us) AS next_us FROM {t} WHERE endpoint_id = {p} AND due_us > {p}"
_ADD = (
    "INSERT INTO {t} (delivery_id, endpoint_id, partner_id, entry_id, message_id, subject, "
    "ordered, event_time, due_us, rounds, recorded, body) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
    "ON CONFLICT (delivery_id) DO NOTHING"
)
_RETRY = "UPDATE {t} SET due_us = {p}, rounds = {p}, recorded = {true} WHERE delivery_id = {p}"
_REMOVE = "DELETE FROM {t} WHERE delivery_id = {p}"
_OF_ENDPOINT = "SELECT " + COLUMNS + " FROM {t} WHERE endpoint_id = {p} ORDER BY seq"
# Rows not attempted yet (no Delivery aggregate, so not in the delivery log), newest first.
_WAITING = (
    "SELECT " + COLUMNS + " FROM {t} WHERE endpoint_id = {p} AND recorded = {false} "
    "AND seq < {p} ORDER BY seq DESC LIMIT {p}"
)
_SUMMARY = "SELECT endpoint_id, COUNT(*) AS n, MIN(due_us) AS next_us FROM {t} GROUP BY endpoint_id"


def sqlite_statements(table: str = "pending_deliveries") -> Statements:
    def sql(template: str) -> str:
        return (
            template.replace("{t}", table)
            .replace("{p}", "?")
            .replace("{false}", "0")
            .replace("{true}", "1")
        )

    return Statements(
        create=(
            f"CREATE TABLE IF NOT EXISTS {table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "delivery_id TEXT NOT NULL UNIQUE, endpoint_id TEXT NOT NULL, "
            "partner_id TEXT NOT NULL, entry_id TEXT NOT NULL, message_id TEXT NOT NULL, "
            "subject TEXT NOT NULL, ordered INTEGER NOT NULL, event_time REAL NOT NULL, "
            "due_us INTEGER NOT NULL, rounds INTEGER NOT NULL, recorded INTEGER NOT NULL, "
            "body TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {table}_due ON {table} (endpoint_id, due_us, seq)",
            f"CREATE INDEX IF NOT EXISTS {table}_subject ON {table} (endpoint_id, subject, seq)",
        ),
        add=sql(_ADD),
        retry=sql(_RETRY),
        remove=sql(_REMOVE),
        due=sql(_DUE),
        next_due=sql(_NEXT_DUE),
        of_endpoint=sql(_OF_ENDPOINT),
        summary=sql(_SUMMARY),
        waiting=sql(_WAITING),
    )


def postgres_statements(schema: str, table: str) -> Statements:
    def sql(template: str) -> Composable:
        text = (
            template.replace("{p}", "%s")
            .replace("{t}", "{schema}.{table}")
            .replace("{false}", "false")
            .replace("{true}", "true")
        )
        return SQL(text).format(schema=Identifier(schema), table=Identifier(table))

    def index(suffix: str, definition: str) -> Composable:
        return SQL("CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} " + definition).format(
            index=Identifier(f"{table}_{suffix}"),
            schema=Identifier(schema),
            table=Identifier(table),
        )

    return Statements(
        create=(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} (seq bigserial PRIMARY KEY, "
                "delivery_id uuid NOT NULL UNIQUE, endpoint_id uuid NOT NULL, "
                "partner_id text NOT NULL, entry_id uuid NOT NULL, message_id text NOT NULL, "
                "subject text NOT NULL, ordered boolean NOT NULL, "
                "event_time double precision NOT NULL, due_us bigint NOT NULL, "
                "rounds integer NOT NULL, recorded boolean NOT NULL, body text NOT NULL)"
            ).format(schema=Identifier(schema), table=Identifier(table)),
            index("due", "(endpoint_id, due_us, seq)"),
            index("subject", "(endpoint_id, subject, seq)"),
        ),
        add=sql(_ADD),
        retry=sql(_RETRY),
        remove=sql(_REMOVE),
        due=sql(_DUE),
        next_due=sql(_NEXT_DUE),
        of_endpoint=sql(_OF_ENDPOINT),
        summary=sql(_SUMMARY),
        waiting=sql(_WAITING),
    )


def write(
    cursor: Any,
    statements: Statements,
    history: HistoryStatements,
    changes: Changes | None,
    uuid: Any,
) -> None:
    """Apply a save's changes with the cursor of the transaction storing its events."""
    if not changes:
        return
    write_history(cursor, history, changes.logged, changes.attempts, uuid)
    # One `executemany` per kind of change: psycopg pipelines it (a round trip per batch,
    # not per row), which was most of what recording a batch of outcomes cost.
    if changes.add:
        cursor.executemany(
            statements.add,
            [
                (
                    uuid(d.delivery_id),
                    uuid(d.endpoint_id),
                    d.partner_id,
                    uuid(d.entry_id),
                    d.message_id,
                    d.subject,
                    d.ordered,
                    d.event_time,
                    micros(d.due_at),
                    d.rounds,
                    d.recorded,
                    d.body,
                )
                for d in changes.add
            ],
        )
    if changes.retry:
        cursor.executemany(
            statements.retry,
            [
                (micros(due_at), rounds, uuid(delivery_id))
                for delivery_id, (due_at, rounds) in changes.retry.items()
            ],
        )
    if changes.remove:
        cursor.executemany(statements.remove, [(uuid(i),) for i in changes.remove])


def row_of(row: Any) -> PendingDelivery:
    return PendingDelivery(
        seq=int(row["seq"]),
        delivery_id=UUID(str(row["delivery_id"])),
        endpoint_id=UUID(str(row["endpoint_id"])),
        partner_id=str(row["partner_id"]),
        entry_id=UUID(str(row["entry_id"])),
        message_id=str(row["message_id"]),
        subject=str(row["subject"]),
        ordered=bool(row["ordered"]),
        event_time=float(row["event_time"]),
        due_at=int(row["due_us"]) / 1_000_000,
        rounds=int(row["rounds"]),
        recorded=bool(row["recorded"]),
        body=str(row["body"]),
    )


@dataclass(frozen=True)
class EndpointBacklog:
    endpoint_id: UUID
    pending: int
    next_due: float | None


class PendingQueries:
    """What the dispatcher and the API ask of the table and of the delivery log."""

    pending_statements: Statements
    history_statements: HistoryStatements
    datastore: Any

    def _key(self, value: UUID) -> Any:
        raise NotImplementedError

    def _attempts_sql(self, count: int) -> Any:
        """Attempts of `count` deliveries (one parameter per id, or one array), in order."""
        raise NotImplementedError

    def _attempts_args(self, delivery_ids: Sequence[UUID]) -> Sequence[Any]:
        raise NotImplementedError

    def _rows(self, statement: Any, args: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, args)
            return list(cursor.fetchall())

    def waiting(self, endpoint_id: UUID, before: int, limit: int) -> list[PendingDelivery]:
        """The endpoint's deliveries not attempted yet, newest first, before table seq."""
        args = (self._key(endpoint_id), before, limit)
        return [row_of(r) for r in self._rows(self.pending_statements.waiting, args)]

    def logged(
        self, endpoint_id: UUID, before: int, limit: int, state: str | None = None
    ) -> list[LoggedDelivery]:
        """A page of the endpoint's delivery log, newest first, before log seq `before`."""
        key = self._key(endpoint_id)
        if state is None:
            rows = self._rows(self.history_statements.page, (key, before, limit))
        else:
            rows = self._rows(self.history_statements.page_in_state, (key, state, before, limit))
        return [logged_of(r) for r in rows]

    def attempts_of(self, delivery_ids: Sequence[UUID]) -> dict[UUID, list[AttemptRow]]:
        """The deliveries' attempts, oldest first."""
        found: dict[UUID, list[AttemptRow]] = {i: [] for i in delivery_ids}
        if delivery_ids:
            sql = self._attempts_sql(len(delivery_ids))
            for row in self._rows(sql, self._attempts_args(delivery_ids)):
                attempt = attempt_of(row)
                found[attempt.delivery_id].append(attempt)
        return found

    def dead_between(
        self, endpoint_id: UUID, since: float | None, until: float | None
    ) -> list[LoggedDelivery]:
        """The endpoint's dead letters whose events happened in [since, until), in time order."""
        low = -1e300 if since is None else since
        high = 1e300 if until is None else until
        rows = self._rows(self.history_statements.dead_between, (self._key(endpoint_id), low, high))
        return [logged_of(r) for r in rows]

    def totals(self, endpoint_id: UUID) -> EndpointTotals:
        """Deliveries by state and attempts (all, failed, answered) of the endpoint."""
        key = self._key(endpoint_id)
        states = {
            str(r["state"]): int(r["n"]) for r in self._rows(self.history_statements.states, (key,))
        }
        [row] = self._rows(self.history_statements.attempt_totals, (key,))
        return EndpointTotals(
            states=states,
            attempts=int(row["n"]),
            failed_attempts=int(row["failed"]),
            answered=int(row["answered"]),
        )

    def latency_at(self, endpoint_id: UUID, rank: int) -> float | None:
        """The endpoint's answered attempt latency at `rank` (0: the smallest)."""
        rows = self._rows(self.history_statements.latency_at, (self._key(endpoint_id), rank))
        return float(rows[0]["latency_ms"]) if rows else None

    def anything_logged(self) -> bool:
        return bool(self._rows(self.history_statements.any_logged, ()))

    def due_deliveries(self, endpoint_id: UUID, now: float, limit: int) -> list[PendingDelivery]:
        """The endpoint's deliveries due at `now` (and free to go), soonest first."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                self.pending_statements.due, (self._key(endpoint_id), micros(now), limit)
            )
            return [row_of(row) for row in cursor.fetchall()]

    def next_due(self, endpoint_id: UUID, now: float) -> float | None:
        """When the endpoint's next delivery not yet due falls due."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.pending_statements.next_due, (self._key(endpoint_id), micros(now)))
            row = cursor.fetchone()
            return None if row is None or row["next_us"] is None else int(row["next_us"]) / 1e6

    def take(
        self, endpoint_id: UUID, now: float, limit: int
    ) -> tuple[list[PendingDelivery], float | None]:
        """`due_deliveries` and `next_due` in one read: what the dispatcher asks each time
        it looks at an endpoint's rows (one trip to a thread and one transaction, not two)."""
        key, at = self._key(endpoint_id), micros(now)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.pending_statements.due, (key, at, limit))
            rows = [row_of(row) for row in cursor.fetchall()]
            cursor.execute(self.pending_statements.next_due, (key, at))
            row = cursor.fetchone()
        next_us = None if row is None else row["next_us"]
        return rows, None if next_us is None else int(next_us) / 1e6

    def pending_of(self, endpoint_id: UUID) -> list[PendingDelivery]:
        """Every pending delivery of the endpoint, in feed order."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.pending_statements.of_endpoint, (self._key(endpoint_id),))
            return [row_of(row) for row in cursor.fetchall()]

    def backlogs(self) -> list[EndpointBacklog]:
        """Per endpoint: how many deliveries are pending, and when the next falls due."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.pending_statements.summary)
            return [
                EndpointBacklog(
                    UUID(str(row["endpoint_id"])),
                    int(row["n"]),
                    None if row["next_us"] is None else int(row["next_us"]) / 1e6,
                )
                for row in cursor.fetchall()
            ]


class FeedsSQLiteRecorder(PendingQueries, SQLiteRecorder):
    def __init__(self, datastore: SQLiteDatastore, *, events_table_name: str = "stored_events"):
        # Set first: the base class asks for its create statements while it initialises.
        self.pending_statements = sqlite_statements()
        self.history_statements = sqlite_history()
        self.history_tables = ("delivery_log", "delivery_attempts")
        super().__init__(datastore, events_table_name=events_table_name)

    def _key(self, value: UUID) -> Any:
        return str(value)

    def _attempts_sql(self, count: int) -> Any:
        marks = ", ".join("?" * count)
        return (
            "SELECT delivery_id, endpoint_id, at_us, status, latency_ms, error FROM "
            f"delivery_attempts WHERE delivery_id IN ({marks}) ORDER BY seq"
        )

    def _attempts_args(self, delivery_ids: Sequence[UUID]) -> Sequence[Any]:
        return [str(i) for i in delivery_ids]

    def construct_create_table_statements(self) -> list[str]:
        creates = [
            str(statement)
            for statement in (*self.pending_statements.create, *self.history_statements.create)
        ]
        return [*super().construct_create_table_statements(), *creates]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        write(c, self.pending_statements, self.history_statements, kwargs.get(KWARG), str)
        return ids


class FeedsPostgresRecorder(PendingQueries, PostgresRecorder):
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
        name = events_table_name.removesuffix("_events") + "_pending_deliveries"
        self.check_identifier_length(name + "_subject")
        self.pending_statements = postgres_statements(datastore.schema, name)
        prefix = events_table_name.removesuffix("_events")
        log, attempts = prefix + "_delivery_log", prefix + "_delivery_attempts"
        self.check_identifier_length(attempts + "_delivery")
        self.history_statements = postgres_history(datastore.schema, log, attempts)
        self.history_tables = (f"{datastore.schema}.{log}", f"{datastore.schema}.{attempts}")
        self._attempts_select = SQL(
            "SELECT delivery_id, endpoint_id, at_us, status, latency_ms, error FROM "
            "{schema}.{table} WHERE delivery_id = ANY(%s) ORDER BY seq"
        ).format(schema=Identifier(datastore.schema), table=Identifier(attempts))
        for statement in (*self.pending_statements.create, *self.history_statements.create):
            assert isinstance(statement, Composed)
            self.sql_create_statements.append(statement)

    def _key(self, value: UUID) -> Any:
        return value

    def _attempts_sql(self, count: int) -> Any:
        return self._attempts_select

    def _attempts_args(self, delivery_ids: Sequence[UUID]) -> Sequence[Any]:
        return [list(delivery_ids)]

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        write(
            curs, self.pending_statements, self.history_statements, kwargs.get(KWARG), lambda u: u
        )
