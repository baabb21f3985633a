"""Durable consumers against a real nats-server: once, idempotent, dead letters, traces."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts import registry
from contracts.checks import BackgroundCheckCompleted
from contracts.volunteers import VolunteerSignedUp
from services.kit import application
from services.kit.application import Decision
from services.kit.bus import DEAD_LETTER_STREAM, ensure_stream
from services.kit.consumer import Consumer, Delivered
from services.kit.errors import ConflictError
from services.kit.relay import OutboxRelay
from services.kit.settings import Settings
from services.kit.transient import TransientError
from services.kit.wire import envelope_for, from_headers
from tests.support import eventually
from tests.support.counter import (
    BOUNDARY,
    SERVICE,
    Counter,
    CounterApp,
    CounterIncremented,
    build_counter_app,
    translate,
)
from tests.support.projection import CounterProjection
from tests.support.streams import nats_client, read_stream, running

pytestmark = pytest.mark.timeout(120)

STREAM = "VOLUNTEERS"
SUBJECT = CounterIncremented.subject()
CONSUMER = "counter-projection"


@pytest.fixture
def counter_event_registered() -> Iterator[None]:
    """Let wire.py decode the test-only event type for the length of a test."""
    event_type = CounterIncremented.event_type()
    registry.BY_TYPE[event_type] = CounterIncremented
    try:
        yield
    finally:
        registry.BY_TYPE.pop(event_type, None)


@pytest.fixture
def settings(sqlite_settings: Settings, nats_url: str, counter_event_registered: None) -> Settings:
    return sqlite_settings.model_copy(
        update={
            "nats_urls": nats_url,
            "relay_batch": 100,
            "relay_idle_s": 0.01,
            "consumer_batch": 50,
            "consumer_max_deliver": 2,
            "consumer_ack_wait_s": 5.0,
        }
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[CounterApp]:
    application = build_counter_app(settings)
    yield application
    application.close()


def relay_for(app: CounterApp, settings: Settings) -> OutboxRelay:
    return OutboxRelay(
        app, service=SERVICE, boundary=BOUNDARY, translate=translate, settings=settings
    )


def consumer_for(projection: CounterProjection, settings: Settings) -> Consumer:
    return Consumer(name=CONSUMER, boundary=BOUNDARY, projection=projection, settings=settings)


async def test_a_projection_receives_every_event_once(
    app: CounterApp, settings: Settings, tmp_path: Path
) -> None:
    app.fill(300)
    projection = CounterProjection(tmp_path / "projection.sqlite3")
    relay = relay_for(app, settings)
    async with running(relay.run):
        consumer = consumer_for(projection, settings)
        async with running(consumer.run):
            await eventually(lambda: projection.count() == 300, timeout=30)
        # Restarted (same durable), it continues from where it stopped.
        for _ in range(20):
            await asyncio.to_thread(app.increment, app.create("more"))
        consumer = consumer_for(projection, settings)
        async with running(consumer.run):
            await eventually(lambda: projection.count() == 340, timeout=30)

    rows = projection.rows()
    assert [seq for seq, *_ in rows] == list(range(1, 341))
    assert len({event_id for _, event_id, *_ in rows}) == 340
    assert projection.position(CONSUMER) == 340


async def test_redelivering_a_batch_changes_nothing(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    app.fill(50)
    async with running(relay_for(app, settings).run):
        await eventually(lambda: _stream_count(nats_url, STREAM, 50))
    messages = await read_stream(nats_url, STREAM)
    batch = [Delivered(m.seq, from_headers(m.headers, m.data)) for m in messages]
    projection = CounterProjection(tmp_path / "projection.sqlite3")
    projection.apply(CONSUMER, batch)
    before = projection.rows()

    projection.apply(CONSUMER, batch)  # the same batch again
    projection.apply(CONSUMER, batch[10:20])  # a part of it again

    assert projection.rows() == before
    assert len(before) == 50
    assert projection.position(CONSUMER) == 50


async def _stream_count(url: str, stream: str, at_least: int) -> bool:
    async with nats_client(url) as nc:
        try:
            info = await nc.jetstream().stream_info(stream)
        except NotFoundError:
            return False
        return int(info.state.messages or 0) >= at_least


async def test_a_poison_message_is_dead_lettered_and_later_events_apply(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    good = app.create("good")
    poison = app.create("poison")  # stream seq 2
    for _ in range(5):
        app.increment(good)  # seqs 3..7
    projection = CounterProjection(tmp_path / "projection.sqlite3", fail_on={str(poison)})

    async with running(relay_for(app, settings).run):
        consumer = consumer_for(projection, settings)
        async with running(consumer.run):
            await eventually(lambda: projection.count() == 6, timeout=30)
            dead = await eventually(lambda: _dead_letters(nats_url), timeout=30)

    assert [seq for seq, *_ in projection.rows()] == [1, 3, 4, 5, 6, 7]
    assert projection.attempts[str(poison)] >= settings.consumer_max_deliver
    assert len(dead) == 1
    letter = dead[0]
    assert letter.subject == f"dlq.{CONSUMER}.{SUBJECT}"
    assert letter.headers["tongxin-dlq-stream-seq"] == "2"
    assert letter.headers["tongxin-dlq-consumer"] == CONSUMER
    assert letter.headers["tongxin-dlq-subject"] == SUBJECT
    assert "PoisonError" in letter.headers["tongxin-dlq-error"]
    assert letter.headers["ce-subject"] == str(poison)


async def _dead_letters(url: str) -> list:
    try:
        return await read_stream(url, DEAD_LETTER_STREAM)
    except Exception:  # noqa: BLE001 - the stream may not exist yet
        return []


@pytest.mark.parametrize(
    "headers",
    [
        None,  # no CloudEvents attributes at all
        {
            "ce-specversion": "1.0",
            "ce-id": "garbage-1",
            "ce-source": "/somewhere",
            "ce-type": CounterIncremented.event_type(),
        },  # valid attributes, body not JSON
    ],
    ids=["no-headers", "garbage-body"],
)
async def test_a_malformed_message_is_dead_lettered_at_once_and_later_events_apply(
    app: CounterApp,
    settings: Settings,
    nats_url: str,
    tmp_path: Path,
    headers: dict[str, str] | None,
) -> None:
    counter_id = app.create("first")  # seq 1
    projection = CounterProjection(tmp_path / "projection.sqlite3")
    relay = relay_for(app, settings)
    async with running(relay.run):
        await eventually(lambda: relay.position == 1)
        async with nats_client(nats_url) as nc:
            await nc.jetstream().publish(SUBJECT, b"\x00 not json {", headers=headers)  # seq 2
        for _ in range(3):
            await asyncio.to_thread(app.increment, counter_id)  # seqs 3..5
        await eventually(lambda: _stream_count(nats_url, STREAM, 5), timeout=30)

        async with running(
            consumer_for(projection, settings.model_copy(update={"consumer_max_deliver": 50})).run
        ):
            await eventually(lambda: projection.count() == 4, timeout=30)
            dead = await eventually(lambda: _dead_letters(nats_url), timeout=30)

    assert [seq for seq, *_ in projection.rows()] == [1, 3, 4, 5]
    assert len(dead) == 1
    assert dead[0].headers["tongxin-dlq-stream-seq"] == "2"
    assert "MalformedEventError" in dead[0].headers["tongxin-dlq-error"]
    assert dead[0].data == b"\x00 not json {"


async def test_one_trace_spans_command_relay_and_consumer(
    app: CounterApp, settings: Settings, tmp_path: Path, span_exporter: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("POST /counters") as root:
        counter_id = await asyncio.to_thread(_create_in_context, app)
    trace_id = root.get_span_context().trace_id
    projection = CounterProjection(tmp_path / "projection.sqlite3")

    async with (
        running(relay_for(app, settings).run),
        running(consumer_for(projection, settings).run),
    ):
        await eventually(lambda: projection.count() == 1, timeout=30)

    spans = span_exporter.get_finished_spans()
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}
    assert "POST /counters" in names
    assert f"publish {SUBJECT}" in names, sorted(s.name for s in spans)
    assert f"process {CounterIncremented.event_type()}" in names, sorted(s.name for s in spans)
    publish = next(s for s in in_trace if s.name.startswith("publish "))
    process = next(s for s in in_trace if s.name.startswith("process "))
    assert publish.parent is not None and publish.parent.span_id == root.get_span_context().span_id
    assert process.parent is not None and process.parent.span_id == publish.context.span_id
    assert projection.rows()[0][2] == str(counter_id)


def _create_in_context(app: CounterApp) -> object:
    return app.create("traced")


class RecordingProjection(CounterProjection):
    """A counter projection that remembers every stream sequence it was asked to apply."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.offered: list[int] = []

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        self.offered += [delivered.stream_seq for delivered in events]
        super().apply(consumer, events)


