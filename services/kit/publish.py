"""JetStream publishes for the relay's hot path: the header block encoded in one go.

nats-py's `publish_async` encodes a message's headers key by key (a regular expression,
a strip, a translation and four buffer appends per header): with the ten headers of a
binary-mode CloudEvent that was the largest single cost of the relay's publish loop. The
relay's headers are its own (fixed keys, values from the published form), so they are
joined and encoded once, into the bytes nats-py would have sent
(`services/kit/tests/test_publish.py` compares them), and handed to the same
acknowledgement bookkeeping `publish_async` uses.

The bookkeeping is nats-py's own (its async-reply subscription, futures and pending
semaphore), reached through attributes of nats-py 2.16; a client without them is
published to through `publish_async` as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from secrets import token_hex
from typing import Any

from nats.errors import (
    ConnectionClosedError,
    ConnectionDrainingError,
    MaxPayloadError,
    OutboundBufferLimitError,
)
from nats.js import JetStreamContext
from nats.protocol.command import hpub_cmd

HEADER_LINE = b"NATS/1.0\r\n"
CRLF = b"\r\n"
_NEWLINES = str.maketrans({"\r": " ", "\n": " "})
_INTERNALS = (
    "_async_reply_prefix",
    "_init_async_reply",
    "_publish_async_pending_semaphore",
    "_publish_async_futures",
    "_publish_async_completed_event",
)


def header_block(headers: Mapping[str, str]) -> bytes:
    """The NATS header block of `headers`, byte for byte as nats-py encodes it.

    Keys are the caller's own and valid; values are stripped and a line break inside
    one becomes a space, as nats-py does.
    """
    text = "".join([f"{k}: {v.strip()}\r\n" for k, v in headers.items()])
    if text.count("\n") != len(headers) or text.count("\r") != len(headers):
        text = "".join([f"{k}: {v.strip().translate(_NEWLINES)}\r\n" for k, v in headers.items()])
    return HEADER_LINE + text.encode() + CRLF


def can_publish_encoded(js: JetStreamContext) -> bool:
    """Whether this client has the bookkeeping `publish_encoded` relies on."""
    return all(hasattr(js, name) for name in _INTERNALS) and hasattr(js._nc, "_send_command")


async def publish_encoded(
    js: JetStreamContext, subject: str, payload: bytes, header: bytes
) -> asyncio.Future[Any]:
    """`js.publish_async(subject, payload, headers=...)` with the header block given.

    Returns the future of the stream's acknowledgement, as `publish_async` does.
    """
    nc = js._nc
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
    if not js._async_reply_prefix:
        await js._init_async_reply()
    # Waits while too many acknowledgements are outstanding, as publish_async does.
    await js._publish_async_pending_semaphore.acquire()
    token = nc._nuid.next()
    token.extend(token_hex(2).encode())
    key = token.decode()
    prefix = js._async_reply_prefix
    assert prefix is not None
    reply = prefix.decode() + key
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def done(_: asyncio.Future[Any]) -> None:
        js._publish_async_futures.pop(key, None)
        if not js._publish_async_futures:
            js._publish_async_completed_event.set()
        js._publish_async_pending_semaphore.release()

    future.add_done_callback(done)
    js._publish_async_futures[key] = future
    js._publish_async_completed_event.clear()
    nc.stats["out_msgs"] += 1
    nc.stats["out_bytes"] += len(payload)
    await nc._send_command(hpub_cmd(subject, reply, header, payload))
    if nc._flush_queue is not None and nc._flush_queue.empty():
        await nc._flush_pending()
    return future
