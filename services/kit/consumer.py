"""Durable JetStream consumers that apply events idempotently, in order, in batches.

A `Projection` stores the stream position it has applied in the same
transaction as the state it changes, so a redelivered message changes nothing.
Delivery rules:
- a batch is applied in one transaction; if that fails, messages are applied one
  by one to find the one that fails;
- a transient failure (`services.kit.transient`: the database locked or away, a
  version conflict, the network gone, or a projection's own `TransientError`) naks
  the message and the rest of the batch with a growing delay, and is retried, in
  order, for as long as it takes: it is never dead-lettered;
- any other failure is retried up to `consumer_max_deliver` deliveries, then the
  message goes to the dead-letter stream and later messages apply;
- a message that is not a valid CloudEvent of the published language, or whose type
  does not belong to the boundary of the subject it arrived on (`wire.from_nats`), goes
  to the dead-letter stream at once: retrying cannot make it valid.
The server-side max_deliver is unlimited on purpose: messages held back behind a
failing one must never be dropped by the server.

Where delivery starts is the projection's business, not the server's: on each
(re)start the consumer reads the projection's position, and if the durable has
already delivered or acknowledged anything beyond it (the read model was lost,
restored from an older copy, or is new on a new pod), the durable is deleted and
created again to start at `position + 1`. Otherwise the durable carries on.

The durable acknowledges up to a message (AckPolicy.ALL), so an ack covers every
delivery before it, including one the consumer never received (a NATS node lost
with a batch in flight, a pull request expired with messages on the wire). Every
delivery carries the durable's next consumer sequence in its ack subject, so a
missing one shows as a gap: nothing past a gap is applied or acknowledged, and the
consumer starts again from the projection's position on a durable made anew. A
failing message is held back the same way (nothing from it on is acknowledged,
and it comes first again after a pause), not nak'd: a nak'd message would come
back after newer ones the open pull request brings meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn, Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import trace
from prometheus_client import Counter

from services.kit import bus
from services.kit.pull import ConsumerGone, Puller
from services.kit.settings import Settings
from services.kit.stages import record
from services.kit.telemetry import spans_recorded
from services.kit.tracecontext import parent_context
from services.kit.transient import Classifier, is_transient
from services.kit.wire import Envelope, MalformedEventError, from_nats

log = logging.getLogger(__name__)
tracer = trace.get_tracer("tongxin.consumer")

APPLIED = Counter("tongxin_consumer_applied_total", "Events applied", ["consumer"])
DEAD = Counter("tongxin_consumer_dead_lettered_total", "Events dead-lettered", ["consumer"])
RESUMED = Counter(
    "tongxin_consumer_resumed_total",
    "Starts from the projection's position after a gap in delivery or a held-back event",
    ["consumer"],
)


class Interrupted(Exception):
    """Deliveries cannot go on in order: start again from the projection's position."""


@dataclass(frozen=True)
class Delivered:
    """One event as delivered: its stream sequence and its envelope."""

    stream_seq: int
    envelope: Envelope


class Projection(Protocol):
    """State that consumes events. Both methods are synchronous (run in a thread)."""

    def position(self, consumer: str) -> int:
        """The highest stream sequence applied for this consumer."""
        ...

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        """Apply the events and store the last one's sequence, in one transaction."""
        ...


def backoff(attempt: int) -> float:
    return float(min(0.2 * 2 ** max(attempt - 1, 0), 10.0))


