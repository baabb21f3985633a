"""Reading JetStream streams back in tests, and running kit workers as tasks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError


@dataclass(frozen=True)
class StoredMessage:
    """A message as stored in a stream."""

    seq: int
    subject: str
    headers: dict[str, str]
    data: bytes


async def delete_all_streams(url: str) -> None:
    """Delete every stream, so what comes next starts from an empty JetStream."""
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=1)
    try:
        js = nc.jetstream(timeout=10)
        for info in await js.streams_info():
            assert info.config.name is not None
            await js.delete_stream(info.config.name)
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def nats_client(url: str) -> AsyncIterator[Client]:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=5)
    try:
        yield nc
    finally:
        await nc.close()


async def stream_last_seq(url: str, stream: str) -> int:
    """The stream's last sequence, or 0 when it does not exist (yet)."""
    async with nats_client(url) as nc:
        try:
            info = await nc.jetstream(timeout=5).stream_info(stream)
        except NotFoundError:
            return 0
        return int(info.state.last_seq or 0)


async def read_stream(url: str, stream: str, subject: str = ">") -> list[StoredMessage]:
    """Every message in the stream, in stream order, through an ephemeral pull consumer."""
    async with nats_client(url) as nc:
        js = nc.jetstream(timeout=10)
        info = await js.stream_info(stream)
        total = int(info.state.messages or 0)
        out: list[StoredMessage] = []
        if total == 0:
            return out
        subscription = await js.pull_subscribe(
            subject,
            stream=stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                inactive_threshold=30.0,
            ),
        )
        try:
            while len(out) < total:
                try:
                    batch = await subscription.fetch(min(total - len(out), 1000), timeout=2.0)
                except (NatsTimeoutError, TimeoutError):
                    break
                for msg in batch:
                    out.append(
                        StoredMessage(
                            seq=msg.metadata.sequence.stream,
                            subject=msg.subject,
                            headers=dict(msg.headers or {}),
                            data=msg.data,
                        )
                    )
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        return out


@contextlib.asynccontextmanager
async def running(
    run: Callable[[asyncio.Event], Awaitable[None]], *, stop_timeout: float = 15.0
) -> AsyncIterator[asyncio.Event]:
    """Run a kit worker (`relay.run`, `consumer.run`) as a task; stop it on exit.

    >>> async with running(relay.run):
    ...     await eventually(lambda: relay.position == head)
    """
    stop = asyncio.Event()
    task = asyncio.ensure_future(run(stop))
    try:
        yield stop
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, stop_timeout)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
