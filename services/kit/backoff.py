"""The one retry pause of the kit: doubling from a first delay up to a cap, cut short by stop."""

from __future__ import annotations

import asyncio
import contextlib


class Backoff:
    """A growing wait between attempts (doubling up to a cap), cut short by `stop`."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self.delay = first

    def reset(self) -> None:
        self.delay = self.first

    async def wait(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.delay)
        self.delay = min(self.delay * 2, self.cap)
