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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import trace
from prometheus_client import Counter

from services.kit import bus
from services.kit.settings import Settings
from services.kit.telemetry import spans_recorded
from services.kit.tracecontext import parent_context
from services.kit.transient import Classifier, is_transient
from services.kit.wire import Envelope, MalformedEventError, from_nats

log = logging.getLogger(__name__)
tracer = trace.get_tracer("tongxin.consumer")

APPLIED = Counter("tongxin_consumer_applied_total", "Events applied", ["consumer"])
DEAD = Counter("tongxin_consumer_dead_lettered_total", "Events dead-lettered", ["consumer"])


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
            self._nc = await bus.connect(self.settings, f"consumer-{self.name}")
        js = self._nc.jetstream(timeout=5.0)
        await bus.ensure_stream(js, self.boundary, self.settings)
        await bus.ensure_dead_letter_stream(js, self.settings)
        self.position = await asyncio.to_thread(self.projection.position, self.name)
        await self._discard_durable_ahead_of(js, self.position)
        resume = self.position > 0
        # Used only when the durable does not exist; an existing one keeps its own config.
        subscription = await js.pull_subscribe(
            self.filter_subject,
            durable=self.name,
            stream=self.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.ALL,
                max_deliver=-1,
                ack_wait=self.settings.consumer_ack_wait_s,
                inactive_threshold=self.settings.consumer_inactive_s,
                max_ack_pending=max(self.settings.consumer_batch * 4, 1000),
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE if resume else DeliverPolicy.ALL,
                opt_start_seq=self.position + 1 if resume else None,
            ),
        )
        self.connected = True
        while not stop.is_set():
            try:
                messages = await subscription.fetch(self.settings.consumer_batch, timeout=0.5)
            except (NatsTimeoutError, TimeoutError):
                await self._refresh_pending(subscription)
                continue
            await self._handle(js, messages)

    async def _discard_durable_ahead_of(self, js: JetStreamContext, position: int) -> None:
        """Delete the durable if it would skip events the projection has not applied.

        The durable redelivers what it has not had acknowledged, but nothing at or below
        its ack floor, and an explicit ack may have gone beyond the floor (a dead letter,
        an already-applied redelivery): anything delivered past `position` is suspect.
        Recreating costs the redelivery of what lies beyond `position`: a message that
        was dead-lettered there is tried, and dead-lettered, again.
        """
        try:
            info = await js.consumer_info(self.stream, self.name)
        except NotFoundError:
            return
        if info.config.ack_policy != AckPolicy.ALL:
            # A durable made when every message was acknowledged on its own: the policy of an
            # existing durable cannot change, so it is made again from the projection's position.
            log.warning("consumer %s: recreating the durable to acknowledge per batch", self.name)
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(self.stream, self.name)
            return
        acked = int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
        delivered = int(info.delivered.stream_seq or 0) if info.delivered else 0
        if max(acked, delivered) <= position:
            return
        log.warning(
            "consumer %s: the durable is at stream seq %d (acked %d) but the projection at %d; "
            "recreating it to start at %d",
            self.name,
            delivered,
            acked,
            position,
            position + 1,
        )
        with contextlib.suppress(NotFoundError):  # Someone else deleted it meanwhile.
            await js.delete_consumer(self.stream, self.name)

    async def _refresh_pending(self, subscription: JetStreamContext.PullSubscription) -> None:
        with contextlib.suppress(Exception):
            info = await subscription.consumer_info()
            self.pending = int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def _handle(self, js: JetStreamContext, messages: list[Msg]) -> None:
        fresh: list[tuple[Msg, Delivered]] = []
        for msg in messages:
            seq = stream_sequence(msg)
            if seq <= self.position:
                await msg.ack()  # Already applied: a redelivery changes nothing.
                continue
            try:
                fresh.append((msg, Delivered(seq, from_nats(msg.subject, msg.headers, msg.data))))
            except MalformedEventError as exc:
                await self._dead_letter(js, msg, exc)
        if not fresh:
            return
        try:
            await self._apply([d for _, d in fresh])
        except Exception:
            await self._apply_one_by_one(js, fresh)
            return
        # The durable acknowledges up to a message (AckPolicy.ALL): one ack for the batch.
        await fresh[-1][0].ack()

    async def _apply_one_by_one(
        self, js: JetStreamContext, fresh: list[tuple[Msg, Delivered]]
    ) -> None:
        for index, (msg, delivered) in enumerate(fresh):
            try:
                await self._apply([delivered])
            except Exception as exc:
                if (
                    not self._is_transient(exc)
                    and msg.metadata.num_delivered >= self.settings.consumer_max_deliver
                ):
                    await self._dead_letter(js, msg, exc)
                    continue
                await self._hold_back(fresh[index:], msg.metadata.num_delivered, exc)
                return
            await msg.ack()

    async def _hold_back(
        self, rest: list[tuple[Msg, Delivered]], attempt: int, exc: BaseException
    ) -> None:
        """Nak the failing message and everything after it, then pause, to keep order."""
        delay = backoff(attempt)
        log.warning(
            "consumer %s: seq %d failed (%s); retry in %.1fs",
            self.name,
            rest[0][1].stream_seq,
            exc,
            delay,
        )
        for msg, _ in rest:
            with contextlib.suppress(Exception):
                await msg.nak(delay=delay)
        await asyncio.sleep(delay)
        # A conflict may mean someone else applied these events meanwhile (a tracking
        # record already there): their redeliveries are then acknowledged, not retried.
        with contextlib.suppress(Exception):
            stored = await asyncio.to_thread(self.projection.position, self.name)
            self.position = max(self.position, stored)

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
