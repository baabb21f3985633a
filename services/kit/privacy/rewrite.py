"""Rewriting stored events in place: the one-off migrations personal data needs.

Events are immutable, except when what they hold must not be kept: a name written in plain
text before names were encrypted, which erasure (deleting the person's key) cannot reach.
An operator's migration reads the events of some topics, changes their state and writes it
back under the same position, in one transaction per batch. Nothing else changes: ids,
versions, topics, positions (a relay does not publish them again) and the trace context
riding in the state.

For the service's own migrations, run by `tongxin privacy migrate`; never on a command's
path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier

from services.kit.application import CommandRecord, RequestDigests, is_keyed

BATCH = 500

Change = Callable[[UUID, dict[str, Any]], dict[str, Any] | None]
"""Given an event's originator and state, the new state, or None to leave it as it is."""


def rewrite_events(app: Application, topics: Sequence[str], change: Change) -> int:
    """Apply `change` to every stored event of these topics; how many were rewritten."""
    recorder = app.recorder
    assert isinstance(recorder, ApplicationRecorder)
    position, rewritten = 0, 0
    while True:
        batch = recorder.select_notifications(
            position, BATCH, topics=list(topics), inclusive_of_start=False
        )
        updates: list[tuple[Notification, bytes]] = []
        for notification in batch:
            state = _decode(app, notification.state)
            changed = change(UUID(str(notification.originator_id)), state)
            if changed is not None:
                updates.append((notification, _encode(app, changed)))
        _update(recorder, updates)
        rewritten += len(updates)
        if len(batch) < BATCH:
            return rewritten
        position = batch[-1].id


def _decode(app: Application, stored: bytes) -> dict[str, Any]:
    mapper = app.mapper
    if mapper.cipher:
        stored = mapper.cipher.decrypt(stored)
    if mapper.compressor:
        stored = mapper.compressor.decompress(stored)
    state: dict[str, Any] = mapper.transcoder.decode(stored)
    return state


def _encode(app: Application, state: dict[str, Any]) -> bytes:
    mapper = app.mapper
    stored = mapper.transcoder.encode(state)
    if mapper.compressor:
        stored = mapper.compressor.compress(stored)
    if mapper.cipher:
        stored = mapper.cipher.encrypt(stored)
    return stored


def _update(recorder: ApplicationRecorder, updates: list[tuple[Notification, bytes]]) -> None:
    if not updates:
        return
    if isinstance(recorder, SQLiteAggregateRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                f"UPDATE {recorder.events_table_name} SET state = ? "
                "WHERE originator_id = ? AND originator_version = ?",
                [
                    (state, UUID(str(n.originator_id)).hex, n.originator_version)
                    for n, state in updates
                ],
            )
        return
    if isinstance(recorder, PostgresAggregateRecorder):
        datastore = recorder.datastore
        statement = SQL(
            "UPDATE {schema}.{table} SET state = %s "
            "WHERE originator_id = %s AND originator_version = %s"
        ).format(schema=Identifier(datastore.schema), table=Identifier(recorder.events_table_name))
        as_uuid = datastore.originator_id_type == "uuid"
        rows = [
            (
                state,
                UUID(str(n.originator_id)) if as_uuid else str(n.originator_id),
                n.originator_version,
            )
            for n, state in updates
        ]
        with datastore.transaction(commit=True) as cursor:
            cursor.executemany(statement, rows)
        return
    raise TypeError(f"cannot rewrite events in a {type(recorder).__name__}")


def rekey_request_digests(app: Application, digests: RequestDigests) -> int:
    """Turn idempotency records' unkeyed digests (a bare SHA-256) into keyed ones.

    A retry compares with either form (`CommandKey.matches`); only the keyed one keeps a
    guessed request body from being confirmed against the store.
    """
    topic = get_topic(CommandRecord.Handled)  # type: ignore[attr-defined]

    def change(_: UUID, state: dict[str, Any]) -> dict[str, Any] | None:
        digest = state.get("request_digest")
        if not isinstance(digest, str) or is_keyed(digest):
            return None
        return state | {"request_digest": digests.rekey(digest)}

    return rewrite_events(app, [topic], change)
