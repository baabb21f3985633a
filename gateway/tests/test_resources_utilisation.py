"""The learning map's utilisation, kept at apply time, against computing it per request.

A mixed stream (bookings, waitlists, approvals, declines, cancellations, check-ins,
completions, no-shows released, closures that overlap and span days) is applied in batches
of varying sizes; every period asked (whole days, parts of days, one hour) gives per venue
and per district what computing from the hours, closures and bookings gives, and so does a
rebuild of the same stream in one batch.
"""

from __future__ import annotations

import random
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
    VisitApproved,
    VisitBooked,
    VisitCancelled,
    VisitCheckedIn,
    VisitCompleted,
    VisitDeclined,
    VisitReleased,
    VisitWaitlisted,
    slot_id,
    slot_starts_on,
)
from gateway.resources.readmodel import ResourcesReadModel, Utilisation
from services.kit.consumer import Delivered
from services.kit.wire import Envelope

REGISTERED = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
FIRST_DAY = datetime(2027, 3, 1, 0, 0, tzinfo=CITY_TZ)
DAYS = 40


def venue(n: int, rng: random.Random) -> VenueRegistered:
    weekdays = sorted(rng.sample(range(1, 8), rng.randint(3, 7)))
    opens = rng.choice(["08:30", "09:00", "10:00"])
    return VenueRegistered(
        venue_id=f"00000000-0000-4000-8000-{n:012d}",
        name=f"Venue {n}",
        kind="museum",
        district=rng.choice(["321002", "321003"]),
        address="somewhere",
        latitude=32.39,
        longitude=119.43,
        owner="cult",
        lists=["practice-base"],
        heritage=False,
        capacity=rng.choice([30, 60, 90]),
        slot_minutes=rng.choice([60, 90, 120]),
        buffer_minutes=rng.choice([0, 15, 30]),
        opening_hours=[OpeningHours(weekday=d, opens=opens, closes="17:00") for d in weekdays],
        age_min=6,
        age_max=15,
        min_notice_hours=0,
        accessible=True,
        registered_at=REGISTERED,
    )


def mixed_stream(seed: int) -> list[Any]:
    rng = random.Random(seed)
    venues = [venue(n, rng) for n in range(1, 7)]
    events: list[Any] = list(venues)
    live: list[VisitBooked] = []
    for n in range(400):
        v = rng.choice(venues)
        day = (FIRST_DAY + timedelta(days=rng.randrange(DAYS))).date()
        starts = list(slot_starts_on(v.opening_hours, v.slot_minutes, day, v.buffer_minutes))
        roll = rng.random()
        if starts and roll < 0.45:
            start = rng.choice(starts)
            fields: dict[str, Any] = {
                "booking_id": f"b-{n}",
                "slot_id": str(slot_id(v.venue_id, start)),
                "venue_id": v.venue_id,
                "starts_at": start,
                "ends_at": start + timedelta(minutes=v.slot_minutes),
                "capacity": v.capacity,
                "school_id": f"s-{n % 9}",
                "head_count": rng.randint(5, 30),
                "age": 10,
                "teachers": 2,
            }
            if rng.random() < 0.15:
                events.append(VisitWaitlisted(**fields, position=1))
            else:
                booked = VisitBooked(
                    **fields,
                    from_waitlist=False,
                    places_left=0,
                    approved=rng.random() < 0.7,
                )
                events.append(booked)
                live.append(booked)
        elif live and roll < 0.9:
            b = live.pop(rng.randrange(len(live)))
            ids = {
                "booking_id": b.booking_id,
                "slot_id": b.slot_id,
                "venue_id": b.venue_id,
                "school_id": b.school_id,
            }
            outcome = rng.choice(["cancel", "decline", "release", "complete", "approve"])
            if outcome == "cancel":
                events.append(
                    VisitCancelled(
                        **ids,
                        starts_at=b.starts_at,
                        reason="school-cancelled",
                        detail="",
                        places_left=0,
                    )
                )
            elif outcome == "decline":
                events.append(VisitDeclined(**ids, reason="full", places_left=0))
            elif outcome == "release":
                events.append(VisitReleased(**ids, at=b.starts_at, places_left=0))
            elif outcome == "approve":
                events.append(VisitApproved(**ids))
                live.append(b)
            else:
                arrived = rng.randint(1, b.head_count)
                events.append(VisitCheckedIn(**ids, head_count=arrived, at=b.starts_at))
                events.append(VisitCompleted(**ids, head_count=arrived, rating=4, at=b.starts_at))
        else:
            start = FIRST_DAY + timedelta(
                days=rng.randrange(DAYS), hours=rng.randint(6, 20), minutes=rng.choice([0, 30])
            )
            length = timedelta(hours=rng.choice([1, 3, 20, 50]))
            events.append(
                VenueClosed(
                    venue_id=v.venue_id,
                    starts_at=start,
                    ends_at=start + length,
                    reason="repairs",
                )
            )
    return events