async def _durable_deliveries(url: str) -> int:
    """How many deliveries (redeliveries included) the durable has made."""
    async with nats_client(url) as nc:
        info = await nc.jetstream().consumer_info(STREAM, CONSUMER)
    assert info.delivered is not None
    return int(info.delivered.consumer_seq)


async def test_a_lost_projection_is_fed_again_from_its_own_position(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    app.fill(30)
    first = CounterProjection(tmp_path / "first.sqlite3")
    async with running(relay_for(app, settings).run):
        async with running(consumer_for(first, settings).run):
            await eventually(lambda: first.count() == 30, timeout=30)

        # The read model is lost (a new pod, a deleted file); the durable still exists and
        # has everything acknowledged. A fresh projection under the same name gets it all.
        fresh = RecordingProjection(tmp_path / "fresh.sqlite3")
        async with running(consumer_for(fresh, settings).run):
            await eventually(lambda: fresh.count() == 30, timeout=30)
        assert [seq for seq, *_ in fresh.rows()] == list(range(1, 31))
        assert fresh.position(CONSUMER) == 30

        # A projection restored from an older copy resumes after its own position.
        messages = await read_stream(nats_url, STREAM)
        older = RecordingProjection(tmp_path / "older.sqlite3")
        older.apply(
            CONSUMER, [Delivered(m.seq, from_headers(m.headers, m.data)) for m in messages[:12]]
        )
        older.offered.clear()
        async with running(consumer_for(older, settings).run):
            await eventually(lambda: older.count() == 30, timeout=30)
        assert older.offered == list(range(13, 31))
        assert [seq for seq, *_ in older.rows()] == list(range(1, 31))


async def test_a_restarted_consumer_with_its_projection_intact_receives_nothing_twice(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    app.fill(20)
    projection = RecordingProjection(tmp_path / "projection.sqlite3")
    async with running(relay_for(app, settings).run):
        async with running(consumer_for(projection, settings).run):
            await eventually(lambda: projection.count() == 20, timeout=30)
        assert await _durable_deliveries(nats_url) == 20

        counter_id = await asyncio.to_thread(app.create, "later")
        for _ in range(4):
            await asyncio.to_thread(app.increment, counter_id)
        async with running(consumer_for(projection, settings).run):
            await eventually(lambda: projection.count() == 25, timeout=30)

    assert projection.offered == list(range(1, 26))
    # The durable was kept, not recreated, and delivered each message exactly once.
    assert await _durable_deliveries(nats_url) == 25


async def test_a_durable_deleted_for_idling_is_recreated_at_the_projections_position(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    # Replaced gateway pods leave durables behind; JetStream removes them once idle.
    idle_s = 1.0
    settings = settings.model_copy(update={"consumer_inactive_s": idle_s})
    app.fill(10)
    projection = RecordingProjection(tmp_path / "projection.sqlite3")
    async with running(relay_for(app, settings).run):
        async with running(consumer_for(projection, settings).run):
            await eventually(lambda: projection.count() == 10, timeout=30)
        async with nats_client(nats_url) as nc:
            info = await nc.jetstream().consumer_info(STREAM, CONSUMER)
            assert info.config.inactive_threshold == pytest.approx(idle_s)

        async def deleted() -> bool:
            async with nats_client(nats_url) as nc:
                try:
                    await nc.jetstream().consumer_info(STREAM, CONSUMER)
                except NotFoundError:
                    return True
            return False

        await eventually(deleted, timeout=30)
        app.fill(5)
        projection.offered.clear()
        async with running(consumer_for(projection, settings).run):
            await eventually(lambda: projection.count() == 15, timeout=30)
    assert projection.offered == list(range(11, 16))


def _check_completed(volunteer_id: str) -> BackgroundCheckCompleted:
    return BackgroundCheckCompleted(
        check_id=f"check-{volunteer_id[:8]}",
        volunteer_id=volunteer_id,
        outcome="failed",
        completed_at=datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
    )


async def test_an_event_off_its_own_boundary_is_dead_lettered_with_the_reason(
    settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    # Public security may publish into evt.pol.checks.>, and nowhere else; NATS checks
    # only the subject, so whatever type it names there must be a checks type.
    good, forged_type, forged_department, later = (str(uuid4()) for _ in range(4))
    impostor = VolunteerSignedUp(shift_id=str(uuid4()), volunteer_id=forged_type, places_filled=1)
    messages = [
        envelope_for(_check_completed(good), id="pol-1", source="/pol", subject=good).headers(),
        envelope_for(impostor, id="pol-2", source="/pol", subject=forged_type).headers(),
        envelope_for(
            _check_completed(forged_department), id="pol-3", source="/pol", subject=None
        ).headers()
        | {"ce-department": "cyl"},
        envelope_for(_check_completed(later), id="pol-4", source="/pol", subject=later).headers(),
    ]
    bodies = [
        _check_completed(good).model_dump_json().encode(),
        impostor.model_dump_json().encode(),
        _check_completed(forged_department).model_dump_json().encode(),
        _check_completed(later).model_dump_json().encode(),
    ]
    subject = BackgroundCheckCompleted.subject()
    async with nats_client(nats_url) as nc:
        js = nc.jetstream()
        await ensure_stream(js, "checks", settings)
        for headers, body in zip(messages, bodies, strict=True):
            await js.publish(subject, body, headers=headers)

    projection = CheckProjection(tmp_path / "checks.sqlite3")
    consumer = Consumer(
        name="checks-reader", boundary="checks", projection=projection, settings=settings
    )
    async with running(consumer.run):
        await eventually(lambda: projection.count() == 2, timeout=30)
        dead = await eventually(lambda: _dead_letters_of(nats_url, 2), timeout=30)

    assert projection.volunteers == [good, later]
    assert [letter.headers["tongxin-dlq-stream-seq"] for letter in dead] == ["2", "3"]
    assert all("MisroutedEventError" in letter.headers["tongxin-dlq-error"] for letter in dead)
    reasons = [letter.headers["tongxin-dlq-error"] for letter in dead]
    assert "belongs to boundary 'volunteers'" in reasons[0] and subject in reasons[0]
    assert "ce-department 'cyl'" in reasons[1]


async def _dead_letters_of(url: str, at_least: int) -> list:
    letters = await _dead_letters(url)
    return letters if len(letters) >= at_least else []


class CheckProjection(CounterProjection):
    """Remembers, in order, the volunteers whose checks it applied."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.volunteers: list[str] = []

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        super().apply(consumer, events)
        self.volunteers += [str(getattr(d.envelope.data, "volunteer_id", "")) for d in events]


class LockedOutProjection(CounterProjection):
    """A counter projection that waits only briefly for SQLite's lock, and counts refusals."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.refused = 0

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=0.05, isolation_level=None)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        try:
            super().apply(consumer, events)
        except sqlite3.OperationalError:
            self.refused += 1
            raise


async def test_a_locked_read_model_holds_events_back_and_loses_none(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    app.fill(10)
    path = tmp_path / "projection.sqlite3"
    projection = LockedOutProjection(path)
    # Another process (a rebuild, a backup) holds the read model's write lock for longer
    # than the consumer's max_deliver (2) deliveries take.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        async with running(relay_for(app, settings).run):
            await eventually(lambda: _stream_count(nats_url, STREAM, 10), timeout=30)
            async with running(consumer_for(projection, settings).run):
                await eventually(
                    lambda: projection.refused > settings.consumer_max_deliver + 1, timeout=30
                )
                holder.execute("ROLLBACK")
                await eventually(lambda: projection.count() == 10, timeout=30)
    finally:
        holder.close()

    assert [seq for seq, *_ in projection.rows()] == list(range(1, 11))
    assert await _dead_letters(nats_url) == []


class MyReadModelBusy(TransientError):
    """How a projection names a failure of its own that will pass."""


def _version_conflict() -> Exception:
    return IntegrityError("duplicate key value violates unique constraint (originator_version)")


def _postgres_away() -> Exception:
    return psycopg.OperationalError("server closed the connection unexpectedly")


def _declared_by_the_projection() -> Exception:
    try:
        raise KeyError("the cache is being refilled")
    except KeyError as exc:
        try:
            raise MyReadModelBusy("try again shortly") from exc
        except MyReadModelBusy as declared:
            return declared


class FailingFirstProjection(CounterProjection):
    """Fails the first `times` attempts to apply one counter's events with `error()`."""

    def __init__(
        self, path: Path, counter_id: str, error: Callable[[], Exception], times: int
    ) -> None:
        super().__init__(path)
        self.counter_id, self.error, self.left = counter_id, error, times

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        if self.left and any(
            str(getattr(d.envelope.data, "counter_id", "")) == self.counter_id for d in events
        ):
            self.left -= 1
            raise self.error()
        super().apply(consumer, events)


@pytest.mark.parametrize(
    "error",
    [_version_conflict, _postgres_away, _declared_by_the_projection],
    ids=["eventsourcing-integrity", "psycopg-operational", "projections-own-transient"],
)
async def test_a_transient_failure_is_retried_in_order_and_never_dead_lettered(
    app: CounterApp,
    settings: Settings,
    nats_url: str,
    tmp_path: Path,
    error: Callable[[], Exception],
) -> None:
    first = app.create("first")  # seq 1
    flaky = app.create("flaky")  # seq 2
    for _ in range(3):
        app.increment(first)  # seqs 3..5
    # More failures than the consumer's max_deliver (2) would allow a poison message.
    projection = FailingFirstProjection(tmp_path / "p.sqlite3", str(flaky), error, times=4)

    async with (
        running(relay_for(app, settings).run),
        running(consumer_for(projection, settings).run),
    ):
        await eventually(lambda: projection.count() == 5, timeout=60)

    assert projection.left == 0
    assert [seq for seq, *_ in projection.rows()] == [1, 2, 3, 4, 5]
    assert await _dead_letters(nats_url) == []


def storming(app: CounterApp, counter_id: UUID) -> Decision:
    """Increment a counter while a concurrent command always wins the version race."""
    mine: Counter = app.get(counter_id, Counter)
    mine.increment()
    app.increment(counter_id)
    return [mine], {}


async def test_a_reaction_under_a_version_conflict_storm_is_retried_not_dead_lettered(
    app: CounterApp,
    settings: Settings,
    nats_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reaction's own store, so the storm's writes stay off the consumed stream.
    own = build_counter_app(settings.model_copy(update={"state_dir": tmp_path / "reaction"}))
    target = own.create("contended")
    monkeypatch.setattr(application, "CONFLICT_BUDGET_S", 0.0)

    def conflict_storm() -> Exception:
        try:
            own.run_command(None, lambda: storming(own, target))
        except ConflictError as exc:
            return exc
        raise AssertionError("the storm did not conflict")

    first = app.create("first")  # seq 1
    flaky = app.create("flaky")  # seq 2
    for _ in range(3):
        app.increment(first)  # seqs 3..5
    # More failures than the consumer's max_deliver (2) would allow a poison message.
    projection = FailingFirstProjection(tmp_path / "p.sqlite3", str(flaky), conflict_storm, 4)
    try:
        async with (
            running(relay_for(app, settings).run),
            running(consumer_for(projection, settings).run),
        ):
            await eventually(lambda: projection.count() == 5, timeout=60)
    finally:
        own.close()

    assert projection.left == 0
    assert [seq for seq, *_ in projection.rows()] == [1, 2, 3, 4, 5]
    assert await _dead_letters(nats_url) == []


class TrackedProjection(CounterProjection):
    """Refuses, as eventsourcing's tracking records do, a position it has already recorded.

    The first time it is asked, another process (a second replica) gets there first.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.raced = False

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        if not self.raced:
            self.raced = True
            super().apply(consumer, events)  # the other process's transaction
        if events[0].stream_seq <= self.position(consumer):
            raise IntegrityError(f"tracking record {consumer} {events[0].stream_seq} exists")
        super().apply(consumer, events)


async def test_events_another_process_applied_meanwhile_are_acknowledged_not_retried(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    app.fill(5)
    projection = TrackedProjection(tmp_path / "p.sqlite3")
    async with running(relay_for(app, settings).run):
        await eventually(lambda: _stream_count(nats_url, STREAM, 5), timeout=30)
        consumer = consumer_for(projection, settings)
        async with running(consumer.run):
            await eventually(lambda: consumer.pending == 0 and consumer.position == 5, timeout=30)
        app.fill(1)
        async with running(consumer.run):
            await eventually(lambda: projection.count() == 6, timeout=30)

    assert [seq for seq, *_ in projection.rows()] == list(range(1, 7))
    assert await _dead_letters(nats_url) == []
    assert await _durable_ack_floor(nats_url) == 6


async def _durable_ack_floor(url: str) -> int:
    async with nats_client(url) as nc:
        info = await nc.jetstream().consumer_info(STREAM, CONSUMER)
    assert info.ack_floor is not None
    return int(info.ack_floor.stream_seq)


async def test_a_durable_acknowledging_each_message_is_recreated_to_acknowledge_per_batch(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    """The durable of an earlier version (AckPolicy.EXPLICIT) is migrated without a loss."""
    from nats.js.api import AckPolicy, ConsumerConfig

    app.fill(60)
    projection = CounterProjection(tmp_path / "projection.sqlite3")
    async with running(relay_for(app, settings).run):
        await eventually(lambda: _stream_count(nats_url, STREAM, 60))
    # Applied up to 30 with the old durable, which acknowledged 1-30 one by one.
    async with nats_client(nats_url) as nc:
        js = nc.jetstream()
        old = await js.pull_subscribe(
            SUBJECT,
            durable=CONSUMER,
            stream=STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_deliver=-1),
        )
        messages = await old.fetch(30, timeout=5)
        projection.apply(
            CONSUMER,
            [
                Delivered(m.metadata.sequence.stream, from_headers(m.headers, m.data))
                for m in messages
            ],
        )
        for msg in messages:
            await msg.ack()

    consumer = consumer_for(projection, settings)
    async with running(consumer.run):
        await eventually(lambda: projection.count() == 60, timeout=30)
    async with nats_client(nats_url) as nc:
        info = await nc.jetstream().consumer_info(STREAM, CONSUMER)
    assert info.config.ack_policy == AckPolicy.ALL
    assert [seq for seq, *_ in projection.rows()] == list(range(1, 61))
    assert int(info.ack_floor.stream_seq) == 60, "the last batch's ack covers all before it"


def _lose_in_flight(monkeypatch: pytest.MonkeyPatch, stream_seqs: set[int]) -> list[int]:
    """Drop the first delivery of each of these stream sequences on its way to the client.

    What a pull request that expired with messages on the wire, or a NATS node that died
    with a batch in flight, does: the durable counts the message as delivered, the client
    never sees it. Returns the sequences dropped so far.
    """
    from nats.aio.client import Client

    dropped: list[int] = []
    deliver = Client._process_msg

    async def process_msg(
        self: Client, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes
    ) -> None:
        tokens = reply.split(b".") if reply.startswith(b"$JS.ACK.") else []
        if len(tokens) == 9 and tokens[3] == CONSUMER.encode():
            seq = int(tokens[5])
            if seq in stream_seqs and seq not in dropped:
                dropped.append(seq)
                return
        await deliver(self, sid, subject, reply, data, headers)

    monkeypatch.setattr(Client, "_process_msg", process_msg)
    return dropped


async def test_a_delivery_lost_on_the_way_is_never_covered_by_a_later_acknowledgement(
    app: CounterApp,
    settings: Settings,
    nats_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.fill(12)
    async with running(relay_for(app, settings).run):
        await eventually(lambda: _stream_count(nats_url, STREAM, 12), timeout=30)
    dropped = _lose_in_flight(monkeypatch, {1, 5, 12})
    projection = RecordingProjection(tmp_path / "projection.sqlite3")
    consumer = consumer_for(projection, settings.model_copy(update={"consumer_batch": 3}))
    async with running(consumer.run):
        # 12, the last, shows missing only when redelivered (ack wait) with a later number.
        await eventually(lambda: consumer.position == 12, timeout=30)
        app.fill(2)
        async with running(relay_for(app, settings).run):
            await eventually(lambda: projection.count() == 14, timeout=30)

    assert dropped == [1, 5, 12]
    assert [seq for seq, *_ in projection.rows()] == list(range(1, 15))
    # Nothing was offered out of order, and nothing past a gap before it was filled.
    assert projection.offered == sorted(projection.offered)
    assert await _durable_ack_floor(nats_url) == 14


async def test_a_consumer_at_rest_holds_one_pull_request_that_a_new_event_or_stop_ends(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    # A request far longer than this test: an event or a stop must not wait for its end.
    settings = settings.model_copy(update={"consumer_idle_wait_s": 600.0})
    app.fill(3)
    projection = CounterProjection(tmp_path / "projection.sqlite3")
    async with running(relay_for(app, settings).run):
        consumer = consumer_for(projection, settings)
        async with running(consumer.run, stop_timeout=30):
            await eventually(lambda: projection.count() == 3, timeout=30)

            async def waiting_requests() -> int:
                async with nats_client(nats_url) as nc:
                    info = await nc.jetstream().consumer_info(STREAM, CONSUMER)
                return int(info.num_waiting or 0)

            # Caught up, the consumer asks the server once, not twice a second.
            await eventually(lambda: _equals(waiting_requests(), 1), timeout=30)
            await asyncio.sleep(2 * settings.consumer_heartbeat_s)
            assert await waiting_requests() == 1
            app.fill(1)
            await eventually(lambda: projection.count() == 4, timeout=60)
    assert [seq for seq, *_ in projection.rows()] == [1, 2, 3, 4]


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_durable_deleted_under_a_running_consumer_is_made_again_and_loses_nothing(
    app: CounterApp, settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    app.fill(5)
    projection = RecordingProjection(tmp_path / "projection.sqlite3")
    async with running(relay_for(app, settings).run):
        consumer = consumer_for(projection, settings)
        async with running(consumer.run):
            await eventually(lambda: projection.count() == 5, timeout=30)
            # An operator (or the idle threshold) removes it while its pull request waits.
            async with nats_client(nats_url) as nc:
                await nc.jetstream().delete_consumer(STREAM, CONSUMER)
            app.fill(3)
            await eventually(lambda: projection.count() == 8, timeout=30)
    assert projection.offered == list(range(1, 9))
    assert await _durable_ack_floor(nats_url) == 8
