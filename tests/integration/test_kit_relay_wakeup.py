"""The relay is woken by commits, not by its poll: LISTEN/NOTIFY across processes on
PostgreSQL, the saving application's own call on SQLite, the file's data version for a relay
in its own process on SQLite.

The safety poll is stretched past the test's patience, so an event published here was
published because its commit woke the relay.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from eventsourcing.persistence import Tracking

from services.kit import relay as relay_module
from services.kit.relay import OutboxRelay
from services.kit.settings import Settings
from tests.support import eventually
from tests.support.counter import BOUNDARY, SERVICE, build_counter_app, translate
from tests.support.streams import read_stream, running, stream_last_seq

pytestmark = pytest.mark.timeout(120)

NEVER_S = 600.0
STREAM = "VOLUNTEERS"


@pytest.fixture(autouse=True)
def no_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay_module, "SAFETY_POLL_S", NEVER_S)


async def test_a_commit_by_another_process_wakes_the_relay_on_postgres(
    pg_settings: Settings, nats_url: str
) -> None:
    settings = pg_settings.model_copy(update={"nats_urls": nats_url, "relay_idle_s": NEVER_S})
    relaying = build_counter_app(settings)
    # Another replica: its saves do not call the relay, they only commit.
    saving = build_counter_app(settings)
    try:
        relay = OutboxRelay(
            relaying, service=SERVICE, boundary=BOUNDARY, translate=translate, settings=settings
        )
        async with running(relay.run):
            await eventually(lambda: relay._listening, timeout=30)
            await eventually(lambda: relay.connected, timeout=30)
            counter_id = await asyncio.to_thread(saving.create, "woken")
            await eventually(lambda: relay.position == 1, timeout=30)
            await asyncio.to_thread(saving.increment, counter_id)
            await eventually(lambda: relay.position == 2, timeout=30)
    finally:
        saving.close()
        relaying.close()


async def test_a_save_in_the_same_process_wakes_the_relay_on_sqlite(
    sqlite_settings: Settings, nats_url: str
) -> None:
    settings = sqlite_settings.model_copy(update={"nats_urls": nats_url, "relay_idle_s": NEVER_S})
    app = build_counter_app(settings)
    try:
        relay = OutboxRelay(
            app, service=SERVICE, boundary=BOUNDARY, translate=translate, settings=settings
        )
        loop = asyncio.get_running_loop()
        app.on_saved.append(lambda: loop.call_soon_threadsafe(relay.poke))
        relay.woken_by_saves = True
        async with running(relay.run):
            await eventually(lambda: relay.connected, timeout=30)
            counter_id = await asyncio.to_thread(app.create, "woken")
            await eventually(lambda: relay.position == 1, timeout=30)
            for expected in range(2, 6):
                await asyncio.to_thread(app.increment, counter_id)
                await eventually(lambda n=expected: relay.position == n, timeout=30)
    finally:
        app.close()


async def test_a_commit_by_another_process_wakes_a_relay_of_its_own_on_sqlite(
    sqlite_settings: Settings, nats_url: str
) -> None:
    """The relay's own process: its saves wake it, but the API's are made elsewhere."""
    settings = sqlite_settings.model_copy(update={"nats_urls": nats_url, "relay_idle_s": NEVER_S})
    relaying = build_counter_app(settings)
    # The API's process: another connection to the same file, whose saves only commit.
    saving = build_counter_app(settings)
    try:
        relay = OutboxRelay(
            relaying, service=SERVICE, boundary=BOUNDARY, translate=translate, settings=settings
        )
        relay.woken_by_saves = True
        relay.saves_elsewhere = True
        async with running(relay.run):
            await eventually(lambda: relay._listening, timeout=30)
            await eventually(lambda: relay.connected, timeout=30)
            counter_id = await asyncio.to_thread(saving.create, "woken")
            await eventually(lambda: relay.position == 1, timeout=30)
            for expected in range(2, 5):
                await asyncio.to_thread(saving.increment, counter_id)
                await eventually(lambda n=expected: relay.position == n, timeout=30)
    finally:
        saving.close()
        relaying.close()


async def test_a_commit_is_published_while_the_last_batch_is_still_being_settled(
    sqlite_settings: Settings, nats_url: str
) -> None:
    """Storing the relay's position after an acknowledgement is a commit of its own: a new
    event does not wait for it, and the position catches up once it is through."""
    settings = sqlite_settings.model_copy(update={"nats_urls": nats_url, "relay_idle_s": NEVER_S})
    app = build_counter_app(settings)
    held = threading.Event()
    storing = threading.Event()
    try:
        relay = OutboxRelay(
            app, service=SERVICE, boundary=BOUNDARY, translate=translate, settings=settings
        )
        loop = asyncio.get_running_loop()
        app.on_saved.append(lambda: loop.call_soon_threadsafe(relay.poke))
        relay.woken_by_saves = True
        insert_tracking = relay._recorder.insert_tracking

        def slow_insert_tracking(tracking: Tracking) -> None:
            storing.set()
            held.wait(60)
            insert_tracking(tracking)

        relay._recorder.insert_tracking = slow_insert_tracking  # type: ignore[method-assign]
        async with running(relay.run):
            await eventually(lambda: relay.connected, timeout=30)
            counter_id = await asyncio.to_thread(app.create, "first")
            await eventually(storing.is_set, timeout=30)
            await asyncio.to_thread(app.increment, counter_id)
            # Published while the first position's store is still held.
            await eventually(lambda: _stream_holds(nats_url, 2), timeout=30)
            assert relay.position == 0
            held.set()
            await eventually(lambda: relay.position == 2, timeout=30)
        messages = await read_stream(nats_url, STREAM)
        assert [m.headers["ce-sequence"] for m in messages] == ["1", "2"]
    finally:
        held.set()
        app.close()


async def _stream_holds(nats_url: str, count: int) -> bool:
    return await stream_last_seq(nats_url, STREAM) >= count
