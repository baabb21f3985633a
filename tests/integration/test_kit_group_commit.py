"""Concurrent commands share transactions on PostgreSQL, and each keeps its own outcome."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from services.kit.application import CommandKey
from services.kit.settings import Settings
from tests.support.counter import build_counter_app

pytestmark = pytest.mark.postgres


def test_concurrent_commands_share_transactions(pg_settings: Settings) -> None:
    app = build_counter_app(pg_settings)
    try:
        underlying = app.events.recorder._recorder  # type: ignore[attr-defined]
        inserts: list[int] = []
        lock = threading.Lock()
        insert = underlying.insert_events

        def counted(stored_events: Any, **kwargs: Any) -> Any:
            with lock:
                inserts.append(len(stored_events))
            return insert(stored_events, **kwargs)

        underlying.insert_events = counted
        commands = 200
        start = threading.Barrier(16)

        def command(n: int) -> object:
            if n < 16:
                start.wait()
            return app.create(f"c{n}", CommandKey("tester", f"k{n}", f"c{n}"))

        with ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(command, range(commands)))
        # The same keys again: answered from the records, nothing appended.
        with ThreadPoolExecutor(16) as pool:
            again = list(pool.map(command, range(commands)))

        assert again == ids and len(set(ids)) == commands
        assert app.recorder.max_notification_id() == 2 * commands  # counter + record each
        assert len(inserts) < commands, "every command committed alone"
    finally:
        app.close()


def test_a_lost_version_race_is_a_conflict_on_both_replicas(pg_settings: Settings) -> None:
    """Two replicas on one database save the same version of a counter at once, many times.

    Each round, one save is stored and the other raises the store's IntegrityError (the
    version conflict `run_command` retries); afterwards both replicas go on working: no
    'prepared statement does not exist' from a connection the failed transaction left behind.
    """
    apps = [build_counter_app(pg_settings), build_counter_app(pg_settings)]
    try:
        counter_id = apps[0].create("raced")
        for round_ in range(12):  # past psycopg's prepare threshold on every pooled connection
            counters = [app.repository.get(counter_id) for app in apps]
            assert counters[0].version == counters[1].version == round_ + 1
            for counter in counters:
                counter.increment()
            start = threading.Barrier(2)

            def save(
                n: int, counters: list[Any] = counters, start: threading.Barrier = start
            ) -> BaseException | None:
                start.wait()
                try:
                    apps[n].save(counters[n])
                except IntegrityError as exc:
                    return exc
                return None

            with ThreadPoolExecutor(2) as pool:
                outcomes = list(pool.map(save, range(2)))
            assert sum(outcome is None for outcome in outcomes) == 1, outcomes
            assert all(o is None or isinstance(o, IntegrityError) for o in outcomes), outcomes
            # The winner's event alone is stored, with its published form: nothing half-written.
            assert apps[0].count(counter_id) == apps[1].count(counter_id) == round_ + 1
        # Commands on both replicas still work (and run_command retries its own conflicts).
        for app in apps:
            assert app.increment(counter_id)["count"] == app.count(counter_id)
    finally:
        for app in apps:
            app.close()
