"""The relay's header blocks are the bytes nats-py itself sends for the same headers."""

from __future__ import annotations

import pytest
from nats.aio.client import Client
from nats.protocol.command import hpub_cmd

from services.kit.publish import header_block

HEADERS = {
    "ce-specversion": "1.0",
    "ce-id": "volunteers-42",
    "ce-source": "/tongxin/volunteers",
    "ce-type": "org.tongxin.volunteers.volunteer-registered.v2",
    "ce-time": "2026-11-29T08:00:00+00:00",
    "ce-sequence": "42",
    "content-type": "application/json",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "Nats-Msg-Id": "volunteers-42",
    "Nats-Expected-Last-Msg-Id": "volunteers-41",
}


async def nats_py_bytes(headers: dict[str, str]) -> bytes:
    """What nats-py's own publish puts on the wire for these headers."""
    sent: list[bytes] = []
    client = Client()

    async def capture(cmd: bytes, priority: bool = False) -> None:
        sent.append(cmd)

    client._send_command = capture  # type: ignore[method-assign]
    client._flush_queue = None
    await client._send_publish("evt.cyl.volunteers.x", "_INBOX.r.1", b"{}", 2, headers)
    (command,) = sent
    return command


@pytest.mark.parametrize(
    "headers",
    [
        HEADERS,
        {"Nats-Msg-Id": "m-1"},
        # A value with a line break or padding is sent as nats-py sends it.
        HEADERS | {"ce-subject": " a\r\nb ", "x-note": "one\ntwo"},
    ],
)
async def test_a_header_block_is_what_nats_py_sends(headers: dict[str, str]) -> None:
    ours = hpub_cmd("evt.cyl.volunteers.x", "_INBOX.r.1", header_block(headers), b"{}")
    assert ours == await nats_py_bytes(headers)