def deliveries(events: list[Any], first_seq: int = 1) -> list[Delivered]:
    return [
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
        for n, e in enumerate(events, first_seq)
    ]


def apply_in_batches(model: ResourcesReadModel, events: list[Any], rng: random.Random) -> None:
    done = 0
    while done < len(events):
        size = rng.choice([1, 2, 7, 30, 120])
        model.apply("test", deliveries(events[done : done + size], done + 1))
        done += size


PERIODS = [
    (FIRST_DAY, FIRST_DAY + timedelta(days=DAYS)),
    (FIRST_DAY + timedelta(days=3), FIRST_DAY + timedelta(days=17)),
    (FIRST_DAY + timedelta(days=2, hours=10, minutes=30), FIRST_DAY + timedelta(days=9, hours=13)),
    (FIRST_DAY + timedelta(days=5, hours=9), FIRST_DAY + timedelta(days=5, hours=10)),
    (FIRST_DAY + timedelta(days=12), FIRST_DAY + timedelta(days=12, hours=15)),
    (FIRST_DAY - timedelta(days=10), FIRST_DAY + timedelta(days=DAYS + 10, hours=1)),
    (datetime(2027, 3, 4, 3, 17, tzinfo=UTC), datetime(2027, 3, 29, 23, 0, tzinfo=UTC)),
]


def assert_kept_equals_computed(model: ResourcesReadModel) -> None:
    venues = model.venues()
    for start, end in PERIODS:
        computed = model.computed_utilisation(venues, start, end)
        assert model.utilisation(venues, start, end) == computed, (start, end)
        by_district: dict[str, Utilisation] = {}
        for v in venues:
            by_district[v.district] = by_district.get(v.district, Utilisation()) + computed[v.id]
        assert model.district_utilisation(start, end) == by_district, (start, end)


@pytest.fixture
def model(tmp_path: Path) -> Iterator[ResourcesReadModel]:
    opened = ResourcesReadModel(tmp_path / "resources.sqlite3").open()
    yield opened
    opened.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_utilisation_equals_the_per_request_computation_and_survives_a_rebuild(
    model: ResourcesReadModel, seed: int
) -> None:
    events = mixed_stream(seed)
    apply_in_batches(model, events, random.Random(seed))
    venues = model.venues()
    whole = model.utilisation(venues, *PERIODS[0])
    # The stream holds every kind of change, and they show in the figures.
    assert sum(u.booked for u in whole.values()) > 0
    assert sum(u.attended for u in whole.values()) > 0
    assert any(
        u.offered < c.offered
        for u, c in zip(
            whole.values(),
            model.computed_utilisation(
                [v.__class__(**{**v.__dict__, "closures": ()}) for v in venues], *PERIODS[0]
            ).values(),
            strict=True,
        )
    ), "no closure took places away"
    assert_kept_equals_computed(model)
    dump = model.canonical_dump()

    model.reset()
    model.apply("test", deliveries(events))
    assert model.canonical_dump() == dump
    assert_kept_equals_computed(model)


def test_a_redelivered_registration_adds_no_places(model: ResourcesReadModel) -> None:
    rng = random.Random(9)
    registered = venue(1, rng)
    model.apply("test", deliveries([registered]))
    once = model.district_utilisation(*PERIODS[0])
    model.apply("other", deliveries([registered]))
    assert model.district_utilisation(*PERIODS[0]) == once
    assert once[registered.district].offered > 0
