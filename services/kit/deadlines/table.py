"""The deadlines table beside a service's events, on SQLite and PostgreSQL.

One row per pending (aggregate, name); `due_us` is microseconds since the epoch. The
recorder writes a save's changes with `write` inside the transaction that stores the
save's events (`services.kit.deadlines.recorders`), so a deadline exists exactly when
the events that scheduled it do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.sql import SQL, Composable, Identifier

from services.kit.deadlines.model import Changes, Deadline, from_micros, micros

# The keyword argument of `insert_events` that carries a save's changes.
KWARG = "deadlines"


@dataclass(frozen=True)
class Statements:
    """The SQL of one table in one dialect."""

    create: tuple[str | Composable, ...]
    upsert: str | Composable
    cancel: str | Composable
    done: str | Composable
    due: str | Composable
    pending: str | Composable
    count: str | Composable


_UPSERT = (
    "INSERT INTO {t} (owner_id, name, due_us, key) VALUES ({p}, {p}, {p}, {p}) "
    "ON CONFLICT (owner_id, name) DO UPDATE SET due_us = excluded.due_us, key = excluded.key"
)
_CANCEL = "DELETE FROM {t} WHERE owner_id = {p} AND name = {p}"
_DONE = "DELETE FROM {t} WHERE key = {p}"
_DUE = "SELECT owner_id, name, due_us, key FROM {t} WHERE due_us <= {p} ORDER BY due_us LIMIT {p}"
_PENDING = "SELECT owner_id, name, due_us, key FROM {t} WHERE owner_id = {p} ORDER BY due_us"
_COUNT = "SELECT COUNT(*) AS n, MIN(due_us) AS next_us FROM {t}"


def sqlite_statements(table: str = "deadlines") -> Statements:
    def sql(template: str) -> str:
        return template.replace("{t}", table).replace("{p}", "?")

    return Statements(
        create=(
            f"CREATE TABLE IF NOT EXISTS {table} (owner_id TEXT NOT NULL, name TEXT NOT NULL, "
            "due_us INTEGER NOT NULL, key TEXT NOT NULL, PRIMARY KEY (owner_id, name))",
            f"CREATE INDEX IF NOT EXISTS {table}_due ON {table} (due_us)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_key ON {table} (key)",
        ),
        upsert=sql(_UPSERT),
        cancel=sql(_CANCEL),
        done=sql(_DONE),
        due=sql(_DUE),
        pending=sql(_PENDING),
        count=sql(_COUNT),
    )


def postgres_statements(schema: str, table: str) -> Statements:
    def sql(template: str) -> Composable:
        return SQL(template.replace("{p}", "%s").replace("{t}", "{schema}.{table}")).format(
            schema=Identifier(schema), table=Identifier(table)
        )

    def index(suffix: str, definition: str, unique: str = "") -> Composable:
        return SQL(
            "CREATE " + unique + "INDEX IF NOT EXISTS {index} ON {schema}.{table} " + definition
        ).format(
            index=Identifier(f"{table}_{suffix}"),
            schema=Identifier(schema),
            table=Identifier(table),
        )

    return Statements(
        create=(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} (owner_id text NOT NULL, "
                "name text NOT NULL, due_us bigint NOT NULL, key text NOT NULL, "
                "PRIMARY KEY (owner_id, name))"
            ).format(schema=Identifier(schema), table=Identifier(table)),
            index("due", "(due_us)"),
            index("key", "(key)", unique="UNIQUE "),
        ),
        upsert=sql(_UPSERT),
        cancel=sql(_CANCEL),
        done=sql(_DONE),
        due=sql(_DUE),
        pending=sql(_PENDING),
        count=sql(_COUNT),
    )


def write(cursor: Any, statements: Statements, changes: Changes | None) -> None:
    """Apply a save's changes with the cursor of the transaction storing its events."""
    if not changes:
        return
    for key in changes.done:
        cursor.execute(statements.done, (key,))
    for op in changes.ops:
        if isinstance(op, Deadline):
            row = (str(op.owner_id), op.name, micros(op.due_at), op.key)
            cursor.execute(statements.upsert, row)
        else:
            owner_id, name = op
            cursor.execute(statements.cancel, (str(owner_id), name))


def deadline_of(row: Any) -> Deadline:
    return Deadline(
        owner_id=UUID(str(row["owner_id"])),
        name=str(row["name"]),
        due_at=from_micros(int(row["due_us"])),
        key=str(row["key"]),
    )
