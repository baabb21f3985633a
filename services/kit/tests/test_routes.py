"""Command routes declared through `CommandRoutes`: authorised on the path's values before
the handler runs, refused as problem+json with the handler never called."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import APIRouter, Request

from services.kit.application import CommandKey, RequestDigests
from services.kit.auth import DevIssuer, JwksVerifier, Principal
from services.kit.commands import Command
from services.kit.errors import ForbiddenError
from services.kit.http import create_app
from services.kit.routes import CommandRoutes
from services.kit.settings import Settings


class Rename(Command):
    name: str


class Ledger:
    """Stands for a service's application: what ran, and who may act on what."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, str | None, UUID, str]] = []
        self.checked: list[tuple[str, str, Mapping[str, Any]]] = []


def authorise(app: Ledger, caller: Principal, action: str, path: Mapping[str, Any]) -> None:
    app.checked.append((caller.subject, action, dict(path)))
    if caller.role != "coordinator":
        raise ForbiddenError(f"{caller.role} may not {action}")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    issuer = DevIssuer(tmp_path / "keys")

    async def readiness() -> dict[str, Any]:
        return {}

    app = create_app(
        title="tiny",
        settings=Settings(state_dir=tmp_path),
        readiness=readiness,
        verifier=JwksVerifier(str(issuer.jwks_path), issuer="tongxin-dev", audience="tongxin"),
        request_digests=RequestDigests(b"the tiny app's digest secret"),
    )
    ledger = Ledger()
    router = APIRouter()

    async def application(request: Request) -> Ledger:
        return ledger

    things = CommandRoutes(router, application, authorise=authorise)

    @things.post("/things/{thing_id}/name", action="rename", status_code=201)
    def rename(
        app: Ledger, key: CommandKey | None, caller: Principal, thing_id: UUID, body: Rename
    ) -> dict[str, Any]:
        """Rename a thing."""
        app.ran.append((caller.subject, key.key if key else None, thing_id, body.name))
        return {"thing_id": str(thing_id), "name": body.name}

    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tiny") as http:
        http.ledger = ledger  # type: ignore[attr-defined]
        http.issuer = issuer  # type: ignore[attr-defined]
        yield http


def as_(client: httpx.AsyncClient, role: str) -> dict[str, str]:
    token = client.issuer.token(role=role, subject=f"{role}-1")  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"}


async def test_the_action_is_authorised_on_the_path_then_run(client: httpx.AsyncClient) -> None:
    thing = uuid4()
    response = await client.post(
        f"/things/{thing}/name", json={"name": " Li "}, headers=as_(client, "coordinator")
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"thing_id": str(thing), "name": "Li"}
    ledger: Ledger = client.ledger  # type: ignore[attr-defined]
    assert ledger.checked == [("coordinator-1", "rename", {"thing_id": thing})]
    assert ledger.ran == [("coordinator-1", "k-1", thing, "Li")]
    operation = (await client.get("/openapi.json")).json()["paths"]["/things/{thing_id}/name"]
    assert operation["post"]["operationId"].startswith("rename_")
    assert operation["post"]["description"] == "Rename a thing."


async def test_a_refusal_is_a_problem_and_nothing_runs(client: httpx.AsyncClient) -> None:
    ledger: Ledger = client.ledger  # type: ignore[attr-defined]
    refused = await client.post(
        f"/things/{uuid4()}/name", json={"name": "Li"}, headers=as_(client, "viewer")
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    invalid = await client.post(
        "/things/not-a-uuid/name", json={"name": "Li"}, headers=as_(client, "coordinator")
    )
    assert invalid.status_code in (400, 422)
    assert invalid.headers["content-type"].startswith("application/problem+json")
    assert ledger.ran == []


def test_a_handler_must_take_every_value_of_its_path() -> None:
    routes = CommandRoutes(APIRouter(), lambda request: None, authorise=lambda *_: None)
    with pytest.raises(TypeError, match="thing_id"):

        @routes.post("/things/{thing_id}", action="x")
        def nothing(app: None) -> None:
            return None
