"""Delivering feed entries to partners' endpoints: one worker per endpoint, never in line.

The dispatcher follows the application's notification log. A `EntryRecorded` is
fanned out to a `Delivery` per endpoint that wants it (saved with the dispatcher's
position, so a restart neither loses nor repeats one); delivery events keep each
endpoint worker's pending set. On start the whole log is read again to rebuild them.

Each endpoint has its own worker, its own HTTP connection pool and its own rate bucket:
a slow, dead or rate-limited endpoint holds up only itself. Within an endpoint, messages
go out concurrently (up to `MAX_IN_FLIGHT`), or, for an endpoint that asked for order,
one subject at a time in feed order (other subjects still go).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx

from services.feeds.application import FeedsApplication
from services.feeds.domain import (
    DISABLE_AFTER_S,
    Delivery,
    DeliveryAttempted,
    DeliveryDeadLettered,
    DeliveryDelivered,
    DeliveryRedriven,
    DeliveryScheduled,
    Endpoint,
    EntryRecorded,
    FeedEntry,
)
from services.feeds.schedule import next_wait, retry_after
from services.feeds.signing import signed_headers
from services.feeds.targets import TIMEOUT_S, TargetRefusedError, check_url

log = logging.getLogger(__name__)

FANOUT = "feeds-fanout"
MAX_IN_FLIGHT = 8
IDLE_S = 0.05
BATCH = 1000


@dataclass
class Pending:
    delivery_id: UUID
    entry_id: UUID
    message_id: str
    subject: str
    due_at: float
    seq: int
    rounds: int = 0


@dataclass
class RateBucket:
    """Tokens refilled at `rate` per second on the scheduling clock, at most `rate` stored."""

    rate: float
    tokens: float = 0.0
    at: float | None = None

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: take it now)."""
        capacity = max(1.0, self.rate)
        if self.at is None:
            self.tokens, self.at = capacity, now
        self.tokens = min(capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class EndpointWorker:
    """Everything pending for one endpoint, and the loop sending it."""

    def __init__(self, app: FeedsApplication, endpoint: Endpoint) -> None:
        self.app = app
        self.endpoint = endpoint
        self.pending: dict[UUID, Pending] = {}
        self.in_flight: set[UUID] = set()
        self.heap: list[tuple[float, int, UUID]] = []
        self.subjects: dict[str, deque[Pending]] = {}
        self.changed = asyncio.Event()
        self.bodies: dict[UUID, str] = {}
        self.bucket = RateBucket(endpoint.rate_per_s)
        self.client = httpx.AsyncClient(
            timeout=TIMEOUT_S,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=MAX_IN_FLIGHT),
        )
        self.tasks: set[asyncio.Task[None]] = set()

    # The pending set, kept from the log.
    def add(self, item: Pending) -> None:
        if item.delivery_id in self.pending:
            return
        self.pending[item.delivery_id] = item
        if self.endpoint.ordered:
            queue = self.subjects.setdefault(item.subject, deque())
            queue.append(item)
            if len(queue) > 1 and queue[-2].seq > item.seq:  # a redrive of an older one
                self.subjects[item.subject] = queue = deque(sorted(queue, key=lambda p: p.seq))
            if queue[0] is not item:
                return
        self._push(item)

    def done(self, delivery_id: UUID) -> None:
        item = self.pending.pop(delivery_id, None)
        self.bodies.pop(delivery_id, None)
        if item is None or not self.endpoint.ordered:
            self.changed.set()
            return
        queue = self.subjects.get(item.subject)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(item)
            if queue:
                self._push(queue[0])
            else:
                del self.subjects[item.subject]
        self.changed.set()

    def _push(self, item: Pending) -> None:
        heapq.heappush(self.heap, (item.due_at, item.seq, item.delivery_id))
        self.changed.set()

    def reschedule(self, delivery_id: UUID, due_at: float, rounds: int) -> None:
        """What the log says of an attempt; the worker may know it already (its own)."""
        item = self.pending.get(delivery_id)
        if item is None or delivery_id in self.in_flight or rounds < item.rounds:
            return
        if (item.due_at, item.rounds) != (due_at, rounds):
            item.due_at, item.rounds = due_at, rounds
            self._push(item)

    # Sending.
    async def run(self, stop: asyncio.Event) -> None:
        clock = self.app.clock
        try:
            while not stop.is_set():
                if self.endpoint.disabled is not None or not self.heap:
                    await self._wait(stop, None)
                    continue
                due_at, _, delivery_id = self.heap[0]
                item = self.pending.get(delivery_id)
                if item is None or item.due_at != due_at or delivery_id in self.in_flight:
                    heapq.heappop(self.heap)
                    continue
                now = clock.now()
                if due_at > now:
                    await self._wait(stop, due_at - now)
                    continue
                if len(self.in_flight) >= MAX_IN_FLIGHT:
                    await self._wait(stop, None)
                    continue
                wait = self.bucket.wait(now)
                if wait > 0:
                    await self._wait(stop, wait)
                    continue
                heapq.heappop(self.heap)
                self.in_flight.add(delivery_id)
                task = asyncio.create_task(self._attempt(item))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.client.aclose()

    def _health_changes(self, ok: bool, now: float) -> bool:
        """Whether this outcome changes the endpoint's health record (most do not: a
        success of a healthy endpoint, a failure of one failing for less than 5 days)."""
        since = self.endpoint.failing_since
        if ok:
            return since is not None
        return since is None or now - since >= DISABLE_AFTER_S

    async def _wait(self, stop: asyncio.Event, seconds: float | None) -> None:
        self.changed.clear()
        waits: list[asyncio.Task[Any]] = [
            asyncio.create_task(self.changed.wait()),
            asyncio.create_task(stop.wait()),
        ]
        if seconds is not None:
            waits.append(asyncio.create_task(self.app.clock.sleep(seconds)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def _body(self, item: Pending) -> str:
        body = self.bodies.get(item.delivery_id)
        if body is None:
            entry: FeedEntry = await asyncio.to_thread(self.app.get, item.entry_id, FeedEntry)
            body = json.dumps(entry.cloudevent, ensure_ascii=False, separators=(",", ":"))
            self.bodies[item.delivery_id] = body
        return body

    async def _attempt(self, item: Pending) -> None:
        app, endpoint = self.app, self.endpoint
        status: int | None = None
        error: str | None = None
        after: float | None = None
        started = time.perf_counter()
        try:
            body = await self._body(item)
            await asyncio.to_thread(check_url, endpoint.url, allow_local=app.allow_local_targets)
            headers = signed_headers(
                item.message_id, body, endpoint.signing_secrets(app.clock.now())
            )
            response = await self.client.post(endpoint.url, content=body, headers=headers)
            status = response.status_code
            after = retry_after(response.headers.get("retry-after"), app.clock.now())
        except TargetRefusedError:
            error = "endpoint-url-refused"
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        latency_ms = (time.perf_counter() - started) * 1000
        now = app.clock.now()
        ok = status is not None and 200 <= status < 300
        wait = None if ok or status == 410 else next_wait(item.rounds + 1, after)
        next_at = None if wait is None else now + wait
        try:
            await asyncio.to_thread(
                app.record_attempt,
                item.delivery_id,
                at=now,
                status=status,
                latency_ms=round(latency_ms, 3),
                error=error,
                next_at=next_at,
            )
            if status == 410:
                await asyncio.to_thread(app.disable_gone, endpoint.id, now)
            elif self._health_changes(ok, now):
                await asyncio.to_thread(app.note_endpoint_health, endpoint.id, ok=ok, at=now)
        except Exception:
            # The attempt stays pending in memory and is tried again shortly; the store
            # will tell the truth on the next start.
            log.exception("could not record an attempt to endpoint %s", endpoint.id)
            next_at = now + 1.0
            ok = False
        finally:
            self.in_flight.discard(item.delivery_id)
        if ok or next_at is None:
            self.done(item.delivery_id)
        else:
            item.rounds += 1
            item.due_at = next_at
            self._push(item)


@dataclass
class Dispatcher:
    """Follows the log: fans entries out, keeps each endpoint's worker fed."""

    app: FeedsApplication
    workers: dict[UUID, EndpointWorker] = field(default_factory=dict)
    position: int = 0
    # Each delivery's Scheduled event and log position, and its attempts since (re)scheduled.
    scheduled: dict[UUID, tuple[Any, int]] = field(default_factory=dict)
    rounds: dict[UUID, int] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        tasks: dict[UUID, asyncio.Task[None]] = {}
        fanned = await asyncio.to_thread(self.app.consumer_position, FANOUT)
        try:
            while not stop.is_set():
                # Cleared before the read: a commit after it ends the wait below.
                self.app.commits.clear()
                batch = await asyncio.to_thread(self.app.notifications, self.position, BATCH)
                if not batch:
                    await self.app.commits.wait(stop, IDLE_S)
                    continue
                fresh: list[Delivery] = []
                last_entry = 0
                for notification_id, event in batch:
                    self.position = notification_id
                    if isinstance(event, Endpoint.Event):
                        await self._endpoint_changed(event.originator_id, tasks, stop)
                    elif isinstance(event, EntryRecorded) and notification_id > fanned:
                        fresh.extend(self._fan_out(event))
                        last_entry = notification_id
                    elif isinstance(event, Delivery.Event):
                        self._delivery_event(notification_id, event)
                if last_entry:
                    await asyncio.to_thread(self.app.schedule, FANOUT, last_entry, fresh)
                    fanned = last_entry
        finally:
            stop.set()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _endpoint_changed(
        self, endpoint_id: UUID, tasks: dict[UUID, asyncio.Task[None]], stop: asyncio.Event
    ) -> None:
        endpoint: Endpoint = await asyncio.to_thread(self.app.get, endpoint_id, Endpoint)
        worker = self.workers.get(endpoint_id)
        if worker is None:
            worker = self.workers[endpoint_id] = EndpointWorker(self.app, endpoint)
            tasks[endpoint_id] = asyncio.create_task(
                worker.run(stop), name=f"endpoint {endpoint_id}"
            )
            return
        was_disabled = worker.endpoint.disabled is not None
        worker.endpoint = endpoint
        worker.bucket.rate = endpoint.rate_per_s
        worker.changed.set()
        if endpoint.disabled is not None and not was_disabled:
            # What waits is given up on now, so that a redrive of a time range finds it.
            waiting = [i for i in worker.pending if i not in worker.in_flight]
            if waiting:
                await asyncio.to_thread(self.app.dead_letter, waiting, self.app.clock.now())

    def _fan_out(self, event: Any) -> list[Delivery]:
        cloudevent: dict[str, Any] = event.cloudevent
        made: list[Delivery] = []
        now = self.app.clock.now()
        for worker in self.workers.values():
            endpoint = worker.endpoint
            if endpoint.partner_id != event.partner_id or not endpoint.wants(cloudevent["type"]):
                continue
            delivery = Delivery(
                endpoint_id=endpoint.id,
                partner_id=endpoint.partner_id,
                entry_id=event.originator_id,
                message_id=event.message_id,
                subject=cloudevent.get("subject") or "",
                event_time=_timestamp(cloudevent["time"]),
                due_at=now,
            )
            if endpoint.disabled is not None:
                delivery.dead_letter(now)
            made.append(delivery)
        return made

    def _delivery_event(self, notification_id: int, event: Any) -> None:
        delivery_id = event.originator_id
        if isinstance(event, DeliveryScheduled):
            self.scheduled[delivery_id] = (event, notification_id)
            self.rounds[delivery_id] = 0
            worker = self.workers.get(event.endpoint_id)
            if worker is not None:
                worker.add(self._pending(delivery_id, event.due_at))
            return
        known = self.scheduled.get(delivery_id)
        worker = self.workers.get(known[0].endpoint_id) if known else None
        if worker is None:
            return
        if isinstance(event, DeliveryDelivered):
            worker.done(delivery_id)
            del self.scheduled[delivery_id]
            self.rounds.pop(delivery_id, None)
        elif isinstance(event, DeliveryDeadLettered):
            worker.done(delivery_id)
        elif isinstance(event, DeliveryRedriven):
            self.rounds[delivery_id] = 0
            worker.add(self._pending(delivery_id, event.at))
        elif isinstance(event, DeliveryAttempted):
            self.rounds[delivery_id] = rounds = self.rounds.get(delivery_id, 0) + 1
            if event.next_at is not None:
                worker.reschedule(delivery_id, event.next_at, rounds)

    def _pending(self, delivery_id: UUID, due_at: float) -> Pending:
        scheduled, seq = self.scheduled[delivery_id]
        return Pending(
            delivery_id=delivery_id,
            entry_id=scheduled.entry_id,
            message_id=scheduled.message_id,
            subject=scheduled.subject,
            due_at=due_at,
            seq=seq,
        )


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()
