"""Bookings never overbook: concurrent HTTP requests against the resources API on PostgreSQL.

64 class groups of 10 ask for the 60 places of one slot at once, through two API replicas on
one database (so the store's version check decides between them, not only the lock
each replica queues a slot's commands under): exactly six are booked,
the others are refused `slot-full` (or wait, when they asked to), and the slot's stored
bookings add up to its capacity. One school asking for eight slots at once, with a quota
of one booking per term, gets exactly one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from contracts.resources import CITY_TZ
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.resources.main import create_service
from tests.support.apps import served

pytestmark = pytest.mark.timeout(120)

CLIENTS = 64
DAY = (datetime.now(CITY_TZ) + timedelta(days=30)).date()
DAY += timedelta(days=(2 - DAY.weekday()) % 7)  # a Wednesday
SLOT = datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=CITY_TZ)
VENUE = {
    "name": "扬州市图书馆 Yangzhou Library",
    "kind": "library",
    "district": "321003",
    "address": "文昌西路",
    "latitude": 32.392,
    "longitude": 119.41,
    "owner": "cult",
    "lists": ["practice-base"],
    "capacity": 60,
    "slot_minutes": 60,
    "opening_hours": [{"weekday": 3, "opens": "09:00", "closes": "17:00"}],
}


@pytest.fixture
def settings(pg_settings: Settings, dev_issuer: DevIssuer) -> Settings:
    # No NATS here: the relay is not what this proves (commands never wait for it).
    return pg_settings.model_copy(
        update={"auth_jwks_url": str(dev_issuer.jwks_path), "relay_in_process": False}
    )


def bearer(issuer: DevIssuer, **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(**claims)}"}  # type: ignore[arg-type]


async def booking(
    client: httpx.AsyncClient, issuer: DevIssuer, venue_id: str, school: str, **body: Any
) -> httpx.Response:
    teacher = bearer(issuer, role="school-staff", department="edu", scope=f"school:{school}")
    fields = {"starts_at": SLOT.isoformat(), "school_id": school, "head_count": 10, "age": 9}
    return await client.post(f"/venues/{venue_id}/bookings", json=fields | body, headers=teacher)


class TestConcurrentBookings:
    async def test_64_clients_for_the_last_places_of_one_slot(
        self, settings: Settings, dev_issuer: DevIssuer
    ) -> None:
        staff = bearer(dev_issuer, role="coordinator", department="cult")
        limits = httpx.Limits(max_connections=CLIENTS)
        with served(create_service(settings)) as url, served(create_service(settings)) as other:
            async with (
                httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client,
                httpx.AsyncClient(base_url=other, timeout=60, limits=limits) as replica,
            ):
                created = await client.post("/venues", json=VENUE, headers=staff)
                assert created.status_code == 201, created.text
                venue_id = created.json()["venue_id"]

                # Half ask to wait when full; all ask at once, half of them of each replica.
                answers = await asyncio.gather(
                    *(
                        booking(
                            (client, replica)[(n // 2) % 2],
                            dev_issuer,
                            venue_id,
                            f"school-{n}",
                            waitlist=n % 2 == 0,
                        )
                        for n in range(CLIENTS)
                    )
                )
                statuses = [a.status_code for a in answers]
                assert set(statuses) <= {201, 409}, [
                    a.text for a in answers if a.status_code >= 500
                ]
                booked = [
                    a.json()
                    for a in answers
                    if a.status_code == 201 and a.json()["status"] == "booked"
                ]
                waiting = [
                    a.json()
                    for a in answers
                    if a.status_code == 201 and a.json()["status"] == "waitlisted"
                ]
                full = [a.json() for a in answers if a.status_code == 409]
                assert len(booked) == 6
                assert {f["code"] for f in full} == {"slot-full"}
                assert len(waiting) + len(full) == CLIENTS - 6

                # The stored slot agrees: 60 places held, the waitlist in arrival order.
                slot = await client.get(f"/slots/{booked[0]['slot_id']}", headers=staff)
                view = slot.json()
                held = [b for b in view["bookings"] if b["status"] == "booked"]
                assert sum(b["head_count"] for b in held) == 60
                assert view["places_left"] == 0
                assert len(view["waitlist"]) == len(waiting)

                # A cancellation books the first school waiting, and only it.
                first = held[0]
                teacher = bearer(
                    dev_issuer,
                    role="school-staff",
                    department="edu",
                    scope=f"school:{first['school_id']}",
                )
                cancelled = await client.post(
                    f"/slots/{view['slot_id']}/bookings/{first['booking_id']}/cancellation",
                    json={},
                    headers=teacher,
                )
                assert cancelled.json()["booked_from_waitlist"] == view["waitlist"][:1]

    async def test_one_school_cannot_beat_its_quota_by_booking_slots_at_once(
        self, settings: Settings, dev_issuer: DevIssuer
    ) -> None:
        app = create_service(settings)
        staff = bearer(dev_issuer, role="coordinator", department="cult")
        with served(app) as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                created = await client.post(
                    "/venues", json=VENUE | {"quota_per_term": 1}, headers=staff
                )
                venue_id = created.json()["venue_id"]
                answers = await asyncio.gather(
                    *(
                        booking(
                            client,
                            dev_issuer,
                            venue_id,
                            "school-greedy",
                            starts_at=(SLOT + timedelta(hours=n)).isoformat(),
                        )
                        for n in range(8)
                    )
                )
                assert sorted(a.status_code for a in answers) == [201] + [409] * 7
                codes = {a.json()["code"] for a in answers if a.status_code == 409}
                assert codes == {"quota-reached"}
                application = app.state.application
                stored = [
                    application.slot(UUID(a.json()["slot_id"]))
                    for a in answers
                    if a.status_code == 201
                ]
                assert [len(s.bookings) for s in stored] == [1]
