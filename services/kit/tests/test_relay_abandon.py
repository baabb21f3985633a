"""Acks the relay gives up on (after a failover) never surface as unretrieved errors."""

from __future__ import annotations

import asyncio
import gc
from collections import deque
from typing import Any

from services.kit.publish import AckInbox
from services.kit.relay import _abandon


class Unconnected:
    """An inbox's client before anything is sent: forgetting a batch needs none."""


async def test_abandoned_acks_are_retrieved_whenever_they_fail() -> None:
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))
    try:
        inbox = AckInbox(Unconnected())  # type: ignore[arg-type]
        failed_before = inbox.batch()
        failed_before.fail(ConnectionError("no stream response"))
        waiting = inbox.batch()
        in_flight = deque([(10, failed_before), (20, waiting)])

        _abandon(in_flight, inbox)
        waiting.fail(TimeoutError())  # too late: forgetting it cancelled it
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not in_flight
        assert waiting.future.cancelled()
        del failed_before, waiting, in_flight
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
