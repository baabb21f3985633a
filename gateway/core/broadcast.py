"""An in-process fan-out of read-model changes to GraphQL subscribers.

A projector applies events in a worker thread; `publish_threadsafe` is the read
model's `on_change` callback and hops to the event loop. Each subscriber has its
own bounded set of changed keys not yet read (`ChangedKeys`): a key changed again
before it is read is pending once (the read shows both changes), a subscriber takes
every pending key at once (one read for a burst of changes, not one read per change
queued behind the others), and a slow one loses its oldest keys, never blocks the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

log = logging.getLogger(__name__)


class TooManySubscribersError(RuntimeError):
    """The gateway already serves as many subscriptions as it allows."""


class ChangedKeys:
    """One subscriber's changed keys not yet read: each once, oldest first, at most `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._keys: dict[str, None] = {}
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key in self._keys:
                continue  # Still to be read: that read will show this change too.
            if len(self._keys) >= self.limit:
                del self._keys[next(iter(self._keys))]
            self._keys[key] = None
        if self._keys:
            self._ready.set()

    async def take(self) -> tuple[str, ...]:
        """Every pending key, oldest first, once there is at least one."""
        await self._wait()
        keys = tuple(self._keys)
        self._keys.clear()
        self._ready.clear()
        return keys

    async def get(self) -> str:
        """The oldest pending key, once there is one (as a queue's `get`)."""
        await self._wait()
        key = next(iter(self._keys))
        del self._keys[key]
        return key

    async def _wait(self) -> None:
        while not self._keys:
            self._ready.clear()
            await self._ready.wait()


class Broadcaster:
    """Pushes the keys (ids) of changed items to every subscriber's queue."""

    def __init__(self, *, queue_size: int = 256, max_subscribers: int = 1000) -> None:
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: set[ChangedKeys] = set()

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
        """On the loop: add the keys to every subscriber's pending ones."""
        changed = tuple(keys)
        for queue in list(self._queues):
            queue.add(changed)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[ChangedKeys]:
        if len(self._queues) >= self.max_subscribers:
            raise TooManySubscribersError("too many subscriptions; try again later")
        queue = ChangedKeys(self.queue_size)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
