"""The delivery log by endpoint: every delivery's state and every attempt, kept in tables.

The log, the redrive of a time range or of the dead letters, and the figures read these
tables by index instead of scanning the event log (which grows without bound). They are
written by the save that records what they show (`Changes.logged` and
`Changes.attempts`), in its transaction, like the pending deliveries table; a store
written before they existed fills them once from its `Delivery` events (`backfill`).

`seq` orders the log: a delivery's row is made when its `Delivery` aggregate is (its
first attempt, or its dead-lettering), and keeps its place as its state changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.sql import SQL, Composable, Identifier

# The states a delivery is in: still to be (re)tried, delivered, or dead-lettered.
STATES = ("pending", "delivered", "dead")


@dataclass(frozen=True)
class LoggedDelivery:
    """A delivery's row: which message to which endpoint, and how it stands."""

    delivery_id: UUID
    endpoint_id: UUID
    message_id: str
    event_time: float
    state: str
    seq: int = 0


@dataclass(frozen=True)
class AttemptRow:
    """One attempt: when, the status code (None: no answer), latency and error."""

    delivery_id: UUID
    endpoint_id: UUID
    at: float
    status: int | None
    latency_ms: float
    error: str | None


@dataclass(frozen=True)
class EndpointTotals:
    """What the figures of one endpoint count, straight from the tables."""

    states: dict[str, int]
    attempts: int
    failed_attempts: int
    answered: int


@dataclass(frozen=True)
class HistoryStatements:
    create: tuple[str | Composable, ...]
    log: str | Composable
    attempt: str | Composable
    page: str | Composable
    page_in_state: str | Composable
    dead_between: str | Composable
    states: str | Composable
    attempt_totals: str | Composable
    latency_at: str | Composable
    any_logged: str | Composable


_LOG = (
    "INSERT INTO {log} (delivery_id, endpoint_id, message_id, event_time, state) "
    "VALUES ({p}, {p}, {p}, {p}, {p}) "
    "ON CONFLICT (delivery_id) DO UPDATE SET state = excluded.state"
)
_ATTEMPT = (
    "INSERT INTO {attempts} (delivery_id, endpoint_id, at_us, status, latency_ms, error) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
)
_ROW = "seq, delivery_id, endpoint_id, message_id, event_time, state"
_PAGE = (
    "SELECT " + _ROW + " FROM {log} WHERE endpoint_id = {p} AND seq < {p} "
    "ORDER BY seq DESC LIMIT {p}"
)
_PAGE_IN_STATE = (
    "SELECT " + _ROW + " FROM {log} WHERE endpoint_id = {p} AND state = {p} AND seq < {p} "
    "ORDER BY seq DESC LIMIT {p}"
)
_DEAD_BETWEEN = (
    "SELECT " + _ROW + " FROM {log} WHERE endpoint_id = {p} AND state = 'dead' "
    "AND event_time >= {p} AND event_time < {p} ORDER BY event_time, message_id"
)
_STATES = "SELECT state, COUNT(*) AS n FROM {log} WHERE endpoint_id = {p} GROUP BY state"
_ATTEMPT_TOTALS = (
    "SELECT COUNT(*) AS n, COUNT(status) AS answered, "
    "COALESCE(SUM(CASE WHEN status BETWEEN 200 AND 299 THEN 0 ELSE 1 END), 0) AS failed "
    "FROM {attempts} WHERE endpoint_id = {p}"
)
# The k-th smallest answered latency, walked along the partial index.
_LATENCY_AT = (
    "SELECT latency_ms FROM {attempts} WHERE endpoint_id = {p} AND status IS NOT NULL "
    "ORDER BY latency_ms LIMIT 1 OFFSET {p}"
)
_ANY_LOGGED = "SELECT 1 AS found FROM {log} LIMIT 1"


def sqlite_history(
    log: str = "delivery_log", attempts: str = "delivery_attempts"
) -> HistoryStatements:
    def sql(template: str) -> str:
        return template.replace("{log}", log).replace("{attempts}", attempts).replace("{p}", "?")

    return HistoryStatements(
        create=(
            f"CREATE TABLE IF NOT EXISTS {log} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "delivery_id TEXT NOT NULL UNIQUE, endpoint_id TEXT NOT NULL, "
            "message_id TEXT NOT NULL, event_time REAL NOT NULL, state TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {log}_page ON {log} (endpoint_id, seq)",
            f"CREATE INDEX IF NOT EXISTS {log}_state ON {log} (endpoint_id, state, seq)",
            f"CREATE INDEX IF NOT EXISTS {log}_time ON {log} (endpoint_id, state, event_time)",
            f"CREATE TABLE IF NOT EXISTS {attempts} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "delivery_id TEXT NOT NULL, endpoint_id TEXT NOT NULL, at_us INTEGER NOT NULL, "
            "status INTEGER, latency_ms REAL NOT NULL, error TEXT)",
            f"CREATE INDEX IF NOT EXISTS {attempts}_delivery ON {attempts} (delivery_id, seq)",
            f"CREATE INDEX IF NOT EXISTS {attempts}_endpoint ON {attempts} (endpoint_id)",
            f"CREATE INDEX IF NOT EXISTS {attempts}_latency ON {attempts} "
            "(endpoint_id, latency_ms) WHERE status IS NOT NULL",
        ),
        log=sql(_LOG),
        attempt=sql(_ATTEMPT),
        page=sql(_PAGE),
        page_in_state=sql(_PAGE_IN_STATE),
        dead_between=sql(_DEAD_BETWEEN),
        states=sql(_STATES),
        attempt_totals=sql(_ATTEMPT_TOTALS),
        latency_at=sql(_LATENCY_AT),
        any_logged=sql(_ANY_LOGGED),
    )


