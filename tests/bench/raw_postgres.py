"""Raw PostgreSQL: eventsourcing append and load+save, psycopg single-row commits."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from services.kit.eventstore import store_env
from services.kit.settings import Settings
from tests.bench.report import Figure


class Tally(Aggregate):
    """The smallest useful aggregate: one event to create, one per increment."""

    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class TallyApplication(Application):
    name = "tally"


def eventsourcing_app(settings: Settings) -> TallyApplication:
    """A plain eventsourcing application (default mapper) on the bench's PostgreSQL."""
    env = store_env(settings, "tally")
    del env["MAPPER_TOPIC"]
    return TallyApplication(env=env)


def eventsourcing_append(settings: Settings, commits: int) -> tuple[Figure, list[UUID]]:
    """New aggregates saved one per commit, from one thread; returns their ids too."""
    app = eventsourcing_app(settings)
    try:
        ids: list[UUID] = []
        started = time.perf_counter()
        for n in range(commits):
            tally = Tally(name=f"tally-{n}")
            app.save(tally)
            ids.append(tally.id)
        elapsed = time.perf_counter() - started
    finally:
        app.close()
    figure = Figure(
        "raw.eventsourcing_append",
        "raw eventsourcing append (1 thread, 1 commit each)",
        commits / elapsed,
        "commits/s",
        {"commits": commits, "seconds": elapsed},
    )
    return figure, ids


def eventsourcing_load_save(settings: Settings, ids: list[UUID]) -> Figure:
    """Load an aggregate, trigger one event, save: one commit each, from one thread."""
    app = eventsourcing_app(settings)
    try:
        started = time.perf_counter()
        for aggregate_id in ids:
            tally: Any = app.repository.get(aggregate_id)
            tally.increment()
            app.save(tally)
        elapsed = time.perf_counter() - started
    finally:
        app.close()
    return Figure(
        "raw.eventsourcing_load_save",
        "raw eventsourcing load+save (1 thread)",
        len(ids) / elapsed,
        "commits/s",
        {"commits": len(ids), "seconds": elapsed},
    )


def psycopg_commits(settings: Settings, commits: int, connections: int) -> Figure:
    """Single-row INSERT + COMMIT, spread over `connections` connections (one thread each)."""

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=settings.postgres_host,
            port=settings.postgres_port,
            user=settings.postgres_user,
            dbname=settings.postgres_dbname,
            autocommit=True,
        )

    with connect() as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_commits (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)"
        )
    body = "x" * 200
    share = commits // connections
    pool = [connect() for _ in range(connections)]

    def work(conn: psycopg.Connection[Any]) -> None:
        for _ in range(share):
            conn.execute("INSERT INTO raw_commits (body) VALUES (%s)", (body,))

    threads = [threading.Thread(target=work, args=(conn,)) for conn in pool]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for conn in pool:
        conn.close()
    return Figure(
        f"raw.psycopg_commits_{connections}",
        f"raw psycopg single-row commits, {connections} connection(s)",
        share * connections / elapsed,
        "commits/s",
        {"commits": share * connections, "connections": connections, "seconds": elapsed},
    )
