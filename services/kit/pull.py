"""A durable pull consumer's deliveries, with one pull request kept open on the server.

nats-py's `fetch(batch, timeout)` returns when the batch is full or the request
expires, so a long request holds its first message back, and a short one makes a
caught-up consumer ask the server twice a second. Here one request for up to `batch`
messages stays open for `expires_s`: each message is handed on as soon as it arrives,
together with whatever else has arrived by then, and a new request is sent once the
open one is used up, has expired, or is presumed gone. The server sends a heartbeat
while a request waits idle; silence for three heartbeats (a NATS node lost with the
request on it) or a reconnect (the request went with the old connection) means gone.

Deliveries are handed on exactly as received; whether one is missing (its consumer
sequence tells) is the consumer's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import DEFAULT_PREFIX, Header, StatusCode


class ConsumerGone(Exception):
    """The server ended the pull request because the durable was deleted."""


class RequestRefused(Exception):
    """The server refused the pull request itself."""


class Puller:
    """Pull requests on one inbox for one durable; see the module docstring."""

    def __init__(
        self,
        nc: Client,
        *,
        stream: str,
        durable: str,
        batch: int,
        expires_s: float,
        heartbeat_s: float,
    ) -> None:
        self._nc = nc
        self._next_subject = f"{DEFAULT_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._batch = batch
        self._expires_s = expires_s
        self._heartbeat_s = heartbeat_s
        self._inbox = nc.new_inbox()
        self._queue: asyncio.Queue[Msg | None] = asyncio.Queue()
        self._sub: Subscription | None = None
        self._left = 0  # messages the open request may still bring
        self._until = 0.0  # when it expires (monotonic)
        self._heard = 0.0  # the last message or heartbeat (monotonic)

    async def open(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._received)

    async def close(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            # The connection may be gone, and the subscription with it.
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def wake(self) -> None:
        """End a wait at once (a stop); `next_batch` then returns what it has, maybe none."""
        self._queue.put_nowait(None)

    def forget_request(self) -> None:
        """The open request is gone (a reconnect): ask again, and wake the wait to do so."""
        self._left = 0
        self.wake()

    async def next_batch(self, limit: int) -> list[Msg]:
        """The next messages delivered, at least one, at most `limit`; [] when woken."""
        batch: list[Msg] = []
        while not batch:
            if self._left <= 0 or time.monotonic() >= self._until:
                await self._request()
            wait = max(min(3 * self._heartbeat_s, self._until - time.monotonic()), 0.01)
            try:
                item = await asyncio.wait_for(self._queue.get(), wait)
            except TimeoutError:
                if time.monotonic() - self._heard >= 3 * self._heartbeat_s:
                    self._left = 0  # presumed gone with a lost node: ask again
                continue
            if item is None:
                return batch
            self._take(item, batch)
        # What has arrived meanwhile joins the batch, without waiting for more.
        while len(batch) < limit and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                break
            self._take(item, batch)
        return batch

    async def _received(self, msg: Msg) -> None:
        self._queue.put_nowait(msg)

    def _take(self, msg: Msg, batch: list[Msg]) -> None:
        self._heard = time.monotonic()
        status = msg.headers.get(Header.STATUS) if msg.headers else None
        if not status:
            self._left -= 1
            batch.append(msg)
        elif status == StatusCode.CONTROL_MESSAGE:
            pass  # an idle heartbeat: the request is alive
        elif status == StatusCode.CONFLICT and "deleted" in _description(msg).lower():
            raise ConsumerGone(_description(msg))
        elif status in (StatusCode.REQUEST_TIMEOUT, StatusCode.NO_MESSAGES) or (
            status == StatusCode.CONFLICT and "exceeded" not in _description(msg).lower()
        ):
            # Expired, none, or ended by the server (a leadership change, a shutdown).
            self._left = 0
        else:
            # No responder (no such durable, no permission) or a limit: asking again at
            # once would only be refused again.
            raise RequestRefused(f"{status} {_description(msg)}".strip())

    async def _request(self) -> None:
        # A request sent again while the old one lives on can only add deliveries to the
        # same inbox; the consumer sequence keeps them in order.
        now = time.monotonic()
        request = {
            "batch": self._batch,
            "expires": int(self._expires_s * 1e9),
            "idle_heartbeat": int(self._heartbeat_s * 1e9),
        }
        await self._nc.publish(self._next_subject, json.dumps(request).encode(), self._inbox)
        self._left, self._until, self._heard = self._batch, now + self._expires_s, now


def _description(msg: Msg) -> str:
    return str((msg.headers or {}).get(Header.DESCRIPTION, ""))
