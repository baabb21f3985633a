"""The outbox relay's publish rate on a pre-filled notification log (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from uuid import uuid4

from opentelemetry import trace

from services.kit.eventstore import build_application
from services.kit.outbox import convert_at_write
from services.kit.relay import OutboxRelay
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from services.volunteers.domain import Volunteer
from services.volunteers.integration import translate
from tests.bench.report import Figure

# Larger inserts have hung in psycopg's pipeline mode on the embedded PostgreSQL (both ends
# waiting to read: psycopg issue #685 describes the same symptom).
FILL_BATCH = 200
tracer = trace.get_tracer("tongxin.bench")


def fill_log(app: VolunteersApplication, events: int) -> None:
    """Registered volunteers, saved a couple of hundred at a time (filling is not what is measured).

    Each save happens inside a span, as a command's does, so the stored events carry
    a traceparent and the relay continues a trace for every event, as in production.
    """
    now = datetime.now(UTC)
    for offset in range(0, events, FILL_BATCH):
        with tracer.start_as_current_span("POST /volunteers"):
            app.save(
                *[
                    Volunteer(
                        id=uuid4(),
                        display_name=f"Volunteer {n}",
                        kind="youth",
                        school_id="s1",
                        registered_at=now,
                    )
                    for n in range(offset, min(offset + FILL_BATCH, events))
                ]
            )


def sample_payload(settings: Settings) -> bytes:
    """The body the relay publishes for one registration: the raw publish sends the same."""
    app = build_application(VolunteersApplication, settings, "sample")
    try:
        fill_log(app, 1)
        stored = app.recorder.select_notifications(1, 1)[0]
        contract = translate(app.mapper.to_domain_event(stored))
        assert contract is not None
        return contract.model_dump_json().encode()
    finally:
        app.close()


async def relay_rate(
    settings: Settings, events: int, store: str, *, write_time: bool
) -> list[Figure]:
    """The relay's rate; with `write_time`, on forms written at save (as services save).

    Without it the log holds stored events only and the relay converts each one, as it
    did before forms were written at save: both are measured in one run. The fill's
    time per event says what writing the forms adds to a save.
    """
    app = build_application(VolunteersApplication, settings, "volunteers")
    if write_time:
        convert_at_write(app, "volunteers", translate)
    name = "PostgreSQL" if store == "postgres" else "SQLite"
    how = "forms written at save" if write_time else "converted by the relay"
    suffix = "" if write_time else ".read_time"
    try:
        filling = time.perf_counter()
        await asyncio.to_thread(fill_log, app, events)
        fill_s = time.perf_counter() - filling
        relay = OutboxRelay(
            app, service="volunteers", boundary="volunteers", translate=translate, settings=settings
        )
        stop = asyncio.Event()
        # CPU time of this process (the relay's loop and its reading thread): on a machine
        # shared with other work, what the relay costs rather than how long it waited.
        cpu_started = time.process_time()
        started = time.perf_counter()
        task = asyncio.create_task(relay.run(stop))
        while relay.position < events:  # noqa: ASYNC110 - polling the relay's own counter
            if task.done():
                task.result()
                raise RuntimeError("the relay stopped before publishing everything")
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
        stop.set()
        relay.poke()
        await task
    finally:
        app.close()
    return [
        Figure(
            f"relay.{store}{suffix}",
            f"relay, {name} log -> JetStream, {how}",
            events / elapsed,
            "events/s",
            {"events": events, "relay_batch": settings.relay_batch, "seconds": elapsed},
        ),
        Figure(
            f"relay.{store}{suffix}.cpu_us",
            f"relay, {name} log -> JetStream, {how}: CPU per event",
            cpu_s / events * 1e6,
            "us",
            {"events": events, "cpu_seconds": cpu_s},
        ),
        Figure(
            f"relay.{store}{suffix}.save_us",
            f"save of {FILL_BATCH} registrations, {name}, {how}: per event",
            fill_s / events * 1e6,
            "us",
            {"events": events, "batch": FILL_BATCH, "seconds": fill_s},
        ),
    ]


async def relay_at_rest(settings: Settings, seconds: float, commits: int) -> list[Figure]:
    """A relay in its own process on SQLite: its CPU at rest, and how soon another's commit
    is published. The relay watches the file's data version (as a relay process does),
    reads the outbox every `relay_idle_s`, or (as before it watched) counts itself woken
    by saves that happen elsewhere and so waits for its safety poll; one after the other.
    """
    figures = []
    for key in ("data_version", "poll", "safety_poll"):
        relaying = build_application(VolunteersApplication, settings, "volunteers")
        saving = build_application(VolunteersApplication, settings, "volunteers")
        convert_at_write(saving, "volunteers", translate)
        how = {
            "data_version": "watching the data version",
            "poll": f"polling every {settings.relay_idle_s}s",
            "safety_poll": "woken by its own saves only",
        }[key]
        try:
            relay = OutboxRelay(
                relaying,
                service="volunteers",
                boundary="volunteers",
                translate=translate,
                settings=settings,
            )
            relay.saves_elsewhere = key == "data_version"
            relay.woken_by_saves = key != "poll"
            stop = asyncio.Event()
            task = asyncio.create_task(relay.run(stop))
            while not relay.connected or relay.position < relay.head:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            cpu_started = time.process_time()
            await asyncio.sleep(seconds)
            idle_cpu = (time.process_time() - cpu_started) / seconds
            delays = []
            for _ in range(commits):
                before = relay.position
                committed = time.perf_counter()
                await asyncio.to_thread(fill_log, saving, 1)
                while relay.position == before:  # noqa: ASYNC110 - the relay's own counter
                    await asyncio.sleep(0.001)
                delays.append(time.perf_counter() - committed)
                await asyncio.sleep(0.05)
            stop.set()
            relay.poke()
            await task
        finally:
            saving.close()
            relaying.close()
        delays.sort()
        figures += [
            Figure(
                f"relay.sqlite.own_process.{key}.idle_cpu",
                f"relay in its own process, SQLite, {how}: CPU at rest",
                idle_cpu * 100,
                "% of a core",
                {"seconds": seconds},
            ),
            Figure(
                f"relay.sqlite.own_process.{key}.publish_ms",
                f"relay in its own process, SQLite, {how}: commit -> published, median",
                delays[len(delays) // 2] * 1000,
                "ms",
                {"commits": commits, "max_ms": delays[-1] * 1000},
            ),
        ]
    return figures
