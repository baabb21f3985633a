"""Fires due deadlines: one runner per service, in its singleton process (the relay's).

Each due deadline is handed to the application method its rules name, which runs a
command carrying the deadline's idempotency key and removes the deadline in the same
transaction as that command's events. A crash anywhere leaves either the deadline
pending (fired again on restart, and the key makes the second command return the first
one's response) or the deadline gone with its events stored: it fires once.

Two runners overlapping during a replica change are safe for the same reason: the
second firing of a key loses the race on the command's idempotency record.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from services.kit.backoff import Backoff
from services.kit.deadlines.clock import Clock, FileClock
from services.kit.deadlines.model import Deadline, DeadlineRules, from_micros
from services.kit.deadlines.recorders import DeadlineQueries
from services.kit.errors import DomainError

log = logging.getLogger(__name__)

# Deadlines read per query; the runner asks again at once while it finds a full batch.
BATCH = 200
# The longest the runner sleeps when nothing wakes it: a deadline scheduled meanwhile, or
# a moved test clock, is noticed within this.
POLL_S = 0.25
# The longest it sleeps while every commit wakes it (`poke`, from the relay's wake-ups):
# then the poll is only a safety net, as the relay's is.
SAFETY_POLL_S = 5.0
# Deadlines of different aggregates fire side by side (one commit each); an aggregate's
# own deadlines fire one after another.
CONCURRENCY = 4


class DeadlineRunner:
    """The worker that fires a service's due deadlines (see the module docstring)."""

    def __init__(
        self,
        application: Any,
        rules: DeadlineRules,
        clock: Clock,
        *,
        poll_s: float = POLL_S,
        concurrency: int = CONCURRENCY,
        on_fired: Callable[[Deadline], None] | None = None,
    ) -> None:
        recorder = application.recorder
        if not isinstance(recorder, DeadlineQueries):
            raise TypeError("deadlines need the kit's recorders (services.kit.eventstore)")
        self.application = application
        self.recorder: DeadlineQueries = recorder
        self.rules = rules
        self.clock = clock
        self.poll_s = poll_s
        self.on_fired = on_fired
        self._count_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="deadline")
        # Whether every commit pokes the runner (set by whoever wires the pokes): a
        # deadline is scheduled in its command's transaction, so a poke follows it.
        self.woken_by_commits: Callable[[], bool] = lambda: False
        self._woken = asyncio.Event()
        self.fired = 0
        self.dropped = 0
        self.healthy = True

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._run(stop)
        finally:
            self._pool.shutdown(wait=True)

    async def _run(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                fired_all = await asyncio.to_thread(self.fire_due)
            except Exception:
                self.healthy = False
                log.exception("deadlines could not be read or fired; retrying")
                await backoff.wait(stop)
                continue
            self.healthy = True
            backoff.reset()
            if fired_all:
                await self._sleep(stop)

    def poke(self) -> None:
        """Look for due deadlines at once (called on the runner's loop after a commit)."""
        self._woken.set()

    async def _sleep(self, stop: asyncio.Event) -> None:
        # Cleared before the read: a commit after it pokes the wait below.
        self._woken.clear()
        pending, next_us = await asyncio.to_thread(self.recorder.deadline_summary)
        delay = max(self.poll_s, SAFETY_POLL_S) if self.woken_by_commits() else self.poll_s
        if pending and next_us is not None:
            until = (from_micros(next_us) - self.clock.now()).total_seconds()
            delay = max(0.0, min(delay, until))
        waits: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._woken.wait()),
        ]
        try:
            if isinstance(self.clock, FileClock):
                # A test moves this clock by writing a file: look at it as often as the
                # plain poll would (a read of a small file, no query).
                waits.append(asyncio.ensure_future(_moved(self.clock, self.poll_s)))
            await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    def fire_due(self) -> bool:
        """Fire what is due now, one batch; True when nothing more was due."""
        due = self.recorder.due_deadlines(self.clock.now(), BATCH)
        by_owner: dict[UUID, list[Deadline]] = defaultdict(list)
        for deadline in due:
            by_owner[deadline.owner_id].append(deadline)
        handled: list[str] = []
        failures: list[Exception] = []
        for keys, error in self._pool.map(self._fire_all, by_owner.values()):
            handled += keys
            if error is not None:
                failures.append(error)
        # Normally each is gone with its command's events already; a handler whose command
        # saved nothing leaves its row, removed here (by key: never a later scheduling).
        self.recorder.forget_deadlines(handled)
        if failures:
            raise failures[0]
        return len(due) < BATCH

    def _fire_all(self, deadlines: list[Deadline]) -> tuple[list[str], Exception | None]:
        """Fire one aggregate's due deadlines in order; stop at the first failure."""
        handled: list[str] = []
        for deadline in deadlines:
            try:
                self.fire(deadline)
            except Exception as exc:
                return handled, exc
            handled.append(deadline.key)
        return handled, None

    def fire(self, deadline: Deadline) -> None:
        handler_name = self.rules.handlers.get(deadline.name)
        if handler_name is None:
            log.error("no handler for deadline %s; dropped", deadline.name)
            self.recorder.forget_deadline(deadline.key)
            with self._count_lock:
                self.dropped += 1
            return
        try:
            # The handler's command removes the deadline with its events (`fired=`).
            getattr(self.application, handler_name)(deadline)
        except DomainError as exc:
            # The rules say the command no longer applies: the deadline is moot.
            log.warning("deadline %s refused by its command: %s", deadline.key, exc)
            self.recorder.forget_deadline(deadline.key)
            with self._count_lock:
                self.dropped += 1
            return
        with self._count_lock:
            self.fired += 1
        if self.on_fired is not None:
            self.on_fired(deadline)

    def readiness(self) -> dict[str, Any]:
        return {"ok": self.healthy, "required": False, "fired": self.fired}


async def _moved(clock: FileClock, every_s: float) -> None:
    """Return once the file clock's offset changes."""
    offset = clock.offset()
    # A file has no event to wait on: polling it is the point.
    while clock.offset() == offset:  # noqa: ASYNC110
        await asyncio.sleep(every_s)
