"""The walking skeleton's journey, through the public HTTP and GraphQL interfaces.

A coordinator registers a volunteer and asks for a background check; public
security answers through the department ingest; the volunteer signs up for a
child-facing post, checks in and out; the hours appear in the city dashboard's
GraphQL read model. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.main import create_gateway
from gateway.volunteers.readmodel import VolunteersReadModel
from services.kit.consumer import Consumer
from services.kit.settings import Settings
from tests.support.apps import CLOUDEVENTS_JSON, Tokens, police_result, running
from tests.support.apps import store_head as head
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(180)

SCHOOL = "yz-dongguan-primary"


@pytest.fixture
async def gateway(
    settings: Settings, tokens: Tokens, tmp_path: Path, volunteers: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    # Names are read from the running volunteers service, as the caller.
    async with service_client(volunteers) as upstream:
        app = create_gateway(
            settings,
            readmodel_dir=tmp_path / "readmodels",
            http_clients={"volunteers": upstream},
        )
        async with running(app, tokens.coordinator()) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def service_client(
    service: httpx.AsyncClient, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A client of a service app already running in this process (its `running` client)."""
    app = service.app  # type: ignore[attr-defined]
    return httpx.AsyncClient(
        transport=transport or httpx.ASGITransport(app=app), base_url="http://volunteers"
    )


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def register(volunteers: httpx.AsyncClient, name: str, key: str | None = None) -> str:
    headers = {"Idempotency-Key": key} if key else {}
    response = await volunteers.post(
        "/volunteers",
        json={"display_name": name, "kind": "parent", "school_id": SCHOOL},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["volunteer_id"])


