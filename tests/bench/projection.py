"""The gateway's projector and read model: catch-up rate from a pre-filled stream, rebuild time.

The stream is filled with the CloudEvents the relay would publish for a busy
city (registrations, shifts, sign-ups, check-ins and check-outs), straight
through publish_async: filling is not what is measured.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from contracts import volunteers as published
from contracts.events import ContractEvent
from gateway.__main__ import rebuild
from gateway.features import build_features, open_feature
from services.kit import bus
from services.kit.relay import message_id, source_of
from services.kit.settings import Settings
from services.kit.wire import envelope_for
from tests.bench.report import Figure

SCHOOLS = 40
PUBLISH_BATCH = 1000


def city_events(count: int) -> Iterator[ContractEvent]:
    """Events in the proportions of a busy term: per shift, six volunteers sign up and work."""
    start = datetime(2026, 9, 1, 8, tzinfo=UTC)
    produced = 0
    n = 0
    while True:
        school = f"school-{n % SCHOOLS}"
        shift = str(uuid.uuid4())
        starts = start + timedelta(hours=n)
        batch: list[ContractEvent] = [
            published.ShiftPublished(
                shift_id=shift,
                school_id=school,
                post="library",
                title=f"Library hour {n}",
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                capacity=10,
                child_facing=False,
            )
        ]
        for place in range(1, 7):
            volunteer = str(uuid.uuid4())
            batch += [
                published.VolunteerRegistered(
                    volunteer_id=volunteer,
                    kind="parent",
                    school_id=school,
                    registered_at=starts - timedelta(days=7),
                ),
                published.VolunteerSignedUp(
                    shift_id=shift, volunteer_id=volunteer, places_filled=place
                ),
                published.VolunteerCheckedIn(shift_id=shift, volunteer_id=volunteer, at=starts),
                published.VolunteerCheckedOut(
                    shift_id=shift,
                    school_id=school,
                    volunteer_id=volunteer,
                    at=starts + timedelta(hours=2),
                    hours=2.0,
                ),
            ]
        for event in batch:
            if produced == count:
                return
            yield event
            produced += 1
        n += 1


async def fill_stream(settings: Settings, count: int) -> None:
    """`count` CloudEvents on the volunteers stream, as the relay would have published them."""
    nc = await bus.connect(settings, "bench-fill")
    try:
        js = nc.jetstream(timeout=10)
        await bus.ensure_stream(js, "volunteers", settings)
        futures = []
        for position, event in enumerate(city_events(count), start=1):
            envelope = envelope_for(
                event,
                id=message_id("volunteers", position),
                source=source_of("volunteers"),
                subject=None,
                sequence=position,
                # Published events carry their command's trace, so the projector continues it.
                traceparent=f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01",
            )
            futures.append(
                await js.publish_async(
                    envelope.nats_subject(), envelope.payload(), headers=envelope.headers()
                )
            )
            if len(futures) >= PUBLISH_BATCH:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await nc.close()


async def catch_up(settings: Settings, events: int) -> Figure:
    """Events/s of the gateway's projector applying a pre-filled stream to a fresh read model."""
    live = build_features(settings, only=("volunteers",))["volunteers"]
    open_feature(live)
    readmodel, [projector] = live.readmodel, live.projectors
    stop = asyncio.Event()
    try:
        started = time.perf_counter()
        task = asyncio.create_task(projector.run(stop))
        while projector.position < events:  # noqa: ASYNC110 - polling the projector's counter
            if task.done():
                task.result()
                raise RuntimeError("the projector stopped before catching up")
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        stop.set()
        await task
    finally:
        readmodel.close()
    return Figure(
        "projection.catch_up",
        "projection catch-up (gateway projector, SQLite read model)",
        events / elapsed,
        "events/s",
        {"events": events, "consumer_batch": settings.consumer_batch, "seconds": elapsed},
    )


async def rebuild_time(settings: Settings, events: int) -> Figure:
    """Seconds `python -m gateway rebuild` takes to replay the whole stream."""
    started = time.perf_counter()
    [position] = (await rebuild(settings, features=["volunteers"])).values()
    elapsed = time.perf_counter() - started
    if position != events:
        raise RuntimeError(f"the rebuild stopped at {position} of {events} events")
    return Figure(
        f"projection.rebuild_{events}",
        f"projection rebuild, {events:,} events (python -m gateway rebuild)",
        elapsed,
        "s",
        {"events": events, "events_per_s": events / elapsed},
    )
