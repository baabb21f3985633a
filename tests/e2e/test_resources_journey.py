"""The learning map's journeys, through the public HTTP and GraphQL interfaces.

A school finds a museum with places for its class, books the slot and reaches its quota;
another school waits on the full slot and is booked automatically when the first
cancels; the visit is checked in and completed with head counts, and the utilisation
reaches the dashboard's GraphQL. A closure cancels every booking in it and each school is
told. Bad input is refused with problem+json and appends nothing. Runs on real NATS, and
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.resources import CITY_TZ
from gateway.main import create_gateway
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.resources.domain import venue_id_of
from services.resources.main import create_service as create_resources
from tests.support.apps import CLOUDEVENTS_JSON, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(180)

SCHOOL_A = "yz-dongguan-primary"
SCHOOL_B = "yz-wenhui-primary"
# Where school A stands: the Dongguan Street area of Guangling.
NEAR_A = {"latitude": 32.3960, "longitude": 119.4380}


def next_tuesday(days_ahead: int = 14) -> datetime:
    """A Tuesday at 09:00 local time, at least `days_ahead` days from now."""
    day = (datetime.now(CITY_TZ) + timedelta(days=days_ahead)).date()
    day += timedelta(days=(1 - day.weekday()) % 7)
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=CITY_TZ)


SLOT = next_tuesday()

MUSEUM = {
    "name": "扬州中国大运河博物馆 Grand Canal Museum",
    "kind": "museum",
    "district": "321002",
    "address": "文旅路1号",
    "latitude": 32.3836,
    "longitude": 119.4490,
    "owner": "cult",
    "lists": ["practice-base", "course-development"],
    "heritage": True,
    "capacity": 60,
    "slot_minutes": 120,
    "opening_hours": [
        {"weekday": d, "opens": "09:00", "closes": "17:00"} for d in (2, 3, 4, 5, 6, 7)
    ],
    "age_min": 6,
    "age_max": 15,
    "quota_per_term": 1,
    "min_notice_hours": 24,
    "accessible": True,
}


class People:
    """Tokens of the people in these journeys."""

    def __init__(self, issuer: DevIssuer) -> None:
        self.issuer = issuer

    def venue_staff(self) -> dict[str, str]:
        return self._bearer(role="coordinator", department="cult", subject="cult-map")

    def teacher(self, school: str) -> dict[str, str]:
        return self._bearer(
            role="school-staff", department="edu", subject=f"t-{school}", scope=f"school:{school}"
        )

    def science_association(self) -> dict[str, str]:
        return self._bearer(role="coordinator", department="sci", subject="sci-venues")

    def _bearer(self, **claims: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(**claims)}"}  # type: ignore[arg-type]


@pytest.fixture
def people(dev_issuer: DevIssuer) -> People:
    return People(dev_issuer)


@pytest.fixture
async def resources(settings: Settings, people: People) -> AsyncIterator[httpx.AsyncClient]:
    app = create_resources(settings)
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        client.headers.update(people.venue_staff())
        yield client


@pytest.fixture
async def gateway(
    settings: Settings, people: People, tmp_path: Path, resources: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    upstream = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=resources.app),  # type: ignore[attr-defined]
        base_url="http://resources",
    )
    async with upstream:
        app = create_gateway(
            settings, readmodel_dir=tmp_path / "readmodels", http_clients={"resources": upstream}
        )
        async with running(app) as client:
            client.headers.update(people.venue_staff())
            yield client


def head(resources: httpx.AsyncClient) -> int:
    app = resources.app  # type: ignore[attr-defined]
    return app.state.application.recorder.max_notification_id() or 0  # type: ignore[no-any-return]


async def graphql(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def register_museum(resources: httpx.AsyncClient, **changes: Any) -> str:
    response = await resources.post("/venues", json=MUSEUM | changes)
    assert response.status_code == 201, response.text
    return str(response.json()["venue_id"])


async def book(
    resources: httpx.AsyncClient,
    people: People,
    venue_id: str,
    school: str,
    head_count: int = 40,
    starts_at: datetime = SLOT,
    **extra: Any,
) -> httpx.Response:
    body = {
        "starts_at": starts_at.isoformat(),
        "school_id": school,
        "head_count": head_count,
        "age": 10,
        "teachers": 3,
    } | extra
    return await resources.post(
        f"/venues/{venue_id}/bookings", json=body, headers=people.teacher(school)
    )


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


AVAILABILITY = """
query ($from: DateTime!, $to: DateTime!, $near: Near) {
  venueAvailability(from: $from, to: $to, children: 40, age: 10, near: $near, withinKm: 5,
                    list: PRACTICE_BASE) {
    venue { id name geometry { type coordinates } }
    distanceKm
    slots { slotId startsAt placesLeft }
  }
}
"""

FIGURES = """
query ($from: DateTime!, $to: DateTime!) {
  learningMap(from: $from, to: $to, district: "321002") {
    id
    utilisation {
      offeredPlaces
      bookedChildren { value suppressed }
      attendedChildren { value suppressed }
      rate
      meetsTarget
    }
  }
  districtUtilisation(from: $from, to: $to) {
    district venues utilisation { offeredPlaces rate }
  }
}
"""

BOOKINGS = """
query ($school: String!) {
  schoolBookings(schoolId: $school) {
    id status fromWaitlist headCount arrived attended rating cancelReason detail
  }
}
"""


class TestBookingJourney:
    async def test_from_search_to_utilisation_on_the_dashboard(
        self, resources: httpx.AsyncClient, gateway: httpx.AsyncClient, people: People
    ) -> None:
        # The museum goes on the map.
        venue_id = await register_museum(resources)
        day = {
            "from": SLOT.replace(hour=0).isoformat(),
            "to": (SLOT + timedelta(days=1)).isoformat(),
        }

        # School A searches: the museum, 5 km away at most, has the Tuesday morning free.
        async def found() -> list[dict[str, Any]]:
            data = await graphql(gateway, AVAILABILITY, near=NEAR_A, **day)
            return data["venueAvailability"]  # type: ignore[no-any-return]

        venues = await eventually(found, timeout=20, message="the venue reaches the map")
        assert venues[0]["venue"]["id"] == venue_id
        assert venues[0]["venue"]["geometry"] == {
            "type": "Point",
            "coordinates": [MUSEUM["longitude"], MUSEUM["latitude"]],
        }
        assert 0 < venues[0]["distanceKm"] < 5
        first_slot = venues[0]["slots"][0]
        assert datetime.fromisoformat(first_slot["startsAt"]) == SLOT
        assert first_slot["placesLeft"] == 60

        # A books it for 40 children; its one booking this term is taken.
        booked = await book(resources, people, venue_id, SCHOOL_A)
        assert booked.status_code == 201, booked.text
        a = booked.json()
        assert (a["status"], a["places_left"], a["slot_id"]) == ("booked", 20, first_slot["slotId"])
        before = head(resources)
        refused(
            await book(resources, people, venue_id, SCHOOL_A, starts_at=SLOT + timedelta(days=1)),
            409,
            "quota-reached",
        )
        assert head(resources) == before

        # B's 30 do not fit: B waits on the slot.
        refused(await book(resources, people, venue_id, SCHOOL_B, 30), 409, "slot-full")
        waiting = await book(resources, people, venue_id, SCHOOL_B, 30, waitlist=True)
        assert waiting.status_code == 201, waiting.text
        b = waiting.json()
        assert b["status"] == "waitlisted"

        # A cancels: B is booked at once, in the same transaction.
        cancel = await resources.post(
            f"/slots/{a['slot_id']}/bookings/{a['booking_id']}/cancellation",
            json={},
            headers=people.teacher(SCHOOL_A),
        )
        assert cancel.status_code == 200, cancel.text
        assert cancel.json()["booked_from_waitlist"] == [b["booking_id"]]
        assert cancel.json()["places_left"] == 30

        # B's class arrives (28 of 30) and completes the visit (27 stayed), rated 5.
        visit = f"/slots/{b['slot_id']}/bookings/{b['booking_id']}"
        teacher_b = people.teacher(SCHOOL_B)
        arrived = await resources.post(
            f"{visit}/check-in", json={"head_count": 28, "at": SLOT.isoformat()}, headers=teacher_b
        )
        assert arrived.status_code == 200, arrived.text
        done = await resources.post(
            f"{visit}/completion",
            json={"head_count": 27, "rating": 5, "at": (SLOT + timedelta(hours=2)).isoformat()},
            headers=teacher_b,
        )
        assert done.status_code == 200, done.text

        # The dashboard: 4 slots of 60 offered that day, 30 booked, 27 attended.
        async def completed() -> dict[str, Any] | None:
            data = await graphql(gateway, FIGURES, **day)
            mine = next(v for v in data["learningMap"] if v["id"] == venue_id)
            return data if mine["utilisation"]["attendedChildren"]["value"] == 27 else None

        data = await eventually(completed, timeout=20, message="the visit reaches the figures")
        assert data["learningMap"][0]["utilisation"] == {
            "offeredPlaces": 240,
            "bookedChildren": {"value": 30, "suppressed": None},
            "attendedChildren": {"value": 27, "suppressed": None},
            "rate": 0.125,
            "meetsTarget": False,
        }
        assert data["districtUtilisation"] == [
            {
                "district": "321002",
                "venues": 1,
                "utilisation": {"offeredPlaces": 240, "rate": 0.125},
            }
        ]

        # B's teacher sees B's bookings; A's does not.
        mine = await graphql(gateway, BOOKINGS, headers=teacher_b, school=SCHOOL_B)
        assert mine["schoolBookings"] == [
            {
                "id": b["booking_id"],
                "status": "COMPLETED",
                "fromWaitlist": True,
                "headCount": 30,
                "arrived": 28,
                "attended": 27,
                "rating": 5,
                "cancelReason": None,
                "detail": None,
            }
        ]
        other = await gateway.post(
            "/graphql",
            json={"query": BOOKINGS, "variables": {"school": SCHOOL_B}},
            headers=people.teacher(SCHOOL_A),
        )
        assert other.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


class TestClosure:
    async def test_a_blackout_cancels_the_bookings_in_it_and_tells_every_school(
        self, resources: httpx.AsyncClient, gateway: httpx.AsyncClient, people: People
    ) -> None:
        venue_id = await register_museum(resources, quota_per_term=None)
        a = (await book(resources, people, venue_id, SCHOOL_A, 40)).json()
        b = (await book(resources, people, venue_id, SCHOOL_B, 30, waitlist=True)).json()
        c = (
            await book(resources, people, venue_id, "yz-c", 20, starts_at=SLOT + timedelta(hours=4))
        ).json()
        kept = (
            await book(resources, people, venue_id, "yz-d", 20, starts_at=SLOT + timedelta(days=1))
        ).json()
        assert [x["status"] for x in (a, b, c, kept)] == [
            "booked",
            "waitlisted",
            "booked",
            "booked",
        ]

        closed = await resources.post(
            f"/venues/{venue_id}/closures",
            json={
                "starts_at": SLOT.replace(hour=0).isoformat(),
                "ends_at": (SLOT + timedelta(days=1)).replace(hour=0).isoformat(),
                "reason": "展厅布展 closed for a new exhibition",
            },
        )
        assert closed.status_code == 200, closed.text
        told = {t["school_id"]: t["booking_id"] for t in closed.json()["cancelled"]}
        assert told == {
            SCHOOL_A: a["booking_id"],
            SCHOOL_B: b["booking_id"],
            "yz-c": c["booking_id"],
        }

        # A booking into the closure is refused; the next day is untouched.
        refused(await book(resources, people, venue_id, "yz-e", 10), 409, "venue-closed")
        slot = await resources.get(f"/slots/{kept['slot_id']}")
        assert slot.json()["places_left"] == 40

        # Every school reads why on its bookings.
        for school, booking_id in told.items():

            async def cancelled(school: str = school) -> list[dict[str, Any]] | None:
                data = await graphql(
                    gateway, BOOKINGS, headers=people.teacher(school), school=school
                )
                rows = data["schoolBookings"]
                return rows if rows and rows[0]["status"] == "CANCELLED" else None

            rows = await eventually(cancelled, timeout=20, message=f"{school} is told")
            assert rows[0]["id"] == booking_id
            assert (rows[0]["cancelReason"], rows[0]["detail"]) == (
                "venue-closed",
                "展厅布展 closed for a new exhibition",
            )


class TestBadInput:
    async def test_refusals_are_problems_and_append_nothing(
        self,
        resources: httpx.AsyncClient,
        ingest: httpx.AsyncClient,
        people: People,
    ) -> None:
        venue_id = await register_museum(resources)
        booked = (await book(resources, people, venue_id, SCHOOL_A, 40)).json()
        before = head(resources)

        # Outside opening hours: a Monday, and a Tuesday at 08:00.
        refused(
            await book(resources, people, venue_id, SCHOOL_B, starts_at=SLOT - timedelta(days=1)),
            422,
            "outside-opening-hours",
        )
        refused(
            await book(resources, people, venue_id, SCHOOL_B, starts_at=SLOT.replace(hour=8)),
            422,
            "outside-opening-hours",
        )
        # More children than a slot takes.
        refused(await book(resources, people, venue_id, SCHOOL_B, 61), 422, "too-many-children")
        # Staff of another school booking for A.
        response = await resources.post(
            f"/venues/{venue_id}/bookings",
            json={"starts_at": SLOT.isoformat(), "school_id": SCHOOL_A, "head_count": 5, "age": 10},
            headers=people.teacher(SCHOOL_B),
        )
        refused(response, 403, "forbidden")
        # B's staff cancelling A's booking.
        visit = f"/slots/{booked['slot_id']}/bookings/{booked['booking_id']}"
        refused(
            await resources.post(
                f"{visit}/cancellation", json={}, headers=people.teacher(SCHOOL_B)
            ),
            403,
            "forbidden",
        )
        # A head count above the booking.
        refused(
            await resources.post(
                f"{visit}/check-in",
                json={"head_count": 41, "at": SLOT.isoformat()},
                headers=people.teacher(SCHOOL_A),
            ),
            422,
            "head-count",
        )
        # Malformed: no offset, unknown field.
        malformed = await resources.post(
            f"/venues/{venue_id}/bookings",
            json={
                "starts_at": "2027-03-16T09:00:00",
                "school_id": SCHOOL_A,
                "head_count": 5,
                "age": 10,
            },
            headers=people.teacher(SCHOOL_A),
        )
        assert malformed.status_code == 422
        assert malformed.headers["content-type"].startswith("application/problem+json")

        # A venue in no district of the city.
        unknown = await resources.post("/venues", json=MUSEUM | {"district": "999999"})
        assert unknown.status_code == 422
        assert unknown.headers["content-type"].startswith("application/problem+json")

        # The Science Association puts a venue of the Culture bureau on the map: refused.
        sci = people.science_association()
        refused(await resources.post("/venues", json=MUSEUM, headers=sci), 403, "forbidden")
        # ... nor does it book for schools.
        response = await resources.post(
            f"/venues/{venue_id}/bookings",
            json={"starts_at": SLOT.isoformat(), "school_id": SCHOOL_B, "head_count": 5, "age": 10},
            headers=sci,
        )
        refused(response, 403, "forbidden")
        assert head(resources) == before
        # ... and cannot publish into the resources boundary through the ingest either.
        sci_system = people.issuer.token(role="department-system", department="sci")
        event = {
            "specversion": "1.0",
            "id": "sci-1",
            "source": "/sci/science",
            "type": "org.tongxin.resources.venue-closed.v1",
            "subject": venue_id,
            "datacontenttype": "application/json",
            "data": {
                "venue_id": venue_id,
                "starts_at": SLOT.isoformat(),
                "ends_at": (SLOT + timedelta(hours=2)).isoformat(),
                "reason": "not theirs",
            },
        }
        posted = await ingest.post(
            "/events",
            json=event,
            headers=CLOUDEVENTS_JSON | {"Authorization": f"Bearer {sci_system}"},
        )
        refused(posted, 403, "forbidden")

        # Its own science museum, it may.
        own = await resources.post(
            "/venues",
            json=MUSEUM
            | {
                "name": "扬州科技馆 Yangzhou Science Museum",
                "kind": "science-museum",
                "owner": "sci",
            },
            headers=sci,
        )
        assert own.status_code == 201, own.text

        # Its own system publishes its venues in its own boundary, through the ingest: they
        # reach the map as the Science Association's.
        code = "yz-popsci-base-07"
        published = event | {
            "id": "sci-venue-1",
            "type": "org.tongxin.science.venue-published.v1",
            "subject": code,
            "data": {
                "venue_code": code,
                "name": "扬州市青少年科普教育基地 Youth Popular Science Base",
                "kind": "science-museum",
                "district": "321003",
                "address": "扬州市邗江区文昌西路",
                "latitude": 32.3880,
                "longitude": 119.3900,
                "lists": ["practice-base"],
                "capacity": 40,
                "slot_minutes": 90,
                "opening_hours": [{"weekday": 6, "opens": "09:00", "closes": "16:00"}],
                "age_min": 8,
                "age_max": 15,
                "min_notice_hours": 48,
                "published_at": SLOT.isoformat(),
            },
        }
        sci_headers = CLOUDEVENTS_JSON | {"Authorization": f"Bearer {sci_system}"}
        # ... a venue in no district of the city is refused at the door.
        stray = published | {"id": "sci-venue-0", "data": published["data"] | {"district": "1"}}
        refused(
            await ingest.post("/events", json=stray, headers=sci_headers),
            400,
            "malformed-cloudevent",
        )
        posted = await ingest.post("/events", json=published, headers=sci_headers)
        assert posted.status_code == 202, posted.text
        science_venue = venue_id_of("sci", code)

        async def on_the_map() -> dict[str, Any] | None:
            response = await resources.get(f"/venues/{science_venue}")
            return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

        found = await eventually(on_the_map, timeout=30, message="the science venue is on the map")
        assert (found["owner"], found["kind"], found["capacity"]) == ("sci", "science-museum", 40)