class Consumer:
    """A durable pull consumer feeding one projection; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        boundary: str,
        projection: Projection,
        settings: Settings,
        filter_subject: str | None = None,
        is_transient: Classifier = is_transient,
    ) -> None:
        self.name = name
        self.boundary = boundary
        self.stream = bus.stream_name(boundary)
        self.filter_subject = filter_subject or bus.stream_subjects(boundary)[0]
        self.projection = projection
        self.settings = settings
        self.connected = False
        self.position = 0
        self.pending = 0
        self._is_transient = is_transient
        self._nc: Client | None = None
        self._puller: Puller | None = None
        self._failures: dict[int, int] = {}  # stream seq -> failed attempts, not yet applied

    async def run(self, stop: asyncio.Event) -> None:
        retry = 0.2
        while not stop.is_set():
            try:
                await self._consume(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected = False
                log.warning("consumer %s: %s; retrying in %.1fs", self.name, exc, retry)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), retry)
                retry = min(retry * 2, 5.0)
        await self.close()

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.close()
        self._nc = None

    async def _consume(self, stop: asyncio.Event) -> None:
        if self._nc is None or self._nc.is_closed:
            self._nc = await bus.connect(
                self.settings, f"consumer-{self.name}", reconnected=self._reconnected
            )
        js = self._nc.jetstream(timeout=5.0)
        await bus.ensure_stream(js, self.boundary, self.settings)
        await bus.ensure_dead_letter_stream(js, self.settings)
        interrupted = False
        while not stop.is_set():
            try:
                await self._follow(self._nc, js, stop, recreate=interrupted)
            except (Interrupted, ConsumerGone) as why:
                interrupted = True
                RESUMED.labels(self.name).inc()
                log.warning(
                    "consumer %s: %s; resuming after the projection's position", self.name, why
                )

    def _reconnected(self) -> None:
        if self._puller is not None:
            self._puller.forget_request()

    async def _follow(
        self, nc: Client, js: JetStreamContext, stop: asyncio.Event, *, recreate: bool
    ) -> None:
        """Apply deliveries while they come in order; raise `Interrupted` when one cannot.

        Every delivery of the durable, redeliveries included, has the next consumer
        sequence. One missing (lost in flight with a node, or with an expired request)
        would be acknowledged with the next batch (AckPolicy.ALL) and never applied, so
        nothing past it is applied or acknowledged: the caller starts again from the
        projection's position, on a durable made anew for it.
        """
        delivered = await self._prepare_durable(js, recreate=recreate)
        puller = Puller(
            nc,
            stream=self.stream,
            durable=self.name,
            batch=self.settings.consumer_batch,
            expires_s=self.settings.consumer_idle_wait_s,
            heartbeat_s=self.settings.consumer_heartbeat_s,
        )
        await puller.open()
        self._puller = puller
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(lambda _: puller.wake())
        try:
            self.connected = True
            while not stop.is_set():
                messages = await puller.next_batch(self.settings.consumer_batch)
                record(f"delivered:{self.name}", (stream_sequence(m) for m in messages))
                in_order = 0
                for msg in messages:
                    if consumer_sequence(msg) != delivered + 1:
                        break
                    delivered += 1
                    in_order += 1
                if in_order:
                    self.pending = pending_after(messages[in_order - 1])
                    await self._handle(js, messages[:in_order])
                if in_order < len(messages):
                    raise Interrupted(
                        f"delivery {delivered + 1} expected, "
                        f"{consumer_sequence(messages[in_order])} received"
                    )
        finally:
            stopping.cancel()
            self._puller = None
            await puller.close()

    async def _prepare_durable(self, js: JetStreamContext, *, recreate: bool) -> int:
        """Make sure the durable starts after the projection's position; its last delivery.

        An existing durable is kept only if it has delivered nothing beyond the position:
        it redelivers what it has not had acknowledged, but nothing at or below its ack
        floor, and an ack may have gone beyond the floor (a dead letter, an already-applied
        redelivery). After an interruption it is made anew whatever it says: a request of
        the abandoned inbox may still be open on it. Recreating costs the redelivery of what
        lies beyond the position: a message dead-lettered there is tried, and dead-lettered,
        again.
        """
        self.position = await asyncio.to_thread(self.projection.position, self.name)
        try:
            info: ConsumerInfo | None = await js.consumer_info(self.stream, self.name)
        except NotFoundError:
            info = None
        if info is not None:
            acked = int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
            sent = int(info.delivered.stream_seq or 0) if info.delivered else 0
            if info.config.ack_policy != AckPolicy.ALL:
                # A durable made when every message was acknowledged on its own: the policy of
                # an existing durable cannot change, so it is made again from the position.
                log.warning("consumer %s: recreating the durable to ack per batch", self.name)
                await self._delete_durable(js)
                info = None
            elif max(acked, sent) > self.position:
                log.warning(
                    "consumer %s: the durable is at stream seq %d (acked %d) but the projection "
                    "at %d; recreating it to start at %d",
                    self.name,
                    sent,
                    acked,
                    self.position,
                    self.position + 1,
                )
                await self._delete_durable(js)
                info = None
            elif recreate:
                await self._delete_durable(js)
                info = None
        if info is None:
            resume = self.position > 0
            info = await js.add_consumer(
                self.stream,
                ConsumerConfig(
                    # The name too, so the create goes to $JS.API.CONSUMER.CREATE.<stream>.
                    # <name>.<filter>, the subject NATS authorization grants per durable.
                    name=self.name,
                    durable_name=self.name,
                    filter_subject=self.filter_subject,
                    ack_policy=AckPolicy.ALL,
                    max_deliver=-1,
                    ack_wait=self.settings.consumer_ack_wait_s,
                    inactive_threshold=self.settings.consumer_inactive_s,
                    max_ack_pending=max(self.settings.consumer_batch * 4, 1000),
                    deliver_policy=(
                        DeliverPolicy.BY_START_SEQUENCE if resume else DeliverPolicy.ALL
                    ),
                    opt_start_seq=self.position + 1 if resume else None,
                ),
            )
        self.pending = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        return int(info.delivered.consumer_seq or 0) if info.delivered else 0

    async def _delete_durable(self, js: JetStreamContext) -> None:
        with contextlib.suppress(NotFoundError):  # Someone else deleted it meanwhile.
            await js.delete_consumer(self.stream, self.name)
        return None

    async def _handle(self, js: JetStreamContext, messages: list[Msg]) -> None:
        """Apply messages delivered in order, in one transaction if they allow."""
        fresh: list[tuple[Msg, Delivered | MalformedEventError]] = []
        applied_before: Msg | None = None
        for msg in messages:
            seq = stream_sequence(msg)
            if seq <= self.position:
                applied_before = msg  # A redelivery of what is applied changes nothing.
                continue
            try:
                fresh.append((msg, Delivered(seq, from_nats(msg.subject, msg.headers, msg.data))))
            except MalformedEventError as exc:
                fresh.append((msg, exc))
        if applied_before is not None:
            # Everything up to it is applied: its ack (AckPolicy.ALL) covers nothing else.
            await applied_before.ack()
        if not fresh:
            return
        events = [item for _, item in fresh if isinstance(item, Delivered)]
        if len(events) < len(fresh):
            await self._apply_one_by_one(js, fresh)
            return
        try:
            await self._apply(events)
        except Exception:
            await self._apply_one_by_one(js, fresh)
            return
        # The durable acknowledges up to a message (AckPolicy.ALL): one ack for the batch.
        await fresh[-1][0].ack()
        self._failures.clear()

    async def _apply_one_by_one(
        self, js: JetStreamContext, fresh: list[tuple[Msg, Delivered | MalformedEventError]]
    ) -> None:
        for msg, item in fresh:
            if isinstance(item, MalformedEventError):
                # Not a valid event of the published language: retrying cannot make it one.
                await self._dead_letter(js, msg, item)
                continue
            try:
                await self._apply([item])
            except Exception as exc:
                attempts = self._failures.get(item.stream_seq, 0) + 1
                self._failures[item.stream_seq] = attempts
                if not self._is_transient(exc) and attempts >= self.settings.consumer_max_deliver:
                    await self._dead_letter(js, msg, exc)
                    self._failures.pop(item.stream_seq, None)
                    continue
                await self._hold_back(item.stream_seq, attempts, exc)
            self._failures.pop(item.stream_seq, None)
            await msg.ack()

    async def _hold_back(self, seq: int, attempt: int, exc: BaseException) -> NoReturn:
        """Pause, then start again from the projection's position, to keep order.

        Nothing from `seq` on is acknowledged; the durable is made anew at the position
        (after the pause someone else may have applied these events: a tracking record
        already there), so the failing message comes first again.
        """
        delay = backoff(attempt)
        log.warning("consumer %s: seq %d failed (%s); retry in %.1fs", self.name, seq, exc, delay)
        await asyncio.sleep(delay)
        raise Interrupted(f"seq {seq} held back after attempt {attempt}")

    async def _apply(self, events: list[Delivered]) -> None:
        spans = []
        # Without a recording tracer a span per event would only cost time.
        for delivered in events if spans_recorded() else ():
            spans.append(
                tracer.start_span(
                    f"process {delivered.envelope.type}",
                    context=parent_context(delivered.envelope.traceparent),
                    kind=trace.SpanKind.CONSUMER,
                    attributes={
                        "messaging.consumer": self.name,
                        "tongxin.stream_seq": delivered.stream_seq,
                    },
                )
            )
        try:
            await asyncio.to_thread(self.projection.apply, self.name, events)
        except Exception as exc:
            for span in spans:
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR)
            raise
        finally:
            for span in spans:
                span.end()
        self.position = events[-1].stream_seq
        record(f"applied:{self.name}", (e.stream_seq for e in events))
        APPLIED.labels(self.name).inc(len(events))

    async def _dead_letter(self, js: JetStreamContext, msg: Msg, exc: Exception) -> None:
        seq = msg.metadata.sequence.stream
        # Publish-time directives (e.g. the relay's Nats-Expected-Last-Sequence) stay behind.
        headers = {
            k: v for k, v in (msg.headers or {}).items() if not k.startswith("Nats-Expected-")
        }
        headers.update(
            {
                "Nats-Msg-Id": f"dlq-{self.name}-{self.stream}-{seq}",
                "tongxin-dlq-consumer": self.name,
                "tongxin-dlq-stream": self.stream,
                "tongxin-dlq-stream-seq": str(seq),
                "tongxin-dlq-error": f"{type(exc).__name__}: {exc}"[:1000],
                "tongxin-dlq-subject": msg.subject,
            }
        )
        await js.publish(
            f"{bus.DEAD_LETTER_PREFIX}.{self.name}.{msg.subject}", msg.data, headers=headers
        )
        await msg.ack()
        DEAD.labels(self.name).inc()
        log.error("consumer %s: seq %d dead-lettered: %s", self.name, seq, exc)


def stream_sequence(msg: Msg) -> int:
    """The message's stream sequence, read from its ack subject alone.

    nats-py's `msg.metadata` parses every field of it (timestamps into datetimes) on
    each message; the consumer needs only this one.
    """
    reply = msg.reply or ""
    tokens = reply.split(".")
    # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>,
    # or with <domain>.<account hash> after ACK and a random token at the end.
    if len(tokens) == 9 and reply.startswith("$JS.ACK."):
        return int(tokens[5])
    if len(tokens) >= 12 and reply.startswith("$JS.ACK."):
        return int(tokens[7])
    return int(msg.metadata.sequence.stream)


def consumer_sequence(msg: Msg) -> int:
    """The durable's sequence of this delivery: one more for each, redeliveries included."""
    reply = msg.reply or ""
    tokens = reply.split(".")
    if len(tokens) == 9 and reply.startswith("$JS.ACK."):
        return int(tokens[6])
    if len(tokens) >= 12 and reply.startswith("$JS.ACK."):
        return int(tokens[8])
    return int(msg.metadata.sequence.consumer)


def pending_after(msg: Msg) -> int:
    """How many messages the stream held for the consumer beyond this one when it was sent."""
    reply = msg.reply or ""
    if reply.startswith("$JS.ACK."):
        tokens = reply.split(".")
        if len(tokens) == 9:
            return int(tokens[8])
        if len(tokens) >= 12:
            return int(tokens[10])
    return int(msg.metadata.num_pending or 0)
