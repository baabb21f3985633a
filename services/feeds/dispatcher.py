"""Delivering feed entries to partners' endpoints: one worker per endpoint, never in line.

What is to be sent is the pending deliveries table (services.feeds.pending), written
with the feed entries: each endpoint's worker takes its own due rows from it (an indexed
read) and sends them; the outcomes of every endpoint are recorded together, in batches,
each batch with its rows' changes in one transaction (a transaction's fixed cost, a dozen
round trips to the store, was most of what recording one outcome cost). A restart finds
the rows where they were; a delivery sent but not yet recorded is sent again with the
same `webhook-id` (at least once). The store being slow holds up every endpoint alike;
an endpoint being slow holds up only itself.

Each endpoint has its own worker, its own HTTP connection pool and its own rate bucket:
a slow, dead or rate-limited endpoint holds up only itself. Within an endpoint, messages
go out concurrently (up to `MAX_IN_FLIGHT`), or, for an endpoint that asked for order,
one subject at a time in feed order (the table hands out only a subject's first row).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpcore
import httpx
from eventsourcing.utils import get_topic

from services.feeds.application import FeedsApplication, Outcome
from services.feeds.domain import DISABLE_AFTER_S, Endpoint
from services.feeds.pending import PendingDelivery
from services.feeds.schedule import next_wait, retry_after
from services.feeds.signing import CONTENT_TYPE, signatures
from services.feeds.targets import TargetRefusedError, check_url

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 8
# Rows a worker holds at most (taken from the table, not yet recorded as attempted).
MAX_HELD = 256
# A worker takes more rows when fewer than this are ready to go.
LOW_WATER = 4 * MAX_IN_FLIGHT
# How often a worker looks at the table unwoken (rows saved by another process).
IDLE_S = 2.0
# Outcomes recorded in one transaction at most.
RECORD_BATCH = 200
RECORD_RETRY_S = 1.0
# The most of a receiver's answer that is read (its status is what counts).
MAX_ANSWER_BYTES = 64 * 1024
# How long an endpoint URL's check holds (its host's addresses may change).
RECHECK_S = 30.0
ENDPOINT_TOPICS = [
    get_topic(cls)
    for cls in (
        Endpoint.Added,  # type: ignore[attr-defined]
        Endpoint.Disabled,  # type: ignore[attr-defined]
        Endpoint.Enabled,  # type: ignore[attr-defined]
        Endpoint.SecretRotated,  # type: ignore[attr-defined]
        Endpoint.FailingSince,  # type: ignore[attr-defined]
        Endpoint.Recovered,  # type: ignore[attr-defined]
    )
]


_TLS: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every endpoint's client: loading the CA bundle is
    the dearest part of making a client (a fifth of a second each on a busy machine)."""
    global _TLS
    if _TLS is None:
        _TLS = httpx.create_ssl_context()
    return _TLS


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
    """One endpoint's due deliveries, taken from the table, and the senders posting them.

    `MAX_IN_FLIGHT` senders live as long as the worker, each taking the next ready row
    and posting it over the endpoint's keep-alive pool: no task is made per attempt, and
    the loop that reads the table wakes only when rows may be there to take, not at
    every answer.
    """

    def __init__(
        self, app: FeedsApplication, endpoint: Endpoint, recorder: OutcomeRecorder
    ) -> None:
        self.app = app
        self.endpoint = endpoint
        self.recorder = recorder
        # Taken from the table and not yet recorded: never taken twice.
        self.held: dict[UUID, PendingDelivery] = {}
        # Recorded while a read of the table was under way: it may still have seen them.
        self.finished: set[UUID] = set()
        self.ready: deque[PendingDelivery] = deque()
        # Set when rows were made ready (the senders wait on it when there are none).
        self.readied = asyncio.Event()
        # The health to note after recorded outcomes: the latest outcome (only it counts),
        # and when a 410 was answered (the endpoint is disabled for it, whatever followed).
        self.health_due: Outcome | None = None
        self.gone_at: float | None = None
        self.noting: asyncio.Task[None] | None = None
        self.next_due: float | None = None
        # Whether the table may hold rows this worker has not taken.
        self.wanted = True
        self.changed = asyncio.Event()
        self.bucket = RateBucket(endpoint.rate_per_s)
        # httpcore's pool, which `httpx.AsyncHTTPTransport` wraps, used directly: a
        # delivery needs neither httpx's request and response models nor its cookies,
        # auth or redirects, which cost more per request than the HTTP/1.1 exchange.
        # Connections are kept alive.
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=tls_context(),
            max_connections=MAX_IN_FLIGHT,
            max_keepalive_connections=MAX_IN_FLIGHT,
        )
        self.target = Target.of(endpoint.url)
        seconds = app.delivery_timeout_s
        self.extensions = {
            "timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
        }
        # The URL last checked, whether it passed, and when (monotonic seconds).
        self.checked: tuple[str, bool] = ("", False)
        self.checked_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        clock = self.app.clock
        senders = [
            asyncio.create_task(self._send(), name=f"sender {self.endpoint.id} {n}")
            for n in range(MAX_IN_FLIGHT)
        ]
        try:
            while not stop.is_set():
                if self.endpoint.disabled is not None:
                    # Dead-lettered with the disable; a redrive may make them pending again.
                    while self.ready:
                        self.held.pop(self.ready.popleft().delivery_id, None)
                    await self._wait(stop, None)
                    continue
                now = clock.now()
                if self.wanted and len(self.ready) < LOW_WATER and len(self.held) < MAX_HELD:
                    self.wanted = False
                    await self._take(now)
                    continue
                # Already wanted: woken when there is room (a sender or a record says so).
                due = self.next_due
                wait = None if due is None or self.wanted else max(0.0, due - now)
                await self._wait(stop, wait, due=True)
        finally:
            for sender in senders:
                sender.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
            await self.pool.aclose()

    def wake(self) -> None:
        """Rows of this endpoint were added or changed: look at the table again."""
        self.wanted = True
        self.changed.set()

    def retarget(self, endpoint: Endpoint) -> None:
        """The endpoint changed (its URL, rate, secrets or state)."""
        self.endpoint = endpoint
        self.bucket.rate = endpoint.rate_per_s
        if self.target.url != endpoint.url:
            self.target = Target.of(endpoint.url)
        self.wake()

    async def _take(self, now: float) -> None:
        """The endpoint's due rows not held yet (the held ones come first, so ask for more)."""
        limit = MAX_HELD
        endpoint_id = self.endpoint.id
        self.finished.clear()
        try:
            rows, self.next_due = await asyncio.to_thread(
                self.app.pending.take, endpoint_id, now, limit
            )
        except Exception:
            log.exception("could not read the pending deliveries of endpoint %s", endpoint_id)
            self.next_due = now + RECORD_RETRY_S
            return
        if len(rows) >= limit:
            # Rows were left in the table: taken once the held ones are recorded.
            self.wanted = True
        for row in rows:
            if row.delivery_id not in self.held and row.delivery_id not in self.finished:
                self.held[row.delivery_id] = row
                self.ready.append(row)
        if self.ready:
            self.readied.set()

    async def _wait(self, stop: asyncio.Event, seconds: float | None, due: bool = False) -> None:
        """Until something changes, the stop, `seconds` on the clock or an idle look.

        `due`: the seconds are until a row falls due, so the table is looked at after them.
        """
        self.changed.clear()
        slept = None if seconds is None else asyncio.create_task(self.app.clock.sleep(seconds))
        waits: list[asyncio.Task[Any]] = [
            asyncio.create_task(self.changed.wait()),
            asyncio.create_task(stop.wait()),
            *([slept] if slept else []),
        ]
        try:
            done, _ = await asyncio.wait(waits, timeout=IDLE_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        if not done or (due and slept in done):
            self.wanted = True

    async def _send(self) -> None:
        """One sender: the next ready row, when the rate allows, posted and handed to the
        recorder; until cancelled."""
        clock, ready = self.app.clock, self.ready
        while True:
            if not ready or self.endpoint.disabled is not None:
                self.readied.clear()
                await self.readied.wait()
                continue
            wait = self.bucket.wait(clock.now())
            if wait > 0:
                await clock.sleep(wait)
                continue
            item = ready.popleft()
            if self.wanted and len(ready) < LOW_WATER and len(self.held) < MAX_HELD:
                # Time to take more (when the held rows fill the room, a record says so).
                self.changed.set()
            self.recorder.add(self, await self._attempt(item))

    def _health_changes(self, ok: bool, now: float) -> bool:
        """Whether this outcome changes the endpoint's health record (most do not: a
        success of a healthy endpoint, a failure of one failing for less than 5 days)."""
        since = self.endpoint.failing_since
        if ok:
            return since is not None
        return since is None or now - since >= DISABLE_AFTER_S

    async def _check_target(self, now: float) -> None:
        """The endpoint URL's check (https, a public address), again after `RECHECK_S`."""
        url = self.endpoint.url
        if self.checked != (url, True) or now - self.checked_at >= RECHECK_S:
            self.checked = (url, False)
            await asyncio.to_thread(check_url, url, allow_local=self.app.allow_local_targets)
            self.checked, self.checked_at = (url, True), now

    async def _attempt(self, item: PendingDelivery) -> Outcome:
        app, endpoint = self.app, self.endpoint
        status: int | None = None
        error: str | None = None
        after: float | None = None
        started = time.perf_counter()
        try:
            await self._check_target(time.monotonic())
            status, retry = await self._post(item, endpoint.signing_secrets(app.clock.now()))
            after = retry_after(retry, app.clock.now())
        except TargetRefusedError:
            error = "endpoint-url-refused"
        except httpcore.TimeoutException:
            error = "timeout"
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            error = type(exc).__name__
        except Exception as exc:
            # Counted as a failed attempt (retried on the schedule), never a lost delivery.
            log.exception("attempt to endpoint %s failed", endpoint.id)
            error = type(exc).__name__
        latency_ms = (time.perf_counter() - started) * 1000
        now = app.clock.now()
        ok = status is not None and 200 <= status < 300
        wait = None if ok or status == 410 else next_wait(item.rounds + 1, after)
        return Outcome(
            pending=item,
            at=now,
            status=status,
            latency_ms=round(latency_ms, 3),
            error=error,
            next_at=None if wait is None else now + wait,
        )

    async def _post(
        self, item: PendingDelivery, endpoint_secrets: list[str]
    ) -> tuple[int, str | None]:
        """POST one delivery: the status code and the `Retry-After` header, if any.

        The timestamp signed is the wall clock's, not the scheduling clock's: receivers
        check it against their own (5 minutes' tolerance)."""
        target, body = self.target, item.body.encode()
        now = time.time()
        signed = signatures(
            item.message_id, item.body, endpoint_secrets, datetime.fromtimestamp(now, UTC)
        )
        request = httpcore.Request(
            b"POST",
            target.url_parts,
            headers=[
                *target.headers,
                (b"Content-Length", str(len(body)).encode()),
                (b"webhook-id", item.message_id.encode()),
                (b"webhook-timestamp", str(int(now)).encode()),
                (b"webhook-signature", signed.encode()),
            ],
            content=body,
            extensions=self.extensions,
        )
        response = await self.pool.handle_async_request(request)
        try:
            # Read to the end, so that the connection goes back to the pool; an answer
            # longer than any receiver needs is cut off (its connection is then closed).
            received = 0
            async for chunk in response.aiter_stream():
                received += len(chunk)
                if received > MAX_ANSWER_BYTES:
                    break
        finally:
            await response.aclose()
        retry = None
        for name, value in response.headers:
            if name.lower() == b"retry-after":
                retry = value.decode("latin-1")
        return response.status, retry

    def recorded(self, batch: list[Outcome]) -> None:
        """These outcomes are in the store: their rows are no longer held, and the
        endpoint's health is noted after them."""
        again = self.endpoint.ordered
        for outcome in batch:
            self.held.pop(outcome.pending.delivery_id, None)
            self.finished.add(outcome.pending.delivery_id)
            again = again or outcome.next_at is not None
        if self.gone_at is None and any(o.status == 410 for o in batch):
            self.gone_at = batch[-1].at
        last = self.health_due = batch[-1]
        if self.noting is None:
            if self.gone_at is None and not self._health_changes(last.ok, last.at):
                self.health_due = None
            else:
                self.noting = asyncio.create_task(self._note_health())
        if again:
            # A subject's next row is free to go, or a retry changed when rows fall due.
            self.wake()
        elif self.wanted:
            # Rows were left in the table for want of room, which there now is.
            self.changed.set()

    async def _note_health(self) -> None:
        """Note the endpoint's health, tried again until the store takes it (a failing
        endpoint must still be disabled after 5 days). On the endpoint's own task, so that
        a note the store refuses holds up no other endpoint's outcomes."""
        app, endpoint = self.app, self.endpoint
        try:
            while (last := self.health_due) is not None:
                gone_at = self.gone_at
                try:
                    if gone_at is not None:
                        await asyncio.to_thread(app.disable_gone, endpoint.id, gone_at)
                    elif self._health_changes(last.ok, last.at):
                        await asyncio.to_thread(
                            app.note_endpoint_health, endpoint.id, ok=last.ok, at=last.at
                        )
                except Exception:
                    log.exception("could not note the health of endpoint %s", endpoint.id)
                    await asyncio.sleep(RECORD_RETRY_S)
                    continue
                self.gone_at = None if gone_at is not None else self.gone_at
                if self.health_due is last:
                    self.health_due = None
        finally:
            self.noting = None


@dataclass(frozen=True)
class Target:
    """An endpoint URL as httpcore takes it, and the headers every request to it carries."""

    url: str
    url_parts: httpcore.URL
    headers: tuple[tuple[bytes, bytes], ...]

    @classmethod
    def of(cls, url: str) -> Target:
        parsed = httpx.URL(url)
        return cls(
            url=url,
            url_parts=httpcore.URL(
                scheme=parsed.raw_scheme,
                host=parsed.raw_host,
                port=parsed.port,
                target=parsed.raw_path,
            ),
            headers=((b"Host", parsed.netloc), (b"Content-Type", CONTENT_TYPE.encode())),
        )


class OutcomeRecorder:
    """The outcomes of every endpoint's attempts, recorded together: a batch (of whatever
    arrived while the last one was being written) per transaction."""

    def __init__(self, app: FeedsApplication) -> None:
        self.app = app
        self.outcomes: list[tuple[EndpointWorker, Outcome]] = []
        self.recording: asyncio.Task[None] | None = None

    def add(self, worker: EndpointWorker, outcome: Outcome) -> None:
        self.outcomes.append((worker, outcome))
        if self.recording is None:
            self.recording = asyncio.create_task(self._record())

    async def drain(self) -> None:
        """What was sent is recorded before stopping, where the store allows."""
        if self.recording is not None:
            with contextlib.suppress(Exception):
                await self.recording

    async def _record(self) -> None:
        """Record the outcomes gathered meanwhile, a batch per transaction, until none wait."""
        try:
            while self.outcomes:
                batch, self.outcomes = self.outcomes[:RECORD_BATCH], self.outcomes[RECORD_BATCH:]
                try:
                    await asyncio.to_thread(self.app.record_outcomes, [o for _, o in batch])
                except Exception:
                    # Kept, and tried again shortly: the rows stay held meanwhile.
                    log.exception("could not record %d attempts", len(batch))
                    self.outcomes[:0] = batch
                    await asyncio.sleep(RECORD_RETRY_S)
                    continue
                by_worker: dict[EndpointWorker, list[Outcome]] = {}
                for worker, outcome in batch:
                    by_worker.setdefault(worker, []).append(outcome)
                for worker, done in by_worker.items():
                    worker.recorded(done)
        finally:
            self.recording = None


@dataclass
class Dispatcher:
    """Keeps a worker per endpoint, up to date with the endpoint's changes."""

    app: FeedsApplication
    workers: dict[UUID, EndpointWorker] = field(default_factory=dict)
    position: int = 0
    recorder: OutcomeRecorder | None = None

    async def run(self, stop: asyncio.Event) -> None:
        tasks: dict[UUID, asyncio.Task[None]] = {}
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def saved() -> None:
            # From the saving thread: an endpoint may have changed.
            loop.call_soon_threadsafe(woken.set)

        def pending(endpoint_ids: Collection[UUID]) -> None:
            # From the saving thread: these endpoints have new rows.
            loop.call_soon_threadsafe(self._wake, endpoint_ids)

        self.app.on_pending.append(pending)
        self.app.on_saved.append(saved)
        self.recorder = OutcomeRecorder(self.app)
        try:
            await asyncio.to_thread(self.app.backfill_history)
            while not stop.is_set():
                woken.clear()
                await self._follow_endpoints(tasks, stop)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(woken, stop), IDLE_S)
        finally:
            stop.set()
            self.app.on_pending.remove(pending)
            self.app.on_saved.remove(saved)
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            await self.recorder.drain()
            notes = [w.noting for w in self.workers.values() if w.noting is not None]
            await asyncio.gather(*notes, return_exceptions=True)

    async def _follow_endpoints(
        self, tasks: dict[UUID, asyncio.Task[None]], stop: asyncio.Event
    ) -> None:
        """Endpoints added or changed since last time (only endpoint events are read)."""
        head = await asyncio.to_thread(self.app.recorder.max_notification_id) or 0
        changed: set[UUID] = set()
        while self.position < head:
            found = await asyncio.to_thread(
                self.app.recorder.select_notifications,
                self.position,
                1000,
                stop=head,
                topics=ENDPOINT_TOPICS,
                inclusive_of_start=False,
            )
            changed.update(UUID(str(n.originator_id)) for n in found)
            self.position = found[-1].id if len(found) == 1000 else head
        for endpoint_id in sorted(changed, key=str):
            endpoint: Endpoint = await asyncio.to_thread(self.app.get, endpoint_id, Endpoint)
            worker = self.workers.get(endpoint_id)
            if worker is None:
                assert self.recorder is not None
                worker = self.workers[endpoint_id] = EndpointWorker(
                    self.app, endpoint, self.recorder
                )
                tasks[endpoint_id] = asyncio.create_task(
                    worker.run(stop), name=f"endpoint {endpoint_id}"
                )
                continue
            worker.retarget(endpoint)

    def _wake(self, endpoint_ids: Collection[UUID]) -> None:
        for endpoint_id in endpoint_ids:
            worker = self.workers.get(endpoint_id)
            if worker is not None:
                worker.wake()


async def _first(woken: asyncio.Event, stop: asyncio.Event) -> None:
    waits = [asyncio.create_task(woken.wait()), asyncio.create_task(stop.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
