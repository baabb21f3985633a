"""Persisted queries: the dashboard's documents asked for by hash, over HTTP and websocket;
an unknown hash or a text that is not its hash is refused with a code and runs nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
from starlette.testclient import TestClient

from gateway.dashboard import QUERIES
from gateway.main import create_gateway
from gateway.persisted import PersistedQueries, digest
from gateway.tests.support import CONSUMER, Stream, checked_out, published, volunteers_of
from services.kit.auth import DevIssuer
from services.kit.settings import Settings

HOURS = (QUERIES / "school-hours.graphql").read_text(encoding="utf-8")


@pytest.fixture
def client(tmp_path: Path, issuer: DevIssuer):
    settings = Settings(state_dir=tmp_path, auth_jwks_url=str(issuer.jwks_path))
    app = create_gateway(settings, readmodel_dir=tmp_path, start_projector=False)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {issuer.token(role='viewer')}"
        volunteers_of(app).readmodel.apply(
            CONSUMER, Stream()(published("sh1", "s1"), checked_out("sh1", "v1", 2.0))
        )
        yield client


def by_hash(sha: str, **body: Any) -> dict[str, Any]:
    return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}, **body}


def codes(answer: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in answer.get("errors", [])]


def test_the_allow_list_is_every_dashboard_document() -> None:
    queries = PersistedQueries.from_folder(QUERIES)
    names = {path.stem for path in QUERIES.glob("*.graphql")}
    assert set(queries.by_name) == names and len(queries) == len(names)
    assert queries.by_name["school-hours"] == digest(HOURS)


def test_a_document_is_run_by_its_hash(client: TestClient) -> None:
    # The page lists the hashes, then sends only the hash and the variables.
    hashes = client.get("/dashboard/queries.json").json()
    assert hashes["school-hours"] == digest(HOURS)
    body = by_hash(hashes["school-hours"], variables={"first": 10})
    answer = client.post("/graphql", json=body).json()
    assert "errors" not in answer, answer
    node = answer["data"]["schoolHours"]["edges"][0]["node"]
    assert node["schoolId"] == "s1" and node["hours"] == 2.0

    # The text with its hash runs too; a text that is not its hash does not.
    assert (
        "errors"
        not in client.post(
            "/graphql", json=by_hash(digest(HOURS), query=HOURS, variables={"first": 1})
        ).json()
    )
    wrong = client.post("/graphql", json=by_hash("0" * 64, query=HOURS)).json()
    assert codes(wrong) == ["BAD_USER_INPUT"] and wrong["data"] is None


def test_an_unknown_hash_is_refused(client: TestClient) -> None:
    answer = client.post("/graphql", json=by_hash(digest("{ city { code } }"))).json()
    assert codes(answer) == ["PERSISTED_QUERY_NOT_FOUND"] and answer["data"] is None
    bad = client.post(
        "/graphql", json={"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "x"}}}
    ).json()
    assert codes(bad) == ["BAD_USER_INPUT"]


def test_a_subscription_is_asked_for_by_hash(client: TestClient, issuer: DevIssuer) -> None:
    sha = digest((QUERIES / "shift-changed.graphql").read_text(encoding="utf-8"))
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        token = issuer.token(role="viewer")
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": by_hash("f" * 64)})
        refused = ws.receive_json()
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        ws.send_json({"id": "2", "type": "subscribe", "payload": by_hash(sha)})
        ws.send_json({"type": "ping"})
        # Accepted: no error comes back for it, the connection answers.
        assert ws.receive_json()["type"] == "pong"

        # A second viewer's subscription joins the first's: one read-model queue for both,
        # and one change reaches both.
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as other:
            other.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            assert other.receive_json()["type"] == "connection_ack"
            other.send_json({"id": "7", "type": "subscribe", "payload": by_hash(sha)})
            other.send_json({"type": "ping"})
            assert other.receive_json()["type"] == "pong"
            app = cast(Any, client.app)
            deadline = time.monotonic() + 10
            while volunteers_of(app).broadcaster.subscribers != 1:
                assert time.monotonic() < deadline, "the subscription never registered"
                time.sleep(0.01)
            stream = Stream()
            stream.seq = 100  # After the fixture's events.
            volunteers_of(app).readmodel.apply(CONSUMER, stream(published("sh9", "s1")))
            for socket, op in ((ws, "2"), (other, "7")):
                pushed = socket.receive_json()
                assert pushed["id"] == op and pushed["type"] == "next"
                assert pushed["payload"]["data"]["shiftChanged"]["id"] == "sh9"
            assert volunteers_of(app).broadcaster.subscribers == 1


def test_an_answer_is_kept_until_a_read_model_changes(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = cast(Any, client.app)
    readmodel = volunteers_of(app).readmodel
    body = by_hash(digest(HOURS), variables={"first": 10})
    first = client.post("/graphql", json=body).json()
    assert first["data"]["schoolHours"]["edges"][0]["node"]["hours"] == 2.0

    # Nothing changed: the same answer, without reading the read model again.
    def unread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the read model was read again")

    with monkeypatch.context() as patched:
        patched.setattr(readmodel, "school_hours", unread)
        assert client.post("/graphql", json=body).json() == first
        # Another variable, or another role's visibility, is another answer.
        other = client.post("/graphql", json=by_hash(digest(HOURS), variables={"first": 5}))
        assert "errors" in other.json()

    # An event applied: the next answer is read anew.
    stream = Stream()
    stream.seq = 100
    readmodel.apply(CONSUMER, stream(checked_out("sh1", "v2", 3.0)))
    again = client.post("/graphql", json=body).json()
    assert again["data"]["schoolHours"]["edges"][0]["node"]["hours"] == 5.0


def test_dashboards_asking_at_once_wait_for_one_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    readmodel = volunteers_of(cast(Any, client.app)).readmodel
    reads: list[int] = []
    read = readmodel.school_hours

    def slow_read(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        time.sleep(0.5)  # Long enough for the others to ask meanwhile.
        return read(*args, **kwargs)

    monkeypatch.setattr(readmodel, "school_hours", slow_read)
    body = by_hash(digest(HOURS), variables={"first": 3})
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.post("/graphql", json=body).json(), range(4)))
    assert all(a == answers[0] and "errors" not in a for a in answers), answers
    assert len(reads) == 1
