"""Acks the relay gives up on (after a failover) never surface as unretrieved errors."""

from __future__ import annotations

import asyncio
import gc
from collections import deque
from typing import Any

from services.kit.relay import _abandon


async def test_abandoned_acks_are_retrieved_whenever_they_fail() -> None:
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))
    try:
        failed_before: asyncio.Future[Any] = loop.create_future()
        failed_before.set_exception(ConnectionError("no stream response"))
        failing_later: asyncio.Future[Any] = loop.create_future()
        cancelled: asyncio.Future[Any] = loop.create_future()
        in_flight = deque([(10, [failed_before]), (20, [failing_later, cancelled])])

        _abandon(in_flight)
        failing_later.set_exception(TimeoutError())
        cancelled.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not in_flight
        del failed_before, failing_later, cancelled
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert unretrieved == []


async def test_without_abandoning_the_loop_would_complain() -> None:
    # The check above can fail: an unretrieved failed future is reported on collection.
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))
    try:
        future: asyncio.Future[Any] = loop.create_future()
        future.set_exception(ConnectionError("no stream response"))
        del future
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert unretrieved
