"""shiftChanged over graphql-transport-ws, fed by the read model's change hook."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.main import create_gateway
from gateway.tests.support import CONSUMER, Stream, published, signed_up, volunteers_of
from services.kit.auth import DevIssuer
from services.kit.settings import Settings

PROTOCOL = ["graphql-transport-ws"]


@pytest.fixture
def app(tmp_path: Path, issuer: DevIssuer):
    settings = Settings(state_dir=tmp_path, auth_jwks_url=str(issuer.jwks_path))
    return create_gateway(settings, readmodel_dir=tmp_path, start_projector=False)


def wait_for_subscribers(app, count: int) -> None:
    deadline = time.monotonic() + 5
    while volunteers_of(app).broadcaster.subscribers != count:
        assert time.monotonic() < deadline, "the subscription never registered"
        time.sleep(0.01)


class TestShiftChanged:
    def test_changes_are_pushed_for_the_school_asked(self, app, issuer):
        token = issuer.token(role="school-staff", scope="school:s1")
        stream = Stream()
        with (
            TestClient(app) as client,
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
        ):
            # Authenticate in connection_init, then subscribe to one school's shifts.
            ws.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": 'subscription { shiftChanged(schoolId: "s1") '
                        "{ id placesFilled placesLeft } }"
                    },
                }
            )
            wait_for_subscribers(app, 1)

            # The projector applies events in a worker thread; here, the test's thread.
            readmodel = volunteers_of(app).readmodel
            readmodel.apply(CONSUMER, stream(published("other", "s2"), published("sh1", "s1")))
            first = ws.receive_json()
            assert first == {
                "id": "1",
                "type": "next",
                "payload": {
                    "data": {"shiftChanged": {"id": "sh1", "placesFilled": 0, "placesLeft": 3}}
                },
            }
            readmodel.apply(CONSUMER, stream(signed_up("sh1", "v1", 1)))
            assert ws.receive_json()["payload"]["data"]["shiftChanged"]["placesFilled"] == 1

            # Completing the subscription releases its queue.
            ws.send_json({"id": "1", "type": "complete"})
            wait_for_subscribers(app, 0)

    def test_subscriptions_per_connection_are_capped(self, app, issuer):
        from gateway.schema import MAX_SUBSCRIPTIONS_PER_CONNECTION as cap

        token = issuer.token(role="viewer")
        with (
            TestClient(app) as client,
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
        ):
            ws.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            query = {"query": "subscription { shiftChanged { id } }"}
            for n in range(cap + 1):
                ws.send_json({"id": str(n), "type": "subscribe", "payload": query})
            refused = ws.receive_json()
            assert refused["id"] == str(cap) and refused["type"] == "error"
            wait_for_subscribers(app, cap)

    def test_a_connection_without_a_token_is_rejected(self, app):
        with (
            TestClient(app) as client,
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
        ):
            ws.send_json({"type": "connection_init", "payload": {}})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4403

    def test_a_subscription_ends_when_the_token_expires(self, app, issuer):
        # Long enough for a loaded machine to start every feature before the token runs out.
        token = issuer.token(role="viewer", ttl_s=5)
        with (
            TestClient(app) as client,
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
        ):
            ws.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            query = {"query": "subscription { shiftChanged { id } }"}
            ws.send_json({"id": "1", "type": "subscribe", "payload": query})
            wait_for_subscribers(app, 1)
            volunteers_of(app).readmodel.apply(CONSUMER, Stream()(published("sh1", "s1")))
            assert ws.receive_json()["payload"]["data"] == {"shiftChanged": {"id": "sh1"}}

            # Nothing changes; at expiry the subscription ends on its own.
            ended = ws.receive_json()
            assert ended["id"] == "1" and ended["type"] == "next"
            assert ended["payload"]["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
            assert ws.receive_json() == {"id": "1", "type": "complete"}
            wait_for_subscribers(app, 0)
            # The connection's token is no longer good for anything.
            ws.send_json({"id": "2", "type": "subscribe", "payload": query})
            refused = ws.receive_json()
            assert refused["id"] == "2" and refused["type"] == "error"
            assert refused["payload"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
            assert volunteers_of(app).broadcaster.subscribers == 0
