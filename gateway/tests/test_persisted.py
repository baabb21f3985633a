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


def test_a_kept_answer_goes_only_to_a_caller_with_a_good_token(
    client: TestClient, issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    readmodel = volunteers_of(cast(Any, client.app)).readmodel
    body = by_hash(digest(HOURS), variables={"first": 10})
    kept = client.post("/graphql", json=body)
    assert kept.headers["content-type"] == "application/json"

    def unread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the read model was read again")

    monkeypatch.setattr(readmodel, "school_hours", unread)
    # Answered before GraphQL, with the same bytes the GraphQL path sent.
    again = client.post("/graphql", json=body)
    assert again.status_code == 200 and again.content == kept.content
    assert again.headers["content-type"] == "application/json"
    # Without a token, with a forged or an expired one: refused as ever, nothing read.
    forged = issuer.token(role="viewer") + "x"
    expired = issuer.token(role="viewer", ttl_s=-60)
    for authorization in ("", f"Bearer {forged}", f"Bearer {expired}"):
        refused = client.post("/graphql", json=body, headers={"Authorization": authorization})
        assert codes(refused.json()) == ["UNAUTHENTICATED"], authorization


def test_a_kept_answer_is_keyed_by_visibility_not_by_person(
    client: TestClient, issuer: DevIssuer
) -> None:
    import asyncio

    from starlette.requests import Request

    from gateway.context import GatewayContext
    from gateway.kept_answers import answer_key

    app = cast(Any, client.app)
    middleware = next(m for m in app.user_middleware if m.cls.__name__ == "KeptAnswersFirst")
    kept = middleware.kwargs["kept"]

    def key_for(token: str, variables: dict[str, Any]) -> Any:
        context = GatewayContext(features=app.state.features, verifier=app.state.verifier)
        headers = [(b"authorization", f"Bearer {token}".encode())]
        context.request = Request({"type": "http", "headers": headers})
        return asyncio.run(answer_key(kept, context, digest(HOURS), variables, None))

    viewer = key_for(issuer.token(role="viewer", subject="a"), {"first": 10})
    assert viewer is not None
    assert key_for(issuer.token(role="viewer", subject="b"), {"first": 10}) == viewer
    assert key_for(issuer.token(role="viewer", subject="a"), {"first": 5}) != viewer
    staff = issuer.token(role="school-staff", department="edu", scope="school:s1")
    assert key_for(staff, {"first": 10}) != viewer
    assert key_for("not-a-token", {"first": 10}) is None
    anyone = GatewayContext(features=app.state.features, verifier=app.state.verifier)
    assert asyncio.run(answer_key(kept, anyone, "0" * 64, {}, None)) is None  # not kept


def test_a_commit_by_another_connection_changes_the_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from gateway.core.projection import SqliteProjection

    readmodel = volunteers_of(cast(Any, client.app)).readmodel
    body = by_hash(digest(HOURS), variables={"first": 10})
    first = client.post("/graphql", json=body).json()
    assert first["data"]["schoolHours"]["edges"][0]["node"]["hours"] == 2.0
    # Another process's projector writing the same file: seen once the bound has passed.
    monkeypatch.setattr(SqliteProjection, "DATA_VERSION_FRESH_S", 0.0)
    with sqlite3.connect(readmodel.path) as other:
        other.execute("UPDATE school_hours SET hours = 7.5 WHERE school_id = 's1'")
    again = client.post("/graphql", json=body).json()
    assert again["data"]["schoolHours"]["edges"][0]["node"]["hours"] == 7.5


def test_bad_bodies_go_on_to_graphql_unchanged(client: TestClient) -> None:
    sha = digest(HOURS)
    client.post("/graphql", json=by_hash(sha, variables={"first": 10}))  # kept from now on
    broken = client.post(
        "/graphql", content=b'{"extensions": ', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    wrong = client.post("/graphql", json=by_hash(sha, variables={"first": "ten"})).json()
    assert codes(wrong) == ["BAD_USER_INPUT"]
    # Another operation name is another key: strawberry refuses the name, as ever.
    named = client.post(
        "/graphql", json=by_hash(sha, variables={"first": 10}, operationName="Other")
    )
    assert named.status_code == 400 and "Other" in named.text
    listed = client.post("/graphql", json=[by_hash(sha, variables={"first": 10})])
    assert listed.status_code in {200, 400}


def test_an_expired_answer_is_served_only_while_its_successor_is_computed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from strawberry.types import ExecutionResult

    from gateway import persisted

    now = [1000.0]
    monkeypatch.setattr(persisted.time, "monotonic", lambda: now[0])
    kept = persisted.KeptAnswers(PersistedQueries.from_folder(QUERIES))
    key = ("school-hours", "v1")
    kept.put(key, ExecutionResult(data={"schoolHours": {"edges": []}}, errors=None))
    assert kept.body(key) == b'{"data":{"schoolHours":{"edges":[]}}}'

    now[0] += persisted.ANSWER_TTL_S + 1
    assert kept.body(key) is None  # expired: the next caller computes it again
    loop = asyncio.new_event_loop()
    try:
        kept.pending[key] = loop.create_future()
        assert kept.body(key) == b'{"data":{"schoolHours":{"edges":[]}}}'  # meanwhile
        assert kept.body(("school-hours", "v2")) is None  # another version: never
        now[0] += persisted.STALE_SERVED_S
        assert kept.body(key) is None  # too old even while computing
    finally:
        loop.close()


def test_the_version_is_read_while_a_batch_holds_the_write_lock(client: TestClient) -> None:
    import threading

    readmodel = volunteers_of(cast(Any, client.app)).readmodel
    before = readmodel.version()
    seen: list[tuple[int, int]] = []
    with readmodel._locked():  # a batch being applied
        reader = threading.Thread(target=lambda: seen.append(readmodel.version()), daemon=True)
        reader.start()
        reader.join(30)
        assert seen == [before], "the version waited for the batch's lock"