async def publish_shift(volunteers: httpx.AsyncClient, capacity: int = 2) -> str:
    response = await volunteers.post(
        "/shifts",
        json={
            "school_id": SCHOOL,
            "post": "safety-post",
            "title": "Morning gate 护学岗",
            "starts_at": "2026-12-01T07:00:00+08:00",
            "ends_at": "2026-12-01T08:30:00+08:00",
            "capacity": capacity,
            "child_facing": True,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["shift_id"])


async def pass_check(
    volunteers: httpx.AsyncClient, ingest: httpx.AsyncClient, volunteer_id: str
) -> None:
    response = await volunteers.post(f"/volunteers/{volunteer_id}/background-checks", json={})
    assert response.status_code == 202, response.text
    event = police_result(volunteer_id, response.json()["check_id"])
    published = await ingest.post("/events", json=event, headers=CLOUDEVENTS_JSON)
    assert published.status_code == 202, published.text

    async def recorded() -> bool:
        check = (await volunteers.get(f"/volunteers/{volunteer_id}")).json()["check"]
        return bool(check["status"] == "passed")

    await eventually(recorded, timeout=20, message="the police result reaches the volunteer")


class TestVolunteerJourney:
    async def test_from_registration_to_hours_on_the_dashboard(
        self,
        volunteers: httpx.AsyncClient,
        ingest: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
    ) -> None:
        # Register a parent volunteer (retried once with the same key: one volunteer).
        volunteer_id = await register(volunteers, "Liu Fang 刘芳", key="register-liu")
        assert await register(volunteers, "Liu Fang 刘芳", key="register-liu") == volunteer_id
        shift_id = await publish_shift(volunteers)

        # Without a passed check the child-facing sign-up is refused and nothing is appended.
        before = head(volunteers)
        refused = await volunteers.post(
            f"/shifts/{shift_id}/sign-ups", json={"volunteer_id": volunteer_id}
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "background-check-required"
        assert head(volunteers) == before

        # Public security passes the check; the volunteers service records it.
        await pass_check(volunteers, ingest, volunteer_id)

        # Sign up, check in, check out: 1.5 hours credited.
        signed = await volunteers.post(
            f"/shifts/{shift_id}/sign-ups", json={"volunteer_id": volunteer_id}
        )
        assert signed.status_code == 200, signed.text
        assert signed.json()["places_filled"] == 1
        attendance = {"volunteer_id": volunteer_id}
        checked_in = await volunteers.post(
            f"/shifts/{shift_id}/check-ins", json=attendance | {"at": "2026-12-01T06:55:00+08:00"}
        )
        assert checked_in.status_code == 200, checked_in.text
        checked_out = await volunteers.post(
            f"/shifts/{shift_id}/check-outs", json=attendance | {"at": "2026-12-01T08:30:00+08:00"}
        )
        assert checked_out.status_code == 200, checked_out.text
        assert checked_out.json()["hours"] == 1.5

        # The dashboard sees the hours, the check and the places.
        query = """
            query ($id: ID!, $shift: ID!) {
              volunteer(id: $id) { displayName checkStatus hours }
              shift(id: $shift) { placesFilled placesLeft }
              schoolHours(first: 10) { edges { node { schoolId hours volunteers { suppressed } } } }
            }
        """

        async def hours_visible() -> dict[str, Any] | None:
            data = await graphql(gateway, query, id=volunteer_id, shift=shift_id)
            # Each field is read on its own: wait until every one has caught up.
            volunteer, schools = data["volunteer"], data["schoolHours"]["edges"]
            caught_up = volunteer and volunteer["hours"] == 1.5 and schools
            return data if caught_up and schools[0]["node"]["hours"] == 1.5 else None

        data = await eventually(hours_visible, timeout=20, message="hours reach the read model")
        assert data["volunteer"] == {
            "displayName": "Liu Fang 刘芳",
            "checkStatus": "PASSED",
            "hours": 1.5,
        }
        assert data["shift"] == {"placesFilled": 1, "placesLeft": 1}
        assert data["schoolHours"]["edges"][0]["node"] == {
            "schoolId": SCHOOL,
            "hours": 1.5,
            "volunteers": {"suppressed": "<5"},
        }

    async def test_a_mutation_through_the_gateway_reaches_the_service(
        self, settings: Settings, tokens: Tokens, tmp_path: Path
    ) -> None:
        from services.volunteers.main import create_service
        from tests.support.apps import served

        with served(create_service(settings)) as url:
            app = create_gateway(
                settings.model_copy(update={"service_urls": f"volunteers={url}"}),
                readmodel_dir=tmp_path / "readmodels-2",
            )
            async with running(app, tokens.coordinator()) as client:
                mutation = """
                    mutation ($input: RegisterVolunteerInput!) {
                      registerVolunteer(input: $input) {
                        __typename
                        ... on RegisterVolunteerSuccess { volunteerId }
                        ... on RegisterVolunteerError { code message status }
                      }
                    }
                """
                registration = {"displayName": "Sun Wei", "kind": "FIVE_ELDERS"}
                data = await graphql(client, mutation, input=registration)
                result = data["registerVolunteer"]
                assert result["__typename"] == "RegisterVolunteerSuccess", result

                volunteer_id = result["volunteerId"]

                async def projected() -> dict[str, Any] | None:
                    query = "query ($id: ID!) { volunteer(id: $id) { displayName kind } }"
                    data = await graphql(client, query, id=volunteer_id)
                    return data["volunteer"]  # type: ignore[no-any-return]

                shown = await eventually(projected, timeout=20)
                assert shown == {"displayName": "Sun Wei", "kind": "FIVE_ELDERS"}

                # A refused command comes back as the error member of the union.
                first = await graphql(
                    client,
                    mutation,
                    input={"displayName": "Sun Wei", "kind": "PARENT", "idempotencyKey": "k"},
                )
                assert first["registerVolunteer"]["__typename"] == "RegisterVolunteerSuccess"
                clash = await graphql(
                    client,
                    mutation,
                    input={"displayName": "Other", "kind": "PARENT", "idempotencyKey": "k"},
                )
                assert clash["registerVolunteer"] == {
                    "__typename": "RegisterVolunteerError",
                    "code": "idempotency-key-reused",
                    "message": clash["registerVolunteer"]["message"],
                    "status": 422,
                }


class TestReadModelRebuild:
    async def test_a_rebuilt_projection_is_identical(
        self,
        volunteers: httpx.AsyncClient,
        ingest: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        settings: Settings,
        tmp_path: Path,
    ) -> None:
        # Some history: volunteers, checks, a shift with sign-ups and a cancellation.
        people = [await register(volunteers, f"Volunteer {n}") for n in range(4)]
        for person in people[:3]:
            await pass_check(volunteers, ingest, person)
        shift_id = await publish_shift(volunteers, capacity=3)
        for person in people[:3]:
            response = await volunteers.post(
                f"/shifts/{shift_id}/sign-ups", json={"volunteer_id": person}
            )
            assert response.status_code == 200, response.text
        cancelled = await volunteers.post(
            f"/shifts/{shift_id}/cancellations", json={"volunteer_id": people[2]}
        )
        assert cancelled.status_code == 200, cancelled.text

        live = gateway.app.state.features["volunteers"].readmodel  # type: ignore[attr-defined]
        last = head(volunteers)

        async def caught_up() -> bool:
            return live.position("gateway-volunteers") >= await stream_position_of(settings, last)

        await eventually(caught_up, timeout=20)

        # Rebuild from scratch with a new consumer into an empty read model.
        rebuilt = VolunteersReadModel(tmp_path / "rebuilt.sqlite3").open()
        consumer = Consumer(
            name="rebuild-check", boundary="volunteers", projection=rebuilt, settings=settings
        )
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        try:
            target = live.position("gateway-volunteers")
            await eventually(lambda: rebuilt.position("rebuild-check") >= target, timeout=20)
        finally:
            stop.set()
            await task
        assert rebuilt.canonical_dump() == live.canonical_dump()
        assert all(person in rebuilt.canonical_dump() for person in people)
        assert "Volunteer 3" not in rebuilt.canonical_dump()
        rebuilt.close()


async def stream_position_of(settings: Settings, relay_position: int) -> int:
    """The stream sequence of the message the relay published for a log position."""
    from tests.support.streams import read_stream

    messages = await read_stream(settings.nats_urls, "VOLUNTEERS")
    matching = [m.seq for m in messages if int(m.headers.get("ce-sequence", 0)) <= relay_position]
    return max(matching, default=0) if len(messages) else 0
