"""The outbox relay: the notification log, in order, onto the service's JetStream stream.

Each stored event becomes a CloudEvent whose `Nats-Msg-Id` is derived from the
service name and the log position, so a batch republished after a crash or an
outage is dropped by the stream's duplicate window instead of stored twice. The
position is stored durably after every acknowledged batch, and on start the
relay also reads the stream's last message, so it never republishes what is
already there even when the duplicate window has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from eventsourcing.persistence import Notification, ProcessRecorder, Tracking
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from contracts.events import ContractEvent
from services.kit import bus
from services.kit.application import ServiceApplication
from services.kit.backoff import Backoff
from services.kit.eventstore import TracingMapper
from services.kit.outbox import OutboxEntry, OutboxRecorder, is_current
from services.kit.publish import AckInbox, PublishBatch
from services.kit.settings import Settings
from services.kit.stages import record
from services.kit.telemetry import spans_recorded
from services.kit.tracecontext import parent_context, traceparent_of
from services.kit.wakeup import listen_for_commits, watch_sqlite_commits
from services.kit.wire import binary_message, with_position

log = logging.getLogger(__name__)
tracer = trace.get_tracer("tongxin.relay")

RELAY_TRACKING = "relay:nats"
# Batches published but not yet acknowledged, at most.
PIPELINE_DEPTH = 2
# While every commit wakes the relay (LISTEN/NOTIFY, or saves in the same process), it
# still looks at the log this often: a lost notification delays an event, never loses it.
SAFETY_POLL_S = 2.0
# A batch not acknowledged in this time fails the pump: it restarts from the stored position.
ACK_TIMEOUT_S = 10.0
RETRY_CAP_S = 1.0
PUBLISHED = Counter("tongxin_relay_published_total", "Events published by the relay", ["service"])
LAG = Gauge("tongxin_relay_lag_events", "Stored events not yet published", ["service"])

Translate = Callable[[Any], ContractEvent | None]
Message = tuple[str, bytes, dict[str, str]]
# A batch read from the log: its last position (None: nothing new), its messages, and
# whether it was as long as allowed (more may follow at once).
Read = tuple[int | None, list[Message], bool]


def message_id(service: str, position: int) -> str:
    return f"{service}-{position}"


class OutboxRelay:
    """Publishes one application's stored events to JetStream; see the module docstring."""

    def __init__(
        self,
        app: ServiceApplication,
        *,
        service: str,
        boundary: str,
        translate: Translate,
        settings: Settings,
    ) -> None:
        self.app = app
        self.service = service
        self.boundary = boundary
        self.translate = translate
        self.settings = settings
        self.position = 0
        self.head = 0
        self.connected = False
        self._wakeup = asyncio.Event()
        # Set by the process that runs the relay beside its API: its saves call `poke`.
        self.woken_by_saves = False
        # Set by a relay's own process: the API saves in another one, so on SQLite the
        # relay watches the store's file for commits (PostgreSQL notifies every process).
        self.saves_elsewhere = False
        # Called with every poke, on the relay's loop: workers that care about commits too.
        self.on_poke: list[Callable[[], None]] = []
        self._listening = False
        # Each publish names the previous one's Nats-Msg-Id (Nats-Expected-Last-Msg-Id), so
        # the stream refuses a message unless the one before it is stored: after a reconnect,
        # publishes buffered by the client cannot land past a lost one. A new chain starts
        # after every (re)start, from the position read back from the stream.
        self._last_msg_id: str | None = None
        # The newest acknowledged position not yet being stored, and the task storing them.
        self._to_store: int | None = None
        self._storing: asyncio.Task[None] | None = None
        self._nc: Client | None = None
        self._inbox: AckInbox | None = None
        recorder = app.recorder
        assert isinstance(recorder, ProcessRecorder)
        self._recorder: ProcessRecorder = recorder
        mapper = app.mapper
        assert isinstance(mapper, TracingMapper)
        self._mapper = mapper
        self._source = source_of(service)

    def poke(self) -> None:
        """Wake the relay at once (thread-safe callers use `loop.call_soon_threadsafe`)."""
        self._wakeup.set()
        for follower in self.on_poke:
            follower()

    def lag(self) -> int:
        return max(0, self.head - self.position)

    def woken_on_commit(self) -> bool:
        """Whether every commit wakes the relay, so that polling is only a safety net."""
        return self._listening or (
            self.woken_by_saves and not self.saves_elsewhere and self.settings.store == "sqlite"
        )

    _pushed = woken_on_commit

    def _set_listening(self, listening: bool) -> None:
        self._listening = listening

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, surviving NATS and store outages."""
        # A JetStream leader election refuses publishes for a moment: retry within a second,
        # not after the kit's usual cap, so a failover costs little more than the election.
        backoff = Backoff(first=0.1, cap=RETRY_CAP_S)
        # The idle wait ends on a poke: stopping pokes too, so it is never waited out.
        stopping = asyncio.create_task(stop.wait())
        stopping.add_done_callback(lambda _: self.poke())
        listener = None
        if isinstance(self._recorder, PostgresApplicationRecorder):
            listener = asyncio.create_task(
                listen_for_commits(
                    self.settings,
                    self.service,
                    self._recorder.channel_name,
                    self.poke,
                    self._set_listening,
                )
            )
        elif self.saves_elsewhere and isinstance(self._recorder, SQLiteApplicationRecorder):
            listener = asyncio.create_task(
                watch_sqlite_commits(
                    self._recorder.datastore.pool.db_name,
                    self.service,
                    self.poke,
                    self._set_listening,
                )
            )
        try:
            while not stop.is_set():
                try:
                    js = await self._jetstream()
                    await self._catch_up_position(js)
                    backoff.reset()
                    await self._pump(js, stop)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.connected = False
                    log.warning("relay %s: %s; retrying in %.1fs", self.service, exc, backoff.delay)
                    await backoff.wait(stop)
        finally:
            stopping.cancel()
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(BaseException):
                    await listener
            with contextlib.suppress(Exception):  # Not left running past the relay.
                await self._stores_done()
        await self.close()

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.drain()
        self._nc = None
        self._inbox = None

    async def _jetstream(self) -> JetStreamContext:
        if self._nc is None or self._nc.is_closed:
            self._nc = await bus.connect(self.settings, f"{self.service}-relay")
            self._inbox = None
        if self._inbox is None:
            inbox = AckInbox(self._nc)
            await inbox.open()
            self._inbox = inbox
        js = self._nc.jetstream(timeout=5.0)
        await bus.ensure_stream(js, self.boundary, self.settings)
        self.connected = True
        return js

    async def _catch_up_position(self, js: JetStreamContext) -> None:
        with contextlib.suppress(Exception):  # A failed store: the stream tells the rest.
            await self._stores_done()
        stored = await asyncio.to_thread(self._recorder.max_tracking_id, RELAY_TRACKING)
        in_stream = await self._last_published(js)
        self.position = max(stored or 0, in_stream)

    async def _last_published(self, js: JetStreamContext) -> int:
        stream = bus.stream_name(self.boundary)
        info = await js.stream_info(stream)
        self._last_msg_id = None
        if not info.state.last_seq:
            return 0
        try:
            msg = await js.get_msg(stream, info.state.last_seq)
        except NotFoundError:
            return 0
        headers = msg.headers or {}
        sequence = headers.get("ce-sequence", "")
        # Trusted only when the message is provably ours: its id is derived from the position.
        if not sequence.isdigit() or headers.get("Nats-Msg-Id") != message_id(
            self.service, int(sequence)
        ):
            return 0
        return int(sequence)

    async def _pump(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        """Read and convert the next batch in a thread while the last one's acks are in flight.

        Batches are published in order on one connection; the position is stored
        only once every publish of a batch (and of all before it) is acknowledged.
        """
        inbox = self._inbox
        assert inbox is not None
        in_flight: deque[tuple[int, PublishBatch]] = deque()
        read_up_to = self.position  # the last position read and published (maybe unacked)
        reading: asyncio.Task[Read] | None = asyncio.create_task(
            asyncio.to_thread(self._prepare, read_up_to)
        )
        try:
            while not stop.is_set():
                if reading is None:
                    await self._await_commit(in_flight)
                    # Cleared before the read: a commit after this wakes the next wait, and
                    # one before it is in what is read now (no poke can fall in between).
                    self._wakeup.clear()
                    reading = asyncio.create_task(asyncio.to_thread(self._prepare, read_up_to))
                last, messages, full = await reading
                reading = None
                if last is None:
                    # Nothing beyond what was read: the log's head is there.
                    self.head = max(self.head, read_up_to)
                    continue
                read_up_to = last
                if full or not self._pushed():
                    # More may be there already: read it while this batch is published. A
                    # short batch was the whole log, and the next commit will wake the relay.
                    reading = asyncio.create_task(asyncio.to_thread(self._prepare, last))
                record("relay-read", (headers["ce-sequence"] for _, _, headers in messages))
                batch = inbox.batch()
                # In flight before the first publish: a failed one is forgotten with the rest.
                in_flight.append((last, batch))
                for subject, payload, headers in messages:
                    if self._last_msg_id:
                        # The message's own headers: made for this publish, used once.
                        headers["Nats-Expected-Last-Msg-Id"] = self._last_msg_id
                    await inbox.publish(batch, subject, payload, headers)
                    self._last_msg_id = headers["Nats-Msg-Id"]
                inbox.seal(batch)
                await self._settle(in_flight, keep=PIPELINE_DEPTH)
            await self._settle(in_flight, keep=0)
            await self._stores_done()
        finally:
            if reading is not None:
                reading.cancel()
                with contextlib.suppress(BaseException):
                    await reading
            _abandon(in_flight, inbox)

    async def _await_commit(self, in_flight: deque[tuple[int, PublishBatch]]) -> None:
        """Wait for a commit's wake-up (or the idle poll), settling acks as they come.

        A commit is read at once even while acknowledgements (and the position's store
        after each) are pending: under a steady trickle of commands, each event would
        otherwise wait for the previous one's ack and its position's commit.
        """
        loop = asyncio.get_running_loop()
        idle = SAFETY_POLL_S if self._pushed() else self.settings.relay_idle_s
        until = loop.time() + idle
        woken = asyncio.ensure_future(self._wakeup.wait())
        try:
            while in_flight and not woken.done():
                oldest = in_flight[0][1].future
                await asyncio.wait(
                    (woken, oldest), timeout=ACK_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
                )
                if oldest.done():
                    await self._settle(in_flight, keep=len(in_flight) - 1)
                elif not woken.done():
                    raise TimeoutError(f"no acknowledgement within {ACK_TIMEOUT_S:.0f} s")
            self._check_stores()
            left = until - loop.time()
            if not woken.done() and left > 0:
                await asyncio.wait((woken,), timeout=left)
        finally:
            woken.cancel()

    async def _settle(self, in_flight: deque[tuple[int, PublishBatch]], *, keep: int) -> None:
        """Wait for the oldest batches' acks until at most `keep` remain; store the position."""
        while len(in_flight) > keep:
            last, batch = in_flight[0]
            # Shielded: a timeout leaves the batch to `_abandon`, which forgets it.
            await asyncio.wait_for(asyncio.shield(batch.future), timeout=ACK_TIMEOUT_S)
            in_flight.popleft()
            record("relay-acked", (last,))
            self.head = max(self.head, last)
            PUBLISHED.labels(self.service).inc(batch.size)
            self._store_position(last)

    def _store_position(self, last: int) -> None:
        """Store an acknowledged position in the background: reading and publishing what
        comes next does not wait for that commit. Only the newest position waiting is
        stored; a failed store fails the pump at its next wait (`_check_stores`)."""
        self._check_stores()
        self._to_store = last
        if self._storing is None:
            self._storing = asyncio.create_task(self._store_positions())

    async def _store_positions(self) -> None:
        while self._to_store is not None:
            last, self._to_store = self._to_store, None
            await asyncio.to_thread(self._recorder.insert_tracking, Tracking(RELAY_TRACKING, last))
            self.position = max(self.position, last)
            LAG.labels(self.service).set(self.lag())

    def _check_stores(self) -> None:
        """Raise the failure of the last position's store, if it failed."""
        storing = self._storing
        if storing is not None and storing.done():
            self._storing = None
            if not storing.cancelled():
                storing.result()

    async def _stores_done(self) -> None:
        """Until every acknowledged position is stored (raising a store's failure)."""
        storing = self._storing
        if storing is not None:
            try:
                await asyncio.shield(storing)
            finally:
                if storing.done() and self._storing is storing:
                    self._storing = None

    def _prepare(self, after: int) -> Read:
        """The next batch after a position, as NATS messages, and whether it was a full one
        (runs in a worker thread)."""
        limit = self.settings.relay_batch
        if not isinstance(self._recorder, OutboxRecorder):
            batch = self._recorder.select_notifications(after, limit, inclusive_of_start=False)
            if not batch:
                return None, [], False
            messages = [m for n in batch if (m := self._message(n)) is not None]
            return batch[-1].id, messages, len(batch) >= limit
        entries = self._recorder.select_outbox(after, limit)
        if not entries:
            return None, [], False
        return (
            entries[-1].notification_id,
            [m for e in entries if (m := self._stored_message(e)) is not None],
            len(entries) >= limit,
        )

    def _stored_message(self, entry: OutboxEntry) -> Message | None:
        """The message of a form written with the event; converted here when there is none."""
        form = entry.form
        if form is None or (form.subject is not None and not is_current(form)):
            return self._message(self._notification(entry))
        if form.subject is None or form.headers is None or form.body is None:
            return None
        mid = message_id(self.service, entry.notification_id)
        headers = with_position(orjson.loads(form.headers), mid, entry.notification_id)
        if spans_recorded():
            traceparent = _producer_span(
                form.subject, headers.pop("traceparent", None), entry.notification_id
            )
            if traceparent:
                headers["traceparent"] = traceparent
        return form.subject, form.body, headers

    def _notification(self, entry: OutboxEntry) -> Notification:
        if entry.state is not None and entry.topic is not None:
            state, topic = entry.state, entry.topic
        else:  # A form made with another version of its contract: read the event again.
            (stored,) = self._recorder.select_events(
                entry.originator_id,
                gt=entry.originator_version - 1,
                lte=entry.originator_version,
            )
            state, topic = stored.state, stored.topic
        return Notification(
            id=entry.notification_id,
            originator_id=entry.originator_id,
            originator_version=entry.originator_version,
            topic=topic,
            state=state,
        )

    def _message(self, notification: Notification) -> Message | None:
        """Read-time conversion: decode the stored event, translate and serialise it."""
        domain_event, traceparent = self._mapper.to_domain_event_with_trace(notification)
        contract = self.translate(domain_event)
        if contract is None:
            return None
        if spans_recorded():
            traceparent = _producer_span(type(contract).subject(), traceparent, notification.id)
        # Otherwise the command's own traceparent travels on: consumers continue its trace.
        return binary_message(
            contract,
            id=message_id(self.service, notification.id),
            source=self._source,
            subject=str(notification.originator_id),
            time=getattr(domain_event, "timestamp", None) or datetime.now(UTC),
            sequence=notification.id,
            traceparent=traceparent,
        )


def _producer_span(subject: str, traceparent: str | None, position: int) -> str | None:
    """A producer span, child of the command's; the traceparent the message carries on.

    It is started and ended here without becoming the current span: attaching and
    detaching the context for every event cost as much as publishing.
    """
    span = tracer.start_span(
        f"publish {subject}",
        context=parent_context(traceparent),
        kind=trace.SpanKind.PRODUCER,
        attributes={"messaging.system": "nats", "tongxin.position": position},
    )
    span.end()
    return traceparent_of(span)


def source_of(service: str) -> str:
    return f"/tongxin/{service}"


def _abandon(in_flight: deque[tuple[int, PublishBatch]], inbox: AckInbox) -> None:
    """Forget acks that will never be waited for (the batch is published again on restart).

    Their errors are expected after a failover; retrieving them keeps asyncio from logging
    each one as "exception was never retrieved".
    """
    for _, batch in in_flight:
        batch.future.add_done_callback(_retrieve)
        inbox.forget(batch)
    in_flight.clear()


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
