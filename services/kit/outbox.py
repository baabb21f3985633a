"""The published form of each stored event, written in the same transaction as the event.

A command's events are translated to their contract, validated and serialised when they
are saved, and the result (NATS subject, CloudEvent body, the attributes that do not depend
on the log position) is inserted beside them, in the same transaction. The relay then
reads bytes and publishes them: decoding, translating and serialising each event in the
relay's one thread was most of its cost, and a command pays a few microseconds for it.

What the relay publishes stays what the contract produces from the stored event:
- each form records the schema fingerprint of the contract class it was made with; a form
  whose type's current class has another fingerprint (a minor version changed between
  save and publish), or whose type the registry does not know, is converted again from
  the stored event, as is an event saved without a form (stored before this table
  existed, or by a process that does not translate: the privacy command line);
- an event that is not published gets a row without a subject, so the relay skips it
  without decoding it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from contracts.events import ContractEvent
from contracts.registry import BY_TYPE
from services.kit.wire import fixed_headers

Translate = Callable[[Any], ContractEvent | None]


@dataclass(frozen=True, slots=True)
class PublishedForm:
    """A stored event as the relay publishes it; `subject` None: it is not published."""

    subject: str | None = None
    event_type: str | None = None
    contract: str | None = None
    headers: bytes | None = None
    body: bytes | None = None


NOT_PUBLISHED = PublishedForm()


@dataclass(frozen=True)
class OutboxStoredEvent(StoredEvent):
    """A stored event carrying its published form to the recorder's insert."""

    published: PublishedForm | None = None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One log position as the relay reads it: the form, or the stored event to convert."""

    notification_id: int
    originator_id: UUID | str
    originator_version: int
    form: PublishedForm | None
    topic: str | None = None
    state: bytes | None = None


@cache
def fingerprint(contract_class: type[ContractEvent]) -> str:
    """A short digest of a contract class's JSON schema: it changes with any field change."""
    schema = orjson.dumps(contract_class.model_json_schema(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(schema).hexdigest()[:16]


def is_current(form: PublishedForm) -> bool:
    """Whether a stored form was made with the contract class its type has now."""
    current = BY_TYPE.get(form.event_type or "")
    return current is not None and fingerprint(current) == form.contract


class Converter:
    """Makes the published form of a domain event (in the saving thread)."""

    def __init__(self, service: str, translate: Translate) -> None:
        self.source = f"/tongxin/{service}"
        self.translate = translate

    def form(self, domain_event: Any, traceparent: str | None) -> PublishedForm:
        contract = self.translate(domain_event)
        if contract is None:
            return NOT_PUBLISHED
        event_type, department, nats_subject = type(contract).names()
        headers = fixed_headers(
            source=self.source,
            type=event_type,
            time=getattr(domain_event, "timestamp", None) or datetime.now(UTC),
            department=department,
            subject=str(domain_event.originator_id),
            traceparent=traceparent,
        )
        return PublishedForm(
            subject=nats_subject,
            event_type=event_type,
            contract=fingerprint(type(contract)),
            headers=orjson.dumps(headers),
            body=contract.model_dump_json().encode(),
        )


def convert_at_write(app: Any, service: str, translate: Translate) -> None:
    """From now on, the application's saves store each event's published form beside it."""
    app.mapper.converter = Converter(service, translate)


def _rows(stored_events: Sequence[StoredEvent], uuid_hex: bool) -> list[tuple[Any, ...]]:
    rows = []
    for event in stored_events:
        form = getattr(event, "published", None)
        if form is None:
            continue
        originator_id = event.originator_id
        if uuid_hex and isinstance(originator_id, UUID):
            originator_id = originator_id.hex
        rows.append(
            (
                originator_id,
                event.originator_version,
                form.subject,
                form.event_type,
                form.contract,
                form.headers,
                form.body,
            )
        )
    return rows


def _form(row: Any) -> PublishedForm | None:
    if not row["converted"]:
        return None
    if row["subject"] is None:
        return NOT_PUBLISHED
    return PublishedForm(
        subject=row["subject"],
        event_type=row["event_type"],
        contract=row["contract"],
        headers=bytes(row["headers"]),
        body=bytes(row["body"]),
    )


class OutboxRecorder:
    """A process recorder that stores published forms; what the relay reads from it."""

    def select_outbox(self, after: int, limit: int) -> list[OutboxEntry]:
        """The log after a position: each event's form, or its stored state when it has none."""
        raise NotImplementedError


class PostgresOutboxRecorder(PostgresProcessRecorder, OutboxRecorder):
    """PostgreSQL's process recorder with a published form beside each stored event."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.published_table_name = f"{self.events_table_name}_published"
        schema = Identifier(self.datastore.schema)
        table = Identifier(self.published_table_name)
        events = Identifier(self.events_table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "originator_id {originator_id_type} NOT NULL, "
                "originator_version bigint NOT NULL, "
                "subject text, event_type text, contract text, headers bytea, body bytea, "
                "PRIMARY KEY (originator_id, originator_version))"
            ).format(
                schema=schema,
                table=table,
                originator_id_type=Identifier(self.datastore.originator_id_type),
            )
        )
        self.insert_published_statement = SQL(
            "INSERT INTO {schema}.{table} VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ).format(schema=schema, table=table)
        # The stored state is read only for events without a form: they are converted here.
        self.select_outbox_statement = SQL(
            "SELECT e.notification_id, e.originator_id, e.originator_version, "
            "p.subject, p.event_type, p.contract, p.headers, p.body, "
            "p.originator_id IS NOT NULL AS converted, "
            "CASE WHEN p.originator_id IS NULL THEN e.topic END AS topic, "
            "CASE WHEN p.originator_id IS NULL THEN e.state END AS state "
            "FROM {schema}.{events} e LEFT JOIN {schema}.{table} p "
            "ON p.originator_id = e.originator_id AND p.originator_version = e.originator_version "
            "WHERE e.notification_id > %s ORDER BY e.notification_id LIMIT %s"
        ).format(schema=schema, table=table, events=events)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """eventsourcing's pipelined insert, but a connection whose insert failed is closed.

        A transaction that fails inside psycopg's pipeline (a version conflict: another
        replica stored the same aggregate version first) can leave the connection's cache
        of prepared statements out of step with the server: psycopg counts a statement as
        prepared whose PREPARE the server skipped after the error. Back in the pool, that
        connection would fail a later command's insert with 'prepared statement "_pg3_N"
        does not exist' (a ProgrammingError, so neither the group commit nor `run_command`
        sees a version conflict: HTTP 500). So its prepared statements are dropped before it
        goes back (or, if that fails too, the connection is closed and the pool replaces it).
        """
        if self.datastore.enable_db_functions:
            return super().insert_events(stored_events, **kwargs)
        with self.datastore.get_connection() as conn:
            try:
                with conn.pipeline() as pipeline, conn.transaction():
                    with conn.cursor() as curs:
                        self._insert_events(curs, stored_events, **kwargs)
                    if not stored_events:
                        return None
                    with conn.cursor() as curs:
                        self._insert_stored_events(curs, stored_events, **kwargs)
                        # Sync now, so that a version conflict raises an IntegrityError here.
                        pipeline.sync()
                        return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
            except BaseException:
                # Start the connection's prepared statements afresh, on both sides: psycopg
                # clears its cache when it sees DEALLOCATE ALL. Failing that, drop it.
                try:
                    conn.execute("DEALLOCATE ALL", prepare=False)
                except Exception:
                    conn.close()
                raise

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        self._insert_published(curs, stored_events)

    def _insert_published(self, curs: Any, stored_events: Sequence[StoredEvent]) -> None:
        rows = _rows(stored_events, uuid_hex=False)
        if rows:
            curs.executemany(self.insert_published_statement, rows)

    def select_outbox(self, after: int, limit: int) -> list[OutboxEntry]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_outbox_statement, (after, limit), prepare=True)
            return [
                OutboxEntry(
                    notification_id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    form=_form(row),
                    topic=row["topic"],
                    state=None if row["state"] is None else bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]


class SQLiteOutboxRecorder(SQLiteProcessRecorder, OutboxRecorder):
    """SQLite's process recorder with a published form beside each stored event."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.published_table_name = f"{self.events_table_name}_published"
        self.insert_published_statement = (
            f"INSERT INTO {self.published_table_name} VALUES (?,?,?,?,?,?,?)"
        )
        self.select_outbox_statement = (
            "SELECT e.rowid AS notification_id, e.originator_id, e.originator_version, "
            "p.subject, p.event_type, p.contract, p.headers, p.body, "
            "p.originator_id IS NOT NULL AS converted, "
            "CASE WHEN p.originator_id IS NULL THEN e.topic END AS topic, "
            "CASE WHEN p.originator_id IS NULL THEN e.state END AS state "
            f"FROM {self.events_table_name} e LEFT JOIN {self.published_table_name} p "
            "ON p.originator_id = e.originator_id AND p.originator_version = e.originator_version "
            "WHERE e.rowid > ? ORDER BY e.rowid LIMIT ?"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.events_table_name}_published ("
            "originator_id TEXT, originator_version INTEGER, "
            "subject TEXT, event_type TEXT, contract TEXT, headers BLOB, body BLOB, "
            "PRIMARY KEY (originator_id, originator_version))",
        ]

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        returning = super()._insert_events(c, stored_events, **kwargs)
        self._insert_published(c, stored_events)
        return returning

    def _insert_published(self, c: Any, stored_events: Sequence[StoredEvent]) -> None:
        rows = _rows(stored_events, uuid_hex=True)
        if rows:
            c.executemany(self.insert_published_statement, rows)

    def select_outbox(self, after: int, limit: int) -> list[OutboxEntry]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.select_outbox_statement, (after, limit))
            return [
                OutboxEntry(
                    notification_id=row["notification_id"],
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    form=_form(row),
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]
