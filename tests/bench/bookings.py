"""Booking contention and availability search of the learning map (`--only bookings`).

Contention: 64 clients book one child at a time into the last places of one slot, then of
100 slots, through a resources API process on PostgreSQL, until every place is taken. The
figures: bookings per second, refusals, and whether the stored slots hold exactly their
capacity (no overbooking). Beside them, in the same run: eventsourcing's load+save of one
aggregate from one thread on the same database, the ceiling of a command that must decide
on fresh state.

Search: 500 venues, one term (20 weeks) of slots, some booked full; `available` of the
gateway's read model for a class of 40 near a point, p50/p95, beside a plain read of the
same 500 venue rows from the same SQLite file.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from contracts.resources import CITY_TZ, OpeningHours, VenueRegistered, VisitBooked, slot_id
from gateway.resources.readmodel import ResourcesReadModel
from services.kit.consumer import Delivered
from services.kit.settings import Settings
from services.kit.wire import Envelope
from tests.bench import processes, raw_postgres
from tests.bench.client import Connection
from tests.bench.report import Figure, percentiles

CLIENTS = 64
ONE_SLOT_PLACES = 320
MANY_SLOTS = 100
PLACES_PER_SLOT = 8
SEARCH_VENUES = 500
TERM = timedelta(weeks=20)


def _venue(capacity: int, slot_minutes: int, days: tuple[int, ...]) -> dict[str, Any]:
    return {
        "name": "Bench venue",
        "kind": "museum",
        "district": "321002",
        "address": "bench",
        "latitude": 32.39,
        "longitude": 119.43,
        "owner": "cult",
        "capacity": capacity,
        "slot_minutes": slot_minutes,
        "opening_hours": [{"weekday": d, "opens": "00:00", "closes": "24:00"} for d in days],
    }


def _first_day() -> datetime:
    day = (datetime.now(CITY_TZ) + timedelta(days=14)).date()
    return datetime(day.year, day.month, day.day, tzinfo=CITY_TZ)


async def _contend(
    url: str, token: str, venue_id: str, starts: list[datetime], key: str, label: str
) -> tuple[Figure, int]:
    """Every client books one child at a time, moving on to the next slot when one is full."""
    booked = 0
    refused = 0
    latencies: list[float] = []

    async def client(n: int) -> None:
        nonlocal booked, refused
        connection = Connection(url, token)
        order = starts[n % len(starts) :] + starts[: n % len(starts)]
        try:
            for start in order:
                while True:
                    body = {
                        "starts_at": start.isoformat(),
                        "school_id": f"school-{n}",
                        "head_count": 1,
                        "age": 10,
                    }
                    began = time.perf_counter()
                    status, answer = await connection.post(f"/venues/{venue_id}/bookings", body, {})
                    latencies.append(time.perf_counter() - began)
                    if status == 201:
                        booked += 1
                        continue
                    refused += 1
                    if status != 409 or orjson.loads(answer).get("code") != "slot-full":
                        raise RuntimeError(f"booking answered {status}: {answer[:200]!r}")
                    break
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    spread = {k: round(v * 1000, 2) for k, v in percentiles(latencies, 50, 95).items()}
    figure = Figure(
        key,
        label,
        booked / elapsed,
        "bookings/s",
        {"booked": booked, "refused": refused, "clients": CLIENTS, "latency_ms": spread},
    )
    return figure, booked


async def contention(settings: Settings, folder: Path) -> list[Figure]:
    _, reference_ids = await asyncio.to_thread(raw_postgres.eventsourcing_append, settings, 300)
    load_save = await asyncio.to_thread(
        raw_postgres.eventsourcing_load_save, settings, reference_ids
    )
    with processes.platform(settings, folder) as running:
        env = running.base_env | {"TONGXIN_RELAY_IN_PROCESS": "false"}
        api = processes.HttpProcess(
            "resources",
            [sys.executable, "-m", "services.resources"],
            env,
            folder / "resources.log",
        )
        running.processes.append(api)
        api.ready()
        staff = running.issuer.token(role="coordinator", department="cult", subject="bench")
        connection = Connection(api.url, staff)
        figures = [load_save]
        day = _first_day()
        for places, slots, key, label in (
            (ONE_SLOT_PLACES, 1, "bookings.one_slot", "64 clients, last places of one slot"),
            (
                PLACES_PER_SLOT,
                MANY_SLOTS,
                "bookings.many_slots",
                f"64 clients, last places of {MANY_SLOTS} slots",
            ),
        ):
            connection.close()
            status, answer = await connection.post(
                "/venues", _venue(places, 30, (1, 2, 3, 4, 5, 6, 7)), {}
            )
            if status != 201:
                raise RuntimeError(f"venue: {status} {answer[:200]!r}")
            venue_id = orjson.loads(answer)["venue_id"]
            starts = [day + timedelta(minutes=30 * n) for n in range(slots)]
            figure, booked = await _contend(api.url, staff, venue_id, starts, key, label)
            connection.close()  # Idle through the contention: the server has let it go.
            held = 0
            for start in starts:
                status, answer = await connection.get(f"/slots/{slot_id(venue_id, start)}")
                view = orjson.loads(answer)
                held += view["capacity"] - view["places_left"]
            overbooked = booked != places * slots or held != places * slots
            figure.detail.update(
                {
                    "places": places * slots,
                    "held": held,
                    "overbooked": overbooked,
                    "ratio_to_load_save": round(figure.value / load_save.value, 3),
                }
            )
            if overbooked:
                raise RuntimeError(
                    f"{label}: {booked} booked, {held} held, {places * slots} places"
                )
            figures.append(figure)
        connection.close()
    return figures


def search(folder: Path, requests: int = 50) -> list[Figure]:
    """Fill a read model with 500 venues and a term of bookings, then search it."""
    rng = random.Random(14)
    model = ResourcesReadModel(folder / "search.sqlite3").open()
    start = _first_day()
    events: list[Any] = []
    hours = [OpeningHours(weekday=d, opens="09:00", closes="17:00") for d in (2, 3, 4, 5, 6, 7)]
    for n in range(SEARCH_VENUES):
        venue_id = f"00000000-0000-4000-8000-{n:012d}"
        events.append(
            VenueRegistered(
                venue_id=venue_id,
                name=f"Venue {n}",
                kind="museum",
                district=("321002", "321003", "321012", "321081", "321084", "321023")[n % 6],
                address="bench",
                latitude=32.2 + rng.random() * 1.0,
                longitude=119.1 + rng.random() * 0.5,
                owner="cult",
                lists=["practice-base"],
                heritage=False,
                capacity=60,
                slot_minutes=120,
                opening_hours=hours,
                age_min=6,
                age_max=15,
                min_notice_hours=0,
                accessible=True,
                registered_at=datetime.now(UTC),
            )
        )
        # The nearest slots of each venue are full, so a search must look past them.
        for day in range(7):
            slot_start = start + timedelta(days=day, hours=9)
            if slot_start.isoweekday() == 1:
                continue
            events.append(
                VisitBooked(
                    booking_id=f"{n}-{day}",
                    slot_id=str(slot_id(venue_id, slot_start)),
                    venue_id=venue_id,
                    starts_at=slot_start,
                    ends_at=slot_start + timedelta(hours=2),
                    capacity=60,
                    school_id="bench",
                    head_count=60,
                    age=10,
                    teachers=2,
                    from_waitlist=False,
                    places_left=0,
                )
            )
    model.apply("bench", _envelopes(events))
    latencies: list[float] = []
    for _ in range(requests):
        began = time.perf_counter()
        found = model.available(
            start=start,
            end=start + TERM,
            children=40,
            age=10,
            near=(32.39, 119.43),
            within_km=200,
            limit=20,
        )
        latencies.append(time.perf_counter() - began)
        assert found and all(s.places_left >= 40 for a in found for s in a.slots)
    raw: list[float] = []
    connection = sqlite3.connect(folder / "search.sqlite3")
    for _ in range(requests):
        began = time.perf_counter()
        connection.execute("SELECT * FROM venues").fetchall()
        raw.append(time.perf_counter() - began)
    connection.close()
    model.close()
    spread = {k: round(v * 1000, 3) for k, v in percentiles(latencies, 50, 95).items()}
    raw_spread = {k: round(v * 1000, 3) for k, v in percentiles(raw, 50, 95).items()}
    return [
        Figure(
            "bookings.search_p50",
            f"availability search, {SEARCH_VENUES} venues x a term (p50)",
            spread["p50"],
            "ms",
            {"latency_ms": spread, "requests": requests},
        ),
        Figure(
            "bookings.search_p95",
            f"availability search, {SEARCH_VENUES} venues x a term (p95)",
            spread["p95"],
            "ms",
            {"raw_select_venues_ms": raw_spread},
        ),
        Figure(
            "bookings.raw_select_venues_p50",
            f"raw SQLite read of the {SEARCH_VENUES} venue rows (p50)",
            raw_spread["p50"],
            "ms",
        ),
    ]


def _envelopes(events: list[Any]) -> list[Delivered]:
    out = []
    for n, event in enumerate(events, 1):
        envelope = Envelope(
            id=f"bench-{n}",
            source="/bench",
            type=event.event_type(),
            subject=None,
            time=datetime.now(UTC),
            department="cult",
            data=event,
        )
        out.append(Delivered(stream_seq=n, envelope=envelope))
    return out
