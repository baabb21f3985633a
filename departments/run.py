"""Running a department system until it is told to stop, and retrying what the bus refuses
while the platform starts (a stream not created yet)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("departments")


def until_stopped(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)` with SIGTERM and SIGINT setting `stop`."""
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(run())


async def patiently(action: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
    """`action()`, retried with backoff until it succeeds or `stop` is set."""
    delay = 0.5
    while not stop.is_set():
        try:
            return await action()
        except Exception as exc:  # the bus or the stream is not there yet
            log.warning("retrying in %.1f s: %s", delay, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 30.0)
    return None
