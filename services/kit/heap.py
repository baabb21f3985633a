"""A process's start-up heap, kept out of the garbage collector's full collections.

A service process imports FastAPI, pydantic, eventsourcing, psycopg, nats, OpenTelemetry
and its own modules: about 140,000 objects that live as long as the process. CPython's
collector goes through every one of them in each collection of its oldest generation,
which it runs every few tens of thousands of surviving allocations. That took 150-200 ms
of CPU on the 2-core machine (about 1 us an object), with the process's every thread and
its event loop held meanwhile: each API process stopped that long every ten seconds or so
at 50 commands/s, and every command that arrived meanwhile waited for it.

`settle()` collects once and then freezes whatever is left (`gc.freeze`): the frozen
objects are never examined again, so a full collection only goes through what was made
since (the aggregate cache, requests in flight). Garbage among the frozen objects is never
freed: settle only once the start-up's work is done, and only in a process's entry point,
never in a library or a test that builds apps over and over.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from services.kit.warmup import warm_up

if TYPE_CHECKING:
    from fastapi import FastAPI


def settle() -> None:
    """Free the start-up's garbage, then freeze every object left."""
    gc.collect()
    gc.freeze()


def settle_after_startup(app: FastAPI) -> None:
    """Once `app`'s lifespan has started (its pools, caches, workers), do its first-use work
    (`services.kit.warmup`), then settle the heap, before the server takes a request."""
    started: Callable[[Any], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def settled(running: Any) -> AsyncIterator[Any]:
        async with started(running) as state:
            await warm_up(app)
            settle()
            yield state

    app.router.lifespan_context = settled