def postgres_history(schema: str, log: str, attempts: str) -> HistoryStatements:
    names = {
        "schema": Identifier(schema),
        "log_table": Identifier(log),
        "attempts_table": Identifier(attempts),
    }

    def sql(template: str) -> Composable:
        text = (
            template.replace("{p}", "%s")
            .replace("{log}", "{schema}.{log_table}")
            .replace("{attempts}", "{schema}.{attempts_table}")
        )
        return SQL(text).format(**names)

    def index(table: str, suffix: str, definition: str) -> Composable:
        return SQL("CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} " + definition).format(
            index=Identifier(f"{table}_{suffix}"),
            schema=Identifier(schema),
            table=Identifier(table),
        )

    return HistoryStatements(
        create=(
            sql(
                "CREATE TABLE IF NOT EXISTS {log} (seq bigserial PRIMARY KEY, "
                "delivery_id uuid NOT NULL UNIQUE, endpoint_id uuid NOT NULL, "
                "message_id text NOT NULL, event_time double precision NOT NULL, "
                "state text NOT NULL)"
            ),
            index(log, "page", "(endpoint_id, seq)"),
            index(log, "state", "(endpoint_id, state, seq)"),
            index(log, "time", "(endpoint_id, state, event_time)"),
            sql(
                "CREATE TABLE IF NOT EXISTS {attempts} (seq bigserial PRIMARY KEY, "
                "delivery_id uuid NOT NULL, endpoint_id uuid NOT NULL, at_us bigint NOT NULL, "
                "status integer, latency_ms double precision NOT NULL, error text)"
            ),
            index(attempts, "delivery", "(delivery_id, seq)"),
            index(attempts, "endpoint", "(endpoint_id)"),
            index(attempts, "latency", "(endpoint_id, latency_ms) WHERE status IS NOT NULL"),
        ),
        log=sql(_LOG),
        attempt=sql(_ATTEMPT),
        page=sql(_PAGE),
        page_in_state=sql(_PAGE_IN_STATE),
        dead_between=sql(_DEAD_BETWEEN),
        states=sql(_STATES),
        attempt_totals=sql(_ATTEMPT_TOTALS),
        latency_at=sql(_LATENCY_AT),
        any_logged=sql(_ANY_LOGGED),
    )


def write_history(
    cursor: Any,
    statements: HistoryStatements,
    logged: Sequence[LoggedDelivery],
    attempts: Sequence[AttemptRow],
    uuid: Any,
) -> None:
    """Apply a save's log rows and attempts with the cursor of its transaction."""
    if logged:
        cursor.executemany(
            statements.log,
            [
                (uuid(d.delivery_id), uuid(d.endpoint_id), d.message_id, d.event_time, d.state)
                for d in logged
            ],
        )
    if attempts:
        cursor.executemany(
            statements.attempt,
            [
                (
                    uuid(a.delivery_id),
                    uuid(a.endpoint_id),
                    round(a.at * 1_000_000),
                    a.status,
                    a.latency_ms,
                    a.error,
                )
                for a in attempts
            ],
        )


def logged_of(row: Any) -> LoggedDelivery:
    return LoggedDelivery(
        seq=int(row["seq"]),
        delivery_id=UUID(str(row["delivery_id"])),
        endpoint_id=UUID(str(row["endpoint_id"])),
        message_id=str(row["message_id"]),
        event_time=float(row["event_time"]),
        state=str(row["state"]),
    )


def attempt_of(row: Any) -> AttemptRow:
    return AttemptRow(
        delivery_id=UUID(str(row["delivery_id"])),
        endpoint_id=UUID(str(row["endpoint_id"])),
        at=int(row["at_us"]) / 1_000_000,
        status=None if row["status"] is None else int(row["status"]),
        latency_ms=float(row["latency_ms"]),
        error=None if row["error"] is None else str(row["error"]),
    )
