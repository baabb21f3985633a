"""The learning map's availability search on its laid-out slots, against the venues' hours.

Every venue's slots are laid out with their free places when it is registered; bookings,
waitlists and closures keep them current. A search reads them nearest venue first, and
finds what computing each venue's slots from its opening hours finds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.resources import (
    CITY_TZ,
    OpeningHours,
    VenueClosed,
    VenueRegistered,
    VisitBooked,
    VisitWaitlisted,
    slot_id,
    slot_starts_on,
)
from gateway.resources.readmodel import OFFERED_DAYS, ResourcesReadModel
from services.kit.consumer import Delivered
from services.kit.wire import Envelope

REGISTERED = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
TUESDAY = datetime(2027, 3, 16, 0, 0, tzinfo=CITY_TZ)
NEAR = (32.39, 119.43)
HOURS = [OpeningHours(weekday=d, opens="09:00", closes="17:00") for d in (2, 3, 4, 5, 6, 7)]


def venue(n: int, **changes: Any) -> VenueRegistered:
    fields: dict[str, Any] = {
        "venue_id": f"00000000-0000-4000-8000-{n:012d}",
        "name": f"Venue {n}",
        "kind": "museum",
        "district": "321002",
        "address": "somewhere",
        "latitude": NEAR[0] + n * 0.01,
        "longitude": NEAR[1],
        "owner": "cult",
        "lists": ["practice-base"],
        "heritage": False,
        "capacity": 60,
        "slot_minutes": 120,
        "opening_hours": HOURS,
        "age_min": 6,
        "age_max": 15,
        "min_notice_hours": 0,
        "accessible": True,
        "registered_at": REGISTERED,
    }
    return VenueRegistered(**(fields | changes))


def booked(v: VenueRegistered, start: datetime, head_count: int, n: int) -> VisitBooked:
    return VisitBooked(
        booking_id=f"b-{n}",
        slot_id=str(slot_id(v.venue_id, start)),
        venue_id=v.venue_id,
        starts_at=start,
        ends_at=start + timedelta(minutes=v.slot_minutes),
        capacity=v.capacity,
        school_id="s",
        head_count=head_count,
        age=10,
        teachers=2,
        from_waitlist=False,
        places_left=v.capacity - head_count,
    )


@pytest.fixture
def model(tmp_path: Path) -> Iterator[ResourcesReadModel]:
    opened = ResourcesReadModel(tmp_path / "resources.sqlite3").open()
    yield opened
    opened.close()


def apply(model: ResourcesReadModel, *events: Any) -> None:
    deliveries = [
        Delivered(
            stream_seq=n,
            envelope=Envelope(
                id=f"e-{n}",
                source="/test",
                type=e.event_type(),
                subject=None,
                time=REGISTERED,
                department="cult",
                data=e,
            ),
        )
        for n, e in enumerate(events, 1)
    ]
    model.apply("test", deliveries)


def starts(model: ResourcesReadModel, **query: Any) -> dict[str, list[str]]:
    found = model.available(children=40, age=10, near=NEAR, **query)
    return {a.venue.name: [s.starts_at.astimezone(CITY_TZ).strftime("%d %H:%M") for s in a.slots]
            for a in found}  # fmt: skip


def test_free_places_waitlists_closures_and_buffers_decide_what_a_search_finds(
    model: ResourcesReadModel,
) -> None:
    first, second, third = venue(1), venue(2, buffer_minutes=30), venue(3, capacity=30)
    tuesday_9 = TUESDAY.replace(hour=9)
    apply(
        model,
        first,
        second,
        third,
        # Venue 1: 9:00 full, 11:00 has 30 left (too few for 40), 13:00 has a waitlist.
        booked(first, tuesday_9, 60, 1),
        booked(first, tuesday_9 + timedelta(hours=2), 30, 2),
        booked(first, tuesday_9 + timedelta(hours=4), 60, 3),
        VisitWaitlisted(
            booking_id="w-1",
            slot_id=str(slot_id(first.venue_id, tuesday_9 + timedelta(hours=4))),
            venue_id=first.venue_id,
            starts_at=tuesday_9 + timedelta(hours=4),
            ends_at=tuesday_9 + timedelta(hours=6),
            capacity=60,
            school_id="s2",
            head_count=10,
            age=10,
            teachers=1,
            position=1,
        ),
        # Venue 2 closes on Tuesday morning.
        VenueClosed(
            venue_id=second.venue_id,
            starts_at=tuesday_9,
            ends_at=tuesday_9 + timedelta(hours=3),
            reason="maintenance",
        ),
    )
    found = starts(model, start=TUESDAY, end=TUESDAY + timedelta(days=1), slots_per_venue=3)
    # Venue 3 takes 30 children a slot: never for 40. Venue 1 is nearest, with 15:00 only;
    # venue 2's slots are 2.5 hours apart (30 minutes' buffer), the closed ones left out.
    assert found == {"Venue 1": ["16 15:00"], "Venue 2": ["16 14:00"]}
    # Farther than venue 1 is left out within 1.5 km.
    assert list(starts(model, start=TUESDAY, end=TUESDAY + timedelta(days=1), within_km=1.5)) == [
        "Venue 1"
    ]


def test_past_the_laid_out_days_the_hours_answer_the_same(model: ResourcesReadModel) -> None:
    apply(model, venue(1))
    inside = TUESDAY
    beyond = TUESDAY + timedelta(days=OFFERED_DAYS)
    near = starts(model, start=inside, end=inside + timedelta(days=2))
    far = starts(model, start=beyond, end=beyond + timedelta(days=2))
    assert near["Venue 1"] == ["16 09:00", "16 11:00", "16 13:00", "16 15:00", "17 09:00"]
    assert [s[3:] for s in far["Venue 1"]] == ["09:00", "11:00", "13:00", "15:00", "09:00"]


def test_the_laid_out_slots_are_those_of_the_hours_day_by_day(
    model: ResourcesReadModel,
) -> None:
    # Two openings on one day, a buffer, a day without hours, a slot ending at midnight.
    hours = [
        OpeningHours(weekday=1, opens="08:30", closes="12:00"),
        OpeningHours(weekday=1, opens="13:00", closes="17:45"),
        OpeningHours(weekday=3, opens="00:00", closes="23:59"),
        OpeningHours(weekday=6, opens="19:00", closes="23:59"),
    ]
    v = venue(7, opening_hours=hours, slot_minutes=50, buffer_minutes=15)
    apply(model, v)
    with model._locked() as conn:
        stored = conn.execute(
            "SELECT slot_id, starts_at, ends_at, day, places_left FROM offered ORDER BY starts_at"
        ).fetchall()
    first = REGISTERED.astimezone(CITY_TZ).date()
    expected = [
        (
            str(slot_id(v.venue_id, start)),
            start.astimezone(UTC).isoformat(),
            (start + timedelta(minutes=50)).astimezone(UTC).isoformat(),
            day.isoformat(),
            60,
        )
        for day in (first + timedelta(days=n) for n in range(OFFERED_DAYS))
        for start in slot_starts_on(hours, 50, day, 15)
    ]
    assert len(expected) > OFFERED_DAYS
    assert [tuple(row) for row in stored] == expected
