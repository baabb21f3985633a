"""An in-process fan-out of read-model changes to GraphQL subscribers.

A projector applies events in a worker thread; `publish_threadsafe` is the read
model's `on_change` callback and hops to the event loop. Each subscriber has its
own bounded queue: a slow one loses its oldest pending keys, never blocks the
others (it reads the latest state of what changed anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

log = logging.getLogger(__name__)


class TooManySubscribersError(RuntimeError):
    """The gateway already serves as many subscriptions as it allows."""


class Broadcaster:
    """Pushes the keys (ids) of changed items to every subscriber's queue."""

    def __init__(self, *, queue_size: int = 256, max_subscribers: int = 1000) -> None:
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: set[asyncio.Queue[str]] = set()

    def bind(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Deliver on this loop (the running one by default)."""
        self._loop = loop or asyncio.get_running_loop()

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def publish_threadsafe(self, keys: Iterable[str]) -> None:
        """Callable from any thread; a no-op until bound or once the loop is closed."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        changed = tuple(keys)
        with contextlib.suppress(RuntimeError):  # The loop closed meanwhile.
            loop.call_soon_threadsafe(self.publish, changed)

    def publish(self, keys: Iterable[str]) -> None:
        """On the loop: put the keys on every subscriber's queue."""
        for queue in list(self._queues):
            for key in keys:
                if queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(key)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[str]]:
        if len(self._queues) >= self.max_subscribers:
            raise TooManySubscribersError("too many subscriptions; try again later")
        queue: asyncio.Queue[str] = asyncio.Queue(self.queue_size)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
