"""The relay's header blocks are the bytes nats-py sends; its acknowledgements count per batch."""

from __future__ import annotations

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import (
    APIError,
    BadRequestError,
    NoStreamResponseError,
    ServiceUnavailableError,
)
from nats.protocol.command import hpub_cmd

from services.kit.publish import AckInbox, PublishBatch, header_block

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


class Wire:
    """A connected client as far as the inbox needs one: it records what is sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.stats = {"out_msgs": 0, "out_bytes": 0}
        self.is_closed = False
        self.is_draining_pubs = False
        self.is_connected = True
        self._max_payload = 1 << 20
        self._flush_queue = None

    def new_inbox(self) -> str:
        return "_INBOX.test"

    async def subscribe(self, subject: str, cb: object) -> None:
        assert subject == "_INBOX.test.*"

    async def _send_command(self, command: bytes, priority: bool = False) -> None:
        self.sent.append(command)

    async def _flush_pending(self) -> None:
        return None


def ack(token: str, data: bytes, headers: dict[str, str] | None = None) -> Msg:
    return Msg(_client=None, subject=f"_INBOX.test.{token}", data=data, headers=headers)  # type: ignore[arg-type]


async def inbox_with_batch(messages: int) -> tuple[AckInbox, PublishBatch, Wire]:
    wire = Wire()
    inbox = AckInbox(wire)  # type: ignore[arg-type]
    await inbox.open()
    batch = inbox.batch()
    for n in range(messages):
        await inbox.publish(batch, "evt.x", b"{}", {"Nats-Msg-Id": f"m-{n}"})
    return inbox, batch, wire


async def test_a_batch_is_done_when_each_of_its_publishes_is_acknowledged_once() -> None:
    inbox, batch, wire = await inbox_with_batch(3)
    assert [c.split(b" ")[2] for c in wire.sent] == [
        b"_INBOX.test.1",
        b"_INBOX.test.2",
        b"_INBOX.test.3",
    ]
    inbox.seal(batch)
    await inbox._on_ack(ack("1", b'{"stream":"S","seq":1}'))
    await inbox._on_ack(ack("1", b'{"stream":"S","seq":1}'))  # counted once
    await inbox._on_ack(ack("9", b'{"stream":"S","seq":9}'))  # not this batch's
    assert not batch.future.done()
    await inbox._on_ack(ack("2", b'{"stream":"S","seq":2,"duplicate":true}'))
    assert not batch.future.done()
    await inbox._on_ack(ack("3", b'{"stream":"S","seq":3}'))
    assert batch.future.done() and batch.future.result() is None
    assert batch.size == 3


async def test_an_unsealed_batch_is_not_done_before_its_last_publish() -> None:
    inbox, batch, _ = await inbox_with_batch(1)
    await inbox._on_ack(ack("1", b'{"stream":"S","seq":1}'))
    assert not batch.future.done()
    inbox.seal(batch)
    assert batch.future.done()


@pytest.mark.parametrize(
    ("reply", "headers", "error"),
    [
        (
            b'{"error":{"code":400,"err_code":10071,"description":"wrong last msg ID: m-0"}}',
            None,
            BadRequestError,
        ),
        (b'{"error":{"code":503,"description":"unavailable"}}', None, ServiceUnavailableError),
        (b"", {"Status": "503"}, NoStreamResponseError),
        (b"not json", None, APIError),
    ],
)
async def test_an_error_acknowledgement_fails_its_batch_at_once(
    reply: bytes, headers: dict[str, str] | None, error: type[Exception]
) -> None:
    inbox, batch, _ = await inbox_with_batch(2)
    inbox.seal(batch)
    await inbox._on_ack(ack("2", reply, headers))
    assert batch.future.done()
    with pytest.raises(error):
        batch.future.result()
