"""The outbox relay against a real nats-server: in order, exactly once, durable position."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.kit.relay import RELAY_TRACKING, OutboxRelay
from services.kit.settings import Settings
from tests.support import eventually
from tests.support.counter import BOUNDARY, SERVICE, CounterApp, build_counter_app, translate
from tests.support.nats import NatsServer
from tests.support.streams import nats_client, read_stream, running, stream_last_seq

pytestmark = pytest.mark.timeout(180)

STREAM = "VOLUNTEERS"
REPO = Path(__file__).resolve().parents[2]


def relay_for(app: CounterApp, settings: Settings) -> OutboxRelay:
    return OutboxRelay(
        app, service=SERVICE, boundary=BOUNDARY, translate=translate, settings=settings
    )


def assert_exactly_once_in_order(messages: list, total: int) -> None:
    sequences = [int(m.headers["ce-sequence"]) for m in messages]
    assert len(sequences) == total, f"{len(sequences)} messages for {total} events"
    assert sequences == list(range(1, total + 1))
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [
        f"{SERVICE}-{n}" for n in range(1, total + 1)
    ]


@pytest.fixture
def app_settings(sqlite_settings: Settings, nats_url: str) -> Settings:
    return sqlite_settings.model_copy(
        update={"nats_urls": nats_url, "relay_batch": 300, "relay_idle_s": 0.01}
    )


@pytest.fixture
def app(app_settings: Settings) -> Iterator[CounterApp]:
    application = build_counter_app(app_settings)
    yield application
    application.close()


async def test_relay_publishes_every_event_once_in_order(
    app: CounterApp, app_settings: Settings, nats_url: str
) -> None:
    total = 2000
    app.fill(total)
    relay = relay_for(app, app_settings)

    async with running(relay.run):
        await eventually(lambda: relay.position == total, timeout=60)
        assert relay.lag() == 0

    messages = await read_stream(nats_url, STREAM)
    assert_exactly_once_in_order(messages, total)
    first = messages[0]
    assert first.subject == "evt.cyl.volunteers.test-counter-incremented"
    assert first.headers["ce-source"] == "/tongxin/counter"
    assert first.headers["ce-type"] == "org.tongxin.volunteers.test-counter-incremented.v1"
    assert first.headers["ce-department"] == "cyl"
    assert first.headers["ce-specversion"] == "1.0"
    assert app.recorder.max_tracking_id(RELAY_TRACKING) == total
    assert app.recorder.max_notification_id() == total


async def test_relay_picks_up_new_commands_and_a_restart_republishes_nothing(
    app: CounterApp, app_settings: Settings, nats_url: str
) -> None:
    counter_id = app.create("live")
    relay = relay_for(app, app_settings)
    async with running(relay.run):
        for _ in range(25):
            await asyncio.to_thread(app.increment, counter_id)
        await eventually(lambda: relay.position == 26)

    # A new relay (as after a restart) starts from the stored position.
    again = relay_for(app, app_settings)
    async with running(again.run):
        await asyncio.to_thread(app.increment, counter_id)
        await eventually(lambda: again.position == 27)

    assert_exactly_once_in_order(await read_stream(nats_url, STREAM), 27)


async def test_relay_does_not_republish_when_its_stored_position_is_behind(
    app: CounterApp, app_settings: Settings, nats_url: str
) -> None:
    """Even past the duplicate window, the stream's last message tells where to resume."""
    app.fill(100)
    async with running(relay_for(app, app_settings).run):
        await eventually(lambda: stream_last_seq(nats_url, STREAM))
        await eventually(lambda: app.recorder.max_tracking_id(RELAY_TRACKING) == 100, timeout=20)
    # Forget the stored position: a fresh store file with the same events would do the same.
    with app.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute("DELETE FROM tracking")
    assert not app.recorder.max_tracking_id(RELAY_TRACKING)
    app.fill(10)

    relay = relay_for(app, app_settings)
    async with running(relay.run):
        await eventually(lambda: relay.position == 110)

    assert_exactly_once_in_order(await read_stream(nats_url, STREAM), 110)


