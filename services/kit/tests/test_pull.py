"""How the pull requests' status messages end, keep or refuse a request."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from services.kit.pull import ConsumerGone, Puller, RequestRefused


class Inboxes:
    def new_inbox(self) -> str:
        return "_INBOX.test"


def puller() -> Puller:
    made = Puller(
        Inboxes(),  # type: ignore[arg-type]
        stream="VOLUNTEERS",
        durable="gateway-volunteers",
        batch=10,
        expires_s=30.0,
        heartbeat_s=1.0,
    )
    made._left = 7
    return made


def status(code: str, description: str = "") -> Msg:
    headers = {"Status": code, "Description": description}
    return Msg(_client=None, subject="_INBOX.test", headers=headers)  # type: ignore[arg-type]


def delivery() -> Msg:
    reply = "$JS.ACK.VOLUNTEERS.gateway-volunteers.1.42.7.1764400000000000000.3"
    return Msg(_client=None, subject="evt.x", reply=reply, data=b"{}")  # type: ignore[arg-type]


def test_a_delivery_is_handed_on_and_counted_against_the_request() -> None:
    pulling, batch = puller(), []
    pulling._take(delivery(), batch)
    assert len(batch) == 1
    assert pulling._left == 6


def test_a_heartbeat_keeps_the_request() -> None:
    pulling, batch = puller(), []
    pulling._take(status("100", "Idle Heartbeat"), batch)
    assert batch == []
    assert pulling._left == 7


@pytest.mark.parametrize(
    ("code", "description"),
    [("408", "Request Timeout"), ("409", "Leadership Change"), ("409", "Server Shutdown")],
)
def test_an_expired_or_ended_request_is_asked_again(code: str, description: str) -> None:
    pulling, batch = puller(), []
    pulling._take(status(code, description), batch)
    assert batch == []
    assert pulling._left == 0


def test_a_deleted_durable_ends_the_deliveries() -> None:
    with pytest.raises(ConsumerGone):
        puller()._take(status("409", "Consumer Deleted"), [])


@pytest.mark.parametrize(("code", "description"), [("503", ""), ("409", "Exceeded MaxWaiting")])
def test_a_refused_request_is_not_asked_again_at_once(code: str, description: str) -> None:
    with pytest.raises(RequestRefused):
        puller()._take(status(code, description), [])
