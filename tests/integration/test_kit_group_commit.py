"""Concurrent commands share transactions on PostgreSQL, and each keeps its own outcome."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

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
