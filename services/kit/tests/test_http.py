"""The service app factory through httpx.ASGITransport: problems, limits, probes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from starlette.requests import Request

from services.kit.application import CommandKey, RequestDigests
from services.kit.auth import DevIssuer, JwksVerifier
from services.kit.errors import ConflictError
from services.kit.http import Caller, IdempotencyKey, create_app, request_path
from services.kit.settings import Settings


class Body(BaseModel):
    name: str
    size: int


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path / "keys")


@pytest.fixture
async def client(issuer: DevIssuer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    state: dict[str, Any] = {"ready": True}
    settings = Settings(state_dir=tmp_path, max_body_bytes=2048)

    async def readiness() -> dict[str, Any]:
        return {"store": {"ok": True}, "nats": {"ok": state["ready"]}}

    app = create_app(
        title="tiny",
        settings=settings,
        readiness=readiness,
        verifier=JwksVerifier(str(issuer.jwks_path), issuer="tongxin-dev", audience="tongxin"),
        request_digests=RequestDigests(b"the tiny app's digest secret"),
    )

    @app.post("/things")
    async def make(body: Body, caller: Caller, key: IdempotencyKey) -> dict[str, Any]:
        return {"name": body.name, "by": caller.subject, "key": key.key if key else None}

    @app.post("/keyed/{thing_id}")
    async def keyed(thing_id: str, key: IdempotencyKey, caller: Caller) -> dict[str, Any]:
        # The key before the caller: the key's principal must not depend on that order.
        assert key is not None
        digests: RequestDigests = app.state.request_digests
        expected = CommandKey.of(caller.subject, key.key, f"POST /keyed/{thing_id}", b"{}", digests)
        return {"principal": key.principal, "same": key == expected}

    @app.post("/conflict")
    async def conflict(caller: Caller) -> None:
        raise ConflictError("busy")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tiny") as http:
        http.state = state  # type: ignore[attr-defined]
        yield http


def bearer(issuer: DevIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(role='coordinator', subject='li')}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"].endswith(code) and body["title"] and "detail" in body
    return body


async def test_a_valid_command(client: httpx.AsyncClient, issuer: DevIssuer) -> None:
    response = await client.post(
        "/things", json={"name": "a", "size": 1}, headers=bearer(issuer) | {"Idempotency-Key": "k1"}
    )
    assert response.status_code == 200
    assert response.json() == {"name": "a", "by": "li", "key": "k1"}


async def test_invalid_body_is_a_422_problem(client: httpx.AsyncClient, issuer: DevIssuer) -> None:
    response = await client.post("/things", json={"name": "a"}, headers=bearer(issuer))
    body = assert_problem(response, 422, "invalid-request")
    assert body["errors"][0]["loc"][-1] == "size"


async def test_domain_errors_map_to_problems(client: httpx.AsyncClient, issuer: DevIssuer) -> None:
    assert_problem(await client.post("/conflict", headers=bearer(issuer)), 409, "conflict")
    assert_problem(await client.get("/nowhere"), 404, "http-404")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer x.y.z"},
    ],
)
async def test_missing_or_bad_tokens_are_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/things", json={"name": "a", "size": 1}, headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_bad_idempotency_key_is_refused(
    client: httpx.AsyncClient, issuer: DevIssuer
) -> None:
    response = await client.post(
        "/things",
        json={"name": "a", "size": 1},
        headers=bearer(issuer) | {"Idempotency-Key": "x" * 201},
    )
    assert_problem(response, 422, "rule-violated")


async def test_an_oversize_body_is_413(client: httpx.AsyncClient, issuer: DevIssuer) -> None:
    big = {"name": "a" * 5000, "size": 1}
    assert_problem(
        await client.post("/things", json=big, headers=bearer(issuer)), 413, "body-too-large"
    )


async def test_an_oversize_chunked_body_without_length_is_413(
    client: httpx.AsyncClient, issuer: DevIssuer
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"a" * 500
        yield b'", "size": 1}'

    response = await client.post(
        "/things", content=chunks(), headers=bearer(issuer) | {"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "body-too-large")


async def test_probes_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    client.state["ready"] = False  # type: ignore[attr-defined]
    not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["nats"] == {"ok": False}
    # The kit's own series are exported once a relay or consumer has counted.
    from services.kit import consumer, relay

    relay.PUBLISHED.labels("kit-test").inc(3)
    consumer.DEAD.labels("kit-test").inc()
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'tongxin_relay_published_total{service="kit-test"} 3.0' in metrics.text
    assert 'tongxin_consumer_dead_lettered_total{consumer="kit-test"} 1.0' in metrics.text


def test_a_403_is_documented_as_role_department_or_scope() -> None:
    # Since the department-aware policy a refusal may name the caller's department alone.
    from services.kit.http import problems

    assert problems(403)[403]["description"] == (
        "The caller's role, department or scope does not allow this."
    )


async def test_a_commands_key_names_its_caller_and_route(
    client: httpx.AsyncClient, issuer: DevIssuer
) -> None:
    response = await client.post(
        "/keyed/t1", content=b"{}", headers=bearer(issuer) | {"Idempotency-Key": "k2"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"principal": "li", "same": True}
    unauthenticated = await client.post(
        "/keyed/t1", content=b"{}", headers={"Idempotency-Key": "k"}
    )
    assert_problem(unauthenticated, 401, "unauthenticated")


@pytest.mark.parametrize(
    "path",
    [
        "/volunteers",
        "/shifts/a b/sign-ups",
        "//twice",
        "/q?mark",
        "/h#sh",
        "/back\\slash",
        "/t\tab",
        "/new\nline",
        "/\u540c\u5fc3",
    ],
)
@pytest.mark.parametrize("host", [[(b"host", b"tongxin.example:8001")], []])
def test_the_path_in_a_requests_digest_is_starlettes(path: str, host: list[Any]) -> None:
    # Records written before keep their digests: the path must read as request.url.path.
    scope = {"type": "http", "method": "POST", "path": path, "headers": host, "query_string": b""}
    assert request_path(scope) == Request(scope).url.path