def _start_relay_process(state_dir: Path, url: str, batch: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.relay_process", str(state_dir), url, str(batch)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(10)


async def test_relay_killed_mid_stream_resumes_without_loss_or_duplicates(
    app: CounterApp, app_settings: Settings, nats_url: str
) -> None:
    total = 20_000
    app.fill(total, batch=2000)
    state_dir = Path(app_settings.state_dir)

    first = _start_relay_process(state_dir, nats_url, batch=200)
    try:
        await eventually(lambda: published(nats_url, 1000), timeout=60, interval=0.005)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        _stop(first)
    published_at_kill = await stream_last_seq(nats_url, STREAM)
    assert 0 < published_at_kill < total, "the relay was not killed mid-stream"

    second = _start_relay_process(state_dir, nats_url, batch=200)
    try:
        await eventually(lambda: published(nats_url, total), timeout=120)
        await eventually(
            lambda: (app.recorder.max_tracking_id(RELAY_TRACKING) or 0) >= total, timeout=30
        )
        assert second.poll() is None, second.stderr.read() if second.stderr else ""
    finally:
        _stop(second)

    assert_exactly_once_in_order(await read_stream(nats_url, STREAM), total)


async def test_an_error_acknowledgement_fails_the_batch_and_the_relay_resumes_once(
    app: CounterApp, app_settings: Settings, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A message the relay did not publish breaks its chain: the stream refuses the next."""
    counter_id = app.create("chained")
    for _ in range(9):
        app.increment(counter_id)
    relay = relay_for(app, app_settings)
    async with running(relay.run):
        await eventually(lambda: relay.position == 10)
        async with nats_client(nats_url) as nc:
            await nc.jetstream(timeout=5).publish("evt.cyl.volunteers.intruder", b"{}")
        for _ in range(5):
            await asyncio.to_thread(app.increment, counter_id)
        await eventually(lambda: relay.position == 15, timeout=60)

    # The refusal itself failed the batch (not a wait for acknowledgements that never came).
    assert any("wrong last msg ID" in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]
    messages = await read_stream(nats_url, STREAM)
    assert messages[10].subject == "evt.cyl.volunteers.intruder"
    ours = messages[:10] + messages[11:]
    assert_exactly_once_in_order(ours, 15)
    assert app.recorder.max_tracking_id(RELAY_TRACKING) == 15


async def published(url: str, at_least: int) -> bool:
    return await stream_last_seq(url, STREAM) >= at_least


async def test_commands_succeed_while_nats_is_down_and_everything_arrives_after(
    sqlite_settings: Settings, own_nats_server: NatsServer
) -> None:
    url = own_nats_server.url
    settings = sqlite_settings.model_copy(
        update={"nats_urls": url, "relay_batch": 50, "relay_idle_s": 0.01}
    )
    app = build_counter_app(settings)
    try:
        counter_id = app.create("outage")
        relay = relay_for(app, settings)
        async with running(relay.run):
            for _ in range(9):
                await asyncio.to_thread(app.increment, counter_id)
            await eventually(lambda: relay.position == 10)

            own_nats_server.stop()
            for _ in range(40):  # the service keeps accepting commands
                await asyncio.to_thread(app.increment, counter_id)
            assert app.count(counter_id) == 49
            assert app.recorder.max_notification_id() == 50
            await asyncio.sleep(0.5)  # let the relay run into the outage
            assert relay.position < 50

            own_nats_server.start()
            await eventually(lambda: relay.position == 50, timeout=60)

        assert_exactly_once_in_order(await read_stream(url, STREAM), 50)
    finally:
        app.close()


@pytest.mark.parametrize("outage", ["stop", "kill"])
async def test_nats_going_away_while_the_relay_publishes_a_backlog(
    sqlite_settings: Settings, own_nats_server: NatsServer, outage: str
) -> None:
    """NATS stopped or SIGKILLed in the middle of a large backlog: once, in order, after."""
    url = own_nats_server.url
    total = 20_000
    settings = sqlite_settings.model_copy(
        update={"nats_urls": url, "relay_batch": 200, "relay_idle_s": 0.01}
    )
    app = build_counter_app(settings)
    try:
        app.fill(total, batch=2000)
        relay = relay_for(app, settings)
        async with running(relay.run):
            await eventually(lambda: published(url, 2000), timeout=60, interval=0.005)
            getattr(own_nats_server, outage)()
            await asyncio.sleep(0.3)
            own_nats_server.start()
            await eventually(lambda: relay.position == total, timeout=120)

        assert_exactly_once_in_order(await read_stream(url, STREAM), total)
    finally:
        app.close()


@pytest.mark.parametrize("recorded", [True, False])
async def test_published_events_continue_the_commands_trace(
    app: CounterApp,
    app_settings: Settings,
    nats_url: str,
    recorded: bool,
    monkeypatch: pytest.MonkeyPatch,
    span_exporter: object,
) -> None:
    from opentelemetry import trace

    import services.kit.relay as relay_module
    from services.kit.tracecontext import traceparent_of

    monkeypatch.setattr(relay_module, "spans_recorded", lambda: recorded)
    with trace.get_tracer("test").start_as_current_span("command") as command:
        app.create("traced")
    relay = relay_for(app, app_settings)
    async with running(relay.run):
        await eventually(lambda: relay.position == 1, timeout=30)
    (message,) = await read_stream(nats_url, STREAM)
    published = message.headers["traceparent"]
    expected = traceparent_of(command)
    assert expected is not None
    assert published.split("-")[1] == expected.split("-")[1]  # one trace
    if recorded:
        assert published != expected, "the relay's producer span sits between them"
    else:
        assert published == expected, "no span of its own: the command's context travels on"
