"""The study tour that needs escorts, across resources and volunteers, by events only.

Four study tours of 45 children (3 escorts each) at one museum, on real NATS and
PostgreSQL, with the services started, stopped and started again in the middle:

- A: the escort shift fills in time → confirmed.
- B: nobody signs up → at the deadline released with the reason; the shift closed.
- C: resources is away while the shift fills → on its return the tour is confirmed.
- D: volunteers is away when the escorts are asked for and when the tour is released →
  on its return the shift opens, and then closes.

The deadline is the kit's, on a clock the test moves (TONGXIN_CLOCK_FILE).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.volunteers import escort_shift_id
from services.ingest.main import create_service as create_ingest
from services.kit.auth import DevIssuer
from services.kit.deadlines import FileClock
from services.kit.settings import Settings
from services.resources.main import create_service as create_resources
from services.volunteers.main import create_service as create_volunteers
from tests.e2e.conftest import journey_settings
from tests.e2e.test_resources_journey import MUSEUM, SLOT, People
from tests.support.apps import CLOUDEVENTS_JSON, Tokens, police_result, running
from tests.support.waiting import eventually

pytestmark = [pytest.mark.nats, pytest.mark.timeout(240)]

SCHOOLS = {"A": "yz-a-primary", "B": "yz-b-primary", "C": "yz-c-primary", "D": "yz-d-primary"}
# Each tour on its own day, so that the same three volunteers may escort them all.
DAYS = {"A": 0, "B": 1, "C": 2, "D": 3}


@pytest.fixture
def clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileClock:
    path = tmp_path / "clock"
    monkeypatch.setenv("TONGXIN_CLOCK_FILE", str(path))
    return FileClock(path)


@pytest.fixture
def settings(pg_settings: Settings, nats_url: str, dev_issuer: DevIssuer) -> Settings:
    return journey_settings(pg_settings, nats_url, dev_issuer)


@contextlib.asynccontextmanager
async def service(create: Any, settings: Settings, token: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create(settings), token) as client:
        yield client


class Tours:
    """The tours' bookings, read as the school and the volunteers' coordinator see them."""

    def __init__(self, people: People) -> None:
        self.people = people
        self.booked: dict[str, dict[str, Any]] = {}

    async def book(self, resources: httpx.AsyncClient, venue_id: str, tour: str) -> None:
        school = SCHOOLS[tour]
        response = await resources.post(
            f"/venues/{venue_id}/bookings",
            json={
                "starts_at": (SLOT + timedelta(days=DAYS[tour])).isoformat(),
                "school_id": school,
                "head_count": 45,
                "age": 10,
                "teachers": 3,
                "study_tour": True,
            },
            headers=self.people.teacher(school),
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["status"], body["escorts"]) == ("awaiting-escorts", 3)
        self.booked[tour] = body

    async def booking(self, resources: httpx.AsyncClient, tour: str) -> dict[str, Any]:
        mine = self.booked[tour]
        response = await resources.get(
            f"/slots/{mine['slot_id']}", headers=self.people.teacher(SCHOOLS[tour])
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = next(
            b for b in response.json()["bookings"] if b["booking_id"] == mine["booking_id"]
        )
        return found

    async def status_is(self, resources: httpx.AsyncClient, tour: str, status: str) -> bool:
        return (await self.booking(resources, tour))["status"] == status

    def shift(self, tour: str) -> str:
        return str(escort_shift_id(self.booked[tour]["booking_id"]))

    async def shift_view(self, volunteers: httpx.AsyncClient, tour: str) -> dict[str, Any] | None:
        response = await volunteers.get(f"/shifts/{self.shift(tour)}")
        return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]


async def passed_volunteers(volunteers: httpx.AsyncClient, ingest: httpx.AsyncClient) -> list[str]:
    """Three volunteers whose background checks public security has passed."""
    ids = []
    for n in range(3):
        body = {"display_name": f"护导 Escort {n}", "kind": "parent"}
        volunteer_id = (await volunteers.post("/volunteers", json=body)).json()["volunteer_id"]
        check = await volunteers.post(f"/volunteers/{volunteer_id}/background-checks", json={})
        result = police_result(volunteer_id, check.json()["check_id"])
        posted = await ingest.post("/events", json=result, headers=CLOUDEVENTS_JSON)
        assert posted.status_code == 202, posted.text
        ids.append(volunteer_id)

    async def all_passed() -> bool:
        for volunteer_id in ids:
            view = (await volunteers.get(f"/volunteers/{volunteer_id}")).json()
            if view["check"]["status"] != "passed":
                return False
        return True

    await eventually(all_passed, timeout=30, message="the checks are recorded")
    return ids


async def sign_up_all(volunteers: httpx.AsyncClient, shift_id: str, ids: list[str]) -> None:
    for volunteer_id in ids:
        response = await volunteers.post(
            f"/shifts/{shift_id}/sign-ups", json={"volunteer_id": volunteer_id}
        )
        assert response.status_code == 200, response.text


async def test_escorts_found_confirm_and_a_passed_deadline_releases_across_restarts(
    settings: Settings, clock: FileClock, dev_issuer: DevIssuer
) -> None:
    people, tokens = People(dev_issuer), Tokens(dev_issuer)
    tours = Tours(people)
    venue_staff = people.venue_staff()["Authorization"].removeprefix("Bearer ")
    coordinator = tokens.coordinator()

    async with service(create_ingest, settings, tokens.police()) as ingest:
        # The volunteers: three parents with passed checks.
        async with service(create_volunteers, settings, coordinator) as volunteers:
            escorts = await passed_volunteers(volunteers, ingest)

            async with service(create_resources, settings, venue_staff) as resources:
                museum = MUSEUM | {"quota_per_term": None, "capacity": 60}
                venue_id = (await resources.post("/venues", json=museum)).json()["venue_id"]
                for tour in ("A", "B", "C"):
                    await tours.book(resources, venue_id, tour)

                # Volunteers opens a child-facing shift of 3 places for each tour.
                for tour in ("A", "B", "C"):
                    shift = await eventually(
                        lambda tour=tour: tours.shift_view(volunteers, tour),
                        timeout=30,
                        message=f"tour {tour}'s escort shift opens",
                    )
                    assert (shift["capacity"], shift["child_facing"], shift["post"]) == (
                        3,
                        True,
                        "study-tour-escort",
                    )
                    assert shift["booking_id"] == tours.booked[tour]["booking_id"]

                # A: the escorts sign up in time: the tour is confirmed.
                await sign_up_all(volunteers, tours.shift(tour="A"), escorts)
                await eventually(
                    lambda: tours.status_is(resources, "A", "booked"),
                    timeout=30,
                    message="tour A is confirmed",
                )
                assert (await tours.booking(resources, "A"))["escort_shift_id"] == tours.shift("A")

            # C: resources is away while C's escorts sign up.
            await sign_up_all(volunteers, tours.shift("C"), escorts)
            async with service(create_resources, settings, venue_staff) as resources:
                await eventually(
                    lambda: tours.status_is(resources, "C", "booked"),
                    timeout=30,
                    message="tour C is confirmed after resources' restart",
                )

        # D: volunteers is away when D asks for escorts, and when the deadlines pass.
        async with service(create_resources, settings, venue_staff) as resources:
            await tours.book(resources, venue_id, "D")
            clock.move(timedelta(days=DAYS["D"] + 20))
            for tour in ("B", "D"):
                await eventually(
                    lambda tour=tour: tours.status_is(resources, tour, "cancelled"),
                    timeout=30,
                    message=f"tour {tour} is released at its deadline",
                )
                assert (await tours.booking(resources, tour))["reason"] == "escorts-not-found"
            # The confirmed tours keep their places.
            for tour in ("A", "C"):
                assert await tours.status_is(resources, tour, "booked")

        # Volunteers comes back: D's shift opens and closes, B's is closed, A's and C's stay.
        async with service(create_volunteers, settings, coordinator) as volunteers:
            for tour in ("B", "D"):
                shift = await eventually(
                    lambda tour=tour: _closed(tours.shift_view(volunteers, tour)),
                    timeout=30,
                    message=f"tour {tour}'s shift is closed",
                )
                assert shift["closed"] == "escorts-not-found"
            for tour in ("A", "C"):
                view = await tours.shift_view(volunteers, tour)
                assert view is not None and view.get("closed") is None
                assert view["places_filled"] == 3
            # Nobody signs up to a closed shift.
            late = await volunteers.post(
                f"/shifts/{tours.shift('B')}/sign-ups", json={"volunteer_id": escorts[0]}
            )
            assert late.status_code == 409 and late.json()["code"] == "shift-closed"


async def _closed(view: Any) -> dict[str, Any] | None:
    found = await view
    return found if found and found.get("closed") else None
