"""Personal data through the gateway, against the real volunteers service and nats-server.

A name registered through the service never reaches the gateway's read model files; the
gateway shows it to a coordinator by asking the service, once per request, with the
caller's own token; a viewer sees the volunteers without names; an erased volunteer
shows as erased with their hours unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.main import create_gateway
from services.kit.settings import Settings
from tests.e2e.test_volunteer_journey import (
    SCHOOL,
    pass_check,
    publish_shift,
    register,
    service_client,
)
from tests.support.apps import Tokens
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(180)

NAMES_PATH = "/volunteers/names"


@pytest.fixture
def store_settings(tmp_path: Path) -> Settings:
    # What is checked here is the gateway's; the journey covers both stores.
    return Settings(store="sqlite", state_dir=tmp_path / "state")


class Counting(httpx.AsyncBaseTransport):
    """Passes requests on to the service and remembers which were name lookups."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lookups: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == NAMES_PATH:
            import json

            self.lookups.append(len(json.loads(request.content)["ids"]))
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def counting(volunteers: httpx.AsyncClient) -> Counting:
    return Counting(httpx.ASGITransport(app=volunteers.app))  # type: ignore[attr-defined]


@pytest.fixture
def readmodels(tmp_path: Path) -> Path:
    return tmp_path / "readmodels"


@pytest.fixture
async def gateway_app(
    settings: Settings, volunteers: httpx.AsyncClient, counting: Counting, readmodels: Path
) -> AsyncIterator[Any]:
    async with service_client(volunteers, counting) as upstream:
        app = create_gateway(
            settings, readmodel_dir=readmodels, http_clients={"volunteers": upstream}
        )
        async with app.router.lifespan_context(app):
            yield app


@pytest.fixture
async def as_coordinator(gateway_app: Any, tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(gateway_app, tokens.coordinator()) as client:
        yield client


def gateway_client(app: Any, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gateway",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


async def query(client: httpx.AsyncClient, document: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": document, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


LIST = """
query ($first: Int!) {
  volunteers(first: $first) {
    edges { node { id displayName personalDataErased hours } }
  }
}
"""
ONE = """
query ($id: ID!) { volunteer(id: $id) { id displayName personalDataErased hours } }
"""


async def projected(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    async def all_there() -> list[dict[str, Any]] | None:
        body = await query(client, "{ volunteers(first: 100) { edges { node { id } } } }")
        edges = body["data"]["volunteers"]["edges"]
        return edges if len(edges) >= count else None

    found: list[dict[str, Any]] = await eventually(
        all_there, timeout=30, message=f"{count} volunteers reach the read model"
    )
    return found


def files_of(folder: Path) -> bytes:
    """Every file the gateway keeps its read models in (WAL and shared memory included)."""
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


class TestPersonalDataThroughTheGateway:
    async def test_a_name_reaches_no_read_model_file_and_shows_to_a_coordinator_only(
        self,
        volunteers: httpx.AsyncClient,
        as_coordinator: httpx.AsyncClient,
        gateway_app: Any,
        tokens: Tokens,
        readmodels: Path,
        counting: Counting,
    ) -> None:
        unique = "Ouyang Zhenqiu 欧阳振秋 7f3a9c"
        volunteer_id = await register(volunteers, unique)
        await projected(as_coordinator, 1)

        on_disk = files_of(readmodels)
        for part in ("Ouyang", "Zhenqiu", "欧阳振秋", "7f3a9c"):
            assert part.encode() not in on_disk, part
        assert volunteer_id.encode() in on_disk  # The files were read, and hold the id.

        shown = await query(as_coordinator, ONE, id=volunteer_id)
        assert "errors" not in shown, shown
        assert shown["data"]["volunteer"]["displayName"] == unique

        async with gateway_client(gateway_app, tokens.viewer()) as as_viewer:
            hidden = await query(as_viewer, LIST, first=10)
        assert "errors" not in hidden, hidden
        assert hidden["data"]["volunteers"]["edges"] == [
            {
                "node": {
                    "id": volunteer_id,
                    "displayName": None,
                    "personalDataErased": False,
                    "hours": 0.0,
                }
            }
        ]
        # Reading names puts nothing on disk either.
        assert unique.encode() not in files_of(readmodels)

    async def test_fifty_names_cost_one_call_to_the_service(
        self, volunteers: httpx.AsyncClient, as_coordinator: httpx.AsyncClient, counting: Counting
    ) -> None:
        ids = [await register(volunteers, f"Batch Person {n:02d}") for n in range(50)]
        await projected(as_coordinator, 50)
        counting.lookups.clear()

        page = await query(as_coordinator, LIST, first=50)
        assert "errors" not in page, page
        names = {
            e["node"]["id"]: e["node"]["displayName"] for e in page["data"]["volunteers"]["edges"]
        }
        assert names == {vid: f"Batch Person {n:02d}" for n, vid in enumerate(ids)}
        assert counting.lookups == [50]

    async def test_an_erased_volunteer_shows_as_erased_with_hours_unchanged(
        self,
        volunteers: httpx.AsyncClient,
        ingest: httpx.AsyncClient,
        as_coordinator: httpx.AsyncClient,
    ) -> None:
        volunteer_id = await register(volunteers, "Erase Me 删除我")
        other_id = await register(volunteers, "Stay Here")
        await pass_check(volunteers, ingest, volunteer_id)
        shift_id = await publish_shift(volunteers)
        for path, body in (
            ("sign-ups", {}),
            ("check-ins", {"at": "2026-12-01T07:00:00+08:00"}),
            ("check-outs", {"at": "2026-12-01T08:30:00+08:00"}),
        ):
            response = await volunteers.post(
                f"/shifts/{shift_id}/{path}", json={"volunteer_id": volunteer_id} | body
            )
            assert response.status_code == 200, response.text

        hours = """{ schoolHours(first: 10) {
            edges { node { schoolId hours volunteers { suppressed } } } } }"""

        async def credited() -> dict[str, Any] | None:
            body = await query(as_coordinator, ONE, id=volunteer_id)
            volunteer = body["data"]["volunteer"]
            return body if volunteer and volunteer["hours"] == 1.5 else None

        await eventually(credited, timeout=30, message="the hours reach the read model")
        figures = (await query(as_coordinator, hours))["data"]

        erased = await volunteers.post(f"/volunteers/{volunteer_id}/erase", json={})
        assert erased.status_code == 200, erased.text

        async def shown_erased() -> dict[str, Any] | None:
            body = await query(as_coordinator, ONE, id=volunteer_id)
            volunteer = body["data"]["volunteer"]
            return body if volunteer["personalDataErased"] else None

        body = await eventually(shown_erased, timeout=30, message="the erasure reaches the gateway")
        assert "errors" not in body, body
        assert body["data"]["volunteer"] == {
            "id": volunteer_id,
            "displayName": None,
            "personalDataErased": True,
            "hours": 1.5,
        }
        assert (await query(as_coordinator, hours))["data"] == figures
        assert figures["schoolHours"]["edges"][0]["node"] == {
            "schoolId": SCHOOL,
            "hours": 1.5,
            "volunteers": {"suppressed": "<5"},
        }
        other = await query(as_coordinator, ONE, id=other_id)
        assert other["data"]["volunteer"]["displayName"] == "Stay Here"
