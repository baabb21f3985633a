"""JetStream publishes for the relay's hot path: header blocks encoded in one go, and
acknowledgements matched in one handler.

nats-py's `publish_async` encodes a message's headers key by key (a regular expression,
a strip, a translation and four buffer appends per header): with the ten headers of a
binary-mode CloudEvent that was the largest single cost of the relay's publish loop. The
relay's headers are its own (fixed keys, values from the published form), so they are
joined and encoded once, into the bytes nats-py would have sent
(`services/kit/tests/test_publish.py` compares them).

Its acknowledgement bookkeeping was the next cost: a future, a done-callback and a
`PubAck` per message. `AckInbox` instead publishes with reply subjects of its own, under
one wildcard subscription, numbered per message; the acknowledgements count down the
batch they belong to, which has one future. An error acknowledgement fails its batch at
once (nats-py's handler raises inside its callback instead, so the publish's future was
only ever failed by the caller's timeout).

The wire write goes through nats-py's `_send_command` (nats-py 2.16); a client without
it is published to through its public `publish`, with the same reply subjects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import (
    ConnectionClosedError,
    ConnectionDrainingError,
    MaxPayloadError,
    OutboundBufferLimitError,
)
from nats.js.errors import APIError, NoStreamResponseError
from nats.protocol.command import hpub_cmd

HEADER_LINE = b"NATS/1.0\r\n"
CRLF = b"\r\n"
_NEWLINES = str.maketrans({"\r": " ", "\n": " "})
# The status header of a request no stream answered.
NO_RESPONDERS = "503"


def header_block(headers: Mapping[str, str]) -> bytes:
    """The NATS header block of `headers`, byte for byte as nats-py encodes it.

    Keys are the caller's own and valid; values are stripped and a line break inside
    one becomes a space, as nats-py does.
    """
    text = "".join([f"{k}: {v.strip()}\r\n" for k, v in headers.items()])
    if text.count("\n") != len(headers) or text.count("\r") != len(headers):
        text = "".join([f"{k}: {v.strip().translate(_NEWLINES)}\r\n" for k, v in headers.items()])
    return HEADER_LINE + text.encode() + CRLF


class PublishBatch:
    """Publishes acknowledged together: `future` resolves when every one is, or fails first."""

    __slots__ = ("first", "future", "next", "remaining", "sealed")

    def __init__(self, future: asyncio.Future[None], first: int) -> None:
        self.future = future
        self.first = first
        self.next = first
        self.remaining = 0
        self.sealed = False

    @property
    def size(self) -> int:
        return self.next - self.first

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)

    def _acknowledged(self) -> None:
        self.remaining -= 1
        if self.sealed and self.remaining == 0 and not self.future.done():
            self.future.set_result(None)


class AckInbox:
    """One connection's JetStream publishes, acknowledged through one wildcard subscription.

    Each publish's reply subject is the inbox's prefix and a number never used before on
    this inbox, so an acknowledgement counts once, for the batch it was published in, and
    a late one for a forgotten batch is dropped.
    """

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = ""
        self._next = 0
        self._waiting: dict[str, PublishBatch] = {}
        self._raw = hasattr(nc, "_send_command") and hasattr(nc, "_flush_pending")

    async def open(self) -> None:
        self._prefix = self._nc.new_inbox() + "."
        await self._nc.subscribe(self._prefix + "*", cb=self._on_ack)

    def batch(self) -> PublishBatch:
        return PublishBatch(asyncio.get_running_loop().create_future(), self._next + 1)

    def seal(self, batch: PublishBatch) -> None:
        """No more publishes in `batch`: it is done once those made are acknowledged."""
        batch.sealed = True
        if batch.remaining == 0 and not batch.future.done():
            batch.future.set_result(None)

    def forget(self, batch: PublishBatch) -> None:
        """Stop waiting for `batch` (its acknowledgements, if they come, are dropped)."""
        for number in range(batch.first, batch.next):
            self._waiting.pop(str(number), None)
        if not batch.future.done():
            batch.future.cancel()

    async def publish(
        self, batch: PublishBatch, subject: str, payload: bytes, headers: Mapping[str, str]
    ) -> None:
        """Send one message of `batch`; its acknowledgement counts down the batch."""
        nc = self._nc
        self._next += 1
        token = str(self._next)
        reply = self._prefix + token
        if self._raw:
            _check_can_send(nc, payload)
            command = hpub_cmd(subject, reply, header_block(headers), payload)
        # Registered before sending: the acknowledgement can only come after.
        self._waiting[token] = batch
        batch.remaining += 1
        batch.next = self._next + 1
        if not self._raw:
            await nc.publish(subject, payload, reply=reply, headers=dict(headers))
            return
        nc.stats["out_msgs"] += 1
        nc.stats["out_bytes"] += len(payload)
        await nc._send_command(command)
        if nc._flush_queue is not None and nc._flush_queue.empty():
            await nc._flush_pending()

    async def _on_ack(self, msg: Msg) -> None:
        batch = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if batch is None or batch.future.done():
            return
        if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
            batch.fail(NoStreamResponseError())
            return
        try:
            ack = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            batch.fail(APIError(description=f"unreadable acknowledgement {msg.data[:200]!r}"))
            return
        if not isinstance(ack, dict) or "error" in ack or "seq" not in ack:
            batch.fail(_ack_error(ack))
            return
        batch._acknowledged()


def _ack_error(ack: object) -> APIError:
    """The error an acknowledgement reports, as nats-py's classes for it."""
    error = ack.get("error") if isinstance(ack, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), int):
        return APIError(description=f"unexpected acknowledgement {ack!r}")
    try:
        APIError.from_error(error)  # raises the class the code calls for
    except APIError as raised:
        return raised
    return APIError(description=str(error))  # pragma: no cover - from_error always raises


def _check_can_send(nc: Client, payload: bytes) -> None:
    """The checks nats-py's publish makes before it writes."""
    if nc.is_closed:
        raise ConnectionClosedError
    if nc.is_draining_pubs:
        raise ConnectionDrainingError
    if len(payload) > nc._max_payload:
        raise MaxPayloadError
    if not nc.is_connected and (
        nc._max_pending_size <= 0 or len(payload) + nc._pending_data_size > nc._max_pending_size
    ):
        # While reconnecting nats-py buffers publishes, up to its pending size.
        raise OutboundBufferLimitError
