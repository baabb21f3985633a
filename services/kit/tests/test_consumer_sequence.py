"""The consumer reads a message's sequences from its ack subject as nats-py does."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from services.kit.consumer import consumer_sequence, pending_after, stream_sequence


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.VOLUNTEERS.gateway-volunteers.1.42.7.1764400000000000000.3",
        "$JS.ACK.hub.ACCHASH.VOLUNTEERS.gateway-volunteers.2.4711.8.1764400000000000000.0.x1",
    ],
)
def test_the_stream_sequence_is_the_one_nats_py_parses(reply: str) -> None:
    msg = Msg(_client=None, subject="evt.cyl.volunteers.x", reply=reply)  # type: ignore[arg-type]
    assert stream_sequence(msg) == msg.metadata.sequence.stream
    assert stream_sequence(msg) in (42, 4711)


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.VOLUNTEERS.gateway-volunteers.1.42.7.1764400000000000000.3",
        "$JS.ACK.hub.ACCHASH.VOLUNTEERS.gateway-volunteers.2.4711.8.1764400000000000000.3.x1",
    ],
)
def test_the_pending_count_is_the_one_nats_py_parses(reply: str) -> None:
    msg = Msg(_client=None, subject="evt.cyl.volunteers.x", reply=reply)  # type: ignore[arg-type]
    assert pending_after(msg) == msg.metadata.num_pending == 3


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.VOLUNTEERS.gateway-volunteers.1.42.7.1764400000000000000.3",
        "$JS.ACK.hub.ACCHASH.VOLUNTEERS.gateway-volunteers.2.4711.7.1764400000000000000.0.x1",
    ],
)
def test_the_delivery_sequence_is_the_one_nats_py_parses(reply: str) -> None:
    msg = Msg(_client=None, subject="evt.cyl.volunteers.x", reply=reply)  # type: ignore[arg-type]
    assert consumer_sequence(msg) == msg.metadata.sequence.consumer == 7
