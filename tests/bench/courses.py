"""The courses service's peak paths: a popular lecture's registrations, the points projection,
a parent's points and rank among 800,000, a school's monthly ranking page.

- Registrations: 64 threads register distinct parents into one session of the courses
  application on PostgreSQL (in process, no HTTP): throughput, and the places counted
  afterwards (never more than the capacity). Beside it in the same run, the raw
  building block: single-row PostgreSQL commits.
- Points projection: the courses stream filled with `PointsAwarded` CloudEvents as the
  relay publishes them (written without the contract model, checked against it; filling is
  not measured), then the gateway's courses projector catching up from a fresh read model
  (fetch, decode, apply, ack), with its CPU time; beside it in the same run, raw nats-py
  pull-consume of as many messages (in `__main__`). The read model's own cost (awards
  applied in batches of 500, no NATS) is measured too, beside plain single-row SQLite
  upserts of the same count.
- My points and rank: the read model holds 800,000 parents' points for a month (bulk
  loaded); one parent's standings (class, school, district, city) are read again and
  again: p50 / p95, back to back and 2 ms apart, with the thread's CPU time. Rank is
  1 + the parents holding more points, summed over the distinct totals above in the
  scope's histogram (`points_histogram`, one per class, school,
  district and the city), so it does not grow with the number of parents.
- A school's monthly ranking page (20 rows, with ranks): p95.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from contracts.courses import PointsAwarded
from gateway.courses.readmodel import CoursesReadModel, period_keys, scope_key
from gateway.features import build_features, open_feature
from services.courses.application import CoursesApplication
from services.kit import bus
from services.kit.consumer import Delivered
from services.kit.eventstore import build_application
from services.kit.privacy.personal import PersonalData
from services.kit.relay import message_id, source_of
from services.kit.settings import Settings
from services.kit.wire import envelope_for
from tests.bench.report import Figure, percentiles

SCHOOLS = 370
CLASSES_PER_SCHOOL = 40
DISTRICTS = 6
BATCH = 500
PUBLISH_BATCH = 1000
# Reads "as requests arrive" are this far apart.
ARRIVAL_S = 0.002
EARNED = datetime(2026, 11, 10, 19, 0, tzinfo=UTC)


def registrations(settings: Settings, parents: int, capacity: int, clients: int = 64) -> Figure:
    app = build_application(CoursesApplication, settings, "courses")
    app.personal = personal = PersonalData.open(settings, "courses")
    try:
        course = app.publish_course(
            None, title="Popular lecture", problem="Everyone wants in.", stages=["primary"],
            themes=["study-guidance"], steps=["v", "d", "s", "h", "m"],
        )  # fmt: skip
        starts = datetime.now(UTC) + timedelta(days=3)
        session = app.schedule_session(
            None, course_id=course["course_id"], parent_school_id=None, school_id="s1",
            district="d1", mode="online", lecturer_kind="teacher", lecturer_id="t1",
            starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=capacity,
        )  # fmt: skip
        session_id = uuid.UUID(session["session_id"])
        ids = [
            uuid.UUID(
                app.enrol_parent(
                    None,
                    name=f"P{n}",
                    school_id="s1",
                    class_id="1-1",
                    district="d1",
                    ranking_opt_in=False,
                )["parent_id"]
            )  # fmt: skip
            for n in range(parents)
        ]
        shares = [ids[i::clients] for i in range(clients)]

        def work(mine: list[uuid.UUID]) -> None:
            for parent_id in mine:
                app.register(None, session_id, parent_id)

        threads = [threading.Thread(target=work, args=(share,)) for share in shares]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        held = app.session(session_id)
        if held.places_filled > capacity or held.places_filled + len(held.waitlist) != parents:
            raise AssertionError(f"overbooked or lost: {held.places_filled} / {len(held.waitlist)}")
    finally:
        app.close()
        personal.close()
    return Figure(
        "courses.registrations",
        f"courses registrations, one session, {clients} threads",
        parents / elapsed,
        "commits/s",
        {
            "parents": parents,
            "capacity": capacity,
            "placed": held.places_filled,
            "waitlisted": len(held.waitlist),
            "seconds": elapsed,
        },
    )


def _award(seq: int, rng: random.Random, parents: int) -> PointsAwarded:
    n = rng.randrange(parents)
    school = n % SCHOOLS
    return PointsAwarded(
        parent_id=f"p-{n}",
        school_id=f"school-{school}",
        class_id=f"c-{n % CLASSES_PER_SCHOOL}",
        district=f"d-{school % DISTRICTS}",
        activity="online-completion",
        source_id=f"s-{seq}",
        points=5,
        rule_version=1,
        earned_at=EARNED + timedelta(minutes=seq % 40_000),
    )


def _award_message(seq: int, rng: random.Random, parents: int) -> tuple[bytes, dict[str, str]]:
    """An award as the relay publishes it, written without the contract model: filling a
    million messages is not what is measured. `fill_points_stream` checks the first ones
    against the model's own envelope."""
    n = rng.randrange(parents)
    school = n % SCHOOLS
    earned = EARNED + timedelta(minutes=seq % 40_000)
    payload = json.dumps(
        {
            "parent_id": f"p-{n}",
            "school_id": f"school-{school}",
            "class_id": f"c-{n % CLASSES_PER_SCHOOL}",
            "district": f"d-{school % DISTRICTS}",
            "activity": "online-completion",
            "source_id": f"s-{seq}",
            "points": 5,
            "rule_version": 1,
            "earned_at": earned.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        separators=(",", ":"),
    ).encode()
    headers = {
        **AWARD_HEADERS,
        "ce-id": message_id("courses", seq),
        "Nats-Msg-Id": message_id("courses", seq),
        "ce-subject": f"p-{n}",
        "ce-sequence": str(seq),
    }
    return payload, headers


AWARD_HEADERS = {
    "ce-specversion": "1.0",
    "ce-source": source_of("courses"),
    "ce-type": PointsAwarded.event_type(),
    "ce-time": EARNED.isoformat(),
    "ce-department": PointsAwarded.department(),
    "content-type": "application/json",
}


async def fill_points_stream(settings: Settings, count: int, parents: int) -> float:
    """`count` awards on the courses stream, as the relay would have published them;
    the seconds it took."""
    for seq in range(1, 4):  # The hand-written messages are the model's, byte for byte.
        payload, headers = _award_message(seq, random.Random(seq), parents)
        award = _award(seq, random.Random(seq), parents)
        envelope = envelope_for(
            award, id=message_id("courses", seq), source=source_of("courses"),
            subject=award.parent_id, sequence=seq, time=EARNED,
        )  # fmt: skip
        if payload != envelope.payload() or headers != envelope.headers():
            raise AssertionError(f"the bench's award differs from the contract's: {payload!r}")
    started = time.perf_counter()
    subject = f"evt.{PointsAwarded.department()}.courses.{PointsAwarded.event_name}"
    rng = random.Random(7)
    nc = await bus.connect(settings, "bench-fill")
    try:
        js = nc.jetstream(timeout=30)
        await bus.ensure_stream(js, "courses", settings)
        for at in range(1, count + 1, PUBLISH_BATCH):
            futures = []
            for seq in range(at, min(at + PUBLISH_BATCH, count + 1)):
                payload, headers = _award_message(seq, rng, parents)
                futures.append(await js.publish_async(subject, payload, headers=headers))
            await asyncio.gather(*futures)
    finally:
        await nc.close()
    return time.perf_counter() - started


async def points_catch_up(settings: Settings, events: int, parents: int) -> list[Figure]:
    """The gateway's courses projector catching up on a stream of `events` awards: NATS
    fetch, decoding, the read model's writes and the acks, with the process's CPU time."""
    filled = await fill_points_stream(settings, events, parents)
    live = build_features(settings, only=("courses",))["courses"]
    open_feature(live)
    readmodel, [projector] = live.readmodel, live.projectors
    stop = asyncio.Event()
    try:
        cpu, started = time.process_time(), time.perf_counter()
        task = asyncio.create_task(projector.run(stop))
        while projector.position < events:  # noqa: ASYNC110 - polling the projector's counter
            if task.done():
                task.result()
                raise RuntimeError("the projector stopped before catching up")
            await asyncio.sleep(0.05)
        elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        stop.set()
        await task
    finally:
        readmodel.close()
    detail = {
        "events": events,
        "parents": parents,
        "consumer_batch": settings.consumer_batch,
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(cpu_s, 1),
        "fill_seconds": round(filled, 1),
        "load_average": os.getloadavg()[0],
    }
    return [
        Figure("courses.points_projection", "courses points projector catch-up from NATS",
               events / elapsed, "events/s", detail),
        Figure("courses.points_projection.cpu", "courses points projector: events per CPU-second",
               events / cpu_s, "events/s", detail),
    ]  # fmt: skip


def points_apply(folder: Path, events: int, parents: int) -> list[Figure]:
    """The read model's own cost: awards applied in batches of 500 (no NATS, no decoding),
    beside plain SQLite upserts of as many rows."""
    rng = random.Random(7)
    awards = [_award(seq, rng, parents) for seq in range(1, events + 1)]
    delivered = [
        Delivered(seq, envelope_for(award, id=f"courses-{seq}", source="/courses",
                                    subject=None, sequence=seq))
        for seq, award in enumerate(awards, start=1)
    ]  # fmt: skip
    model = CoursesReadModel(folder / "points.sqlite3").open()
    try:
        cpu, started = time.process_time(), time.perf_counter()
        for at in range(0, len(delivered), BATCH):
            model.apply("bench", delivered[at : at + BATCH])
        elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    finally:
        model.close()
    raw = _raw_upserts(folder / "raw.sqlite3", events)
    return [
        Figure(
            "courses.points_apply",
            "courses points read model apply, batches of 500",
            events / elapsed,
            "events/s",
            {"events": events, "parents": parents, "seconds": elapsed, "cpu_seconds": cpu_s},
        ),
        raw,
    ]


def _raw_upserts(path: Path, count: int) -> Figure:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    started = time.perf_counter()
    for at in range(0, count, BATCH):
        conn.execute("BEGIN")
        for n in range(at, min(at + BATCH, count)):
            conn.execute(
                "INSERT INTO t (k, v) VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET v = v + 1",
                (f"k-{n % 100_000}",),
            )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return Figure(
        "raw.sqlite_upserts",
        "raw SQLite single-row upserts, batches of 500",
        count / elapsed,
        "rows/s",
        {"rows": count, "seconds": elapsed},
    )


def _bulk_month(model: CoursesReadModel, parents: int) -> str:
    """800,000 parents' points for one month, written straight into the tables."""
    _, month = period_keys(EARNED)
    rng = random.Random(11)
    rows = []
    histogram: dict[tuple[str, int], int] = {}
    for n in range(parents):
        school = n % SCHOOLS
        klass = f"c-{(n // SCHOOLS) % CLASSES_PER_SCHOOL}"
        district = f"d-{school % DISTRICTS}"
        points = rng.choice((0, 3, 5, 5, 8, 10, 10, 13, 15, 20, 25, 30, 40, 55))
        rows.append((f"p-{n}", month, points, f"school-{school}", klass, district))
        if points > 0:  # the read model's histograms: one per scope
            scopes = (
                "city",
                scope_key("district", district=district),
                scope_key("school", school_id=f"school-{school}"),
                scope_key("class", school_id=f"school-{school}", class_id=klass),
            )
            for scope in scopes:
                histogram[(scope, points)] = histogram.get((scope, points), 0) + 1
    with model._locked() as conn:  # noqa: SLF001 - bulk loading the bench's fixture
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO points_periods (parent_id, period, points, school_id, class_id, "
            "district) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO parents (id, school_id, class_id, district) VALUES (?, ?, ?, ?)",
            [(r[0], r[3], r[4], r[5]) for r in rows],
        )
        conn.executemany(
            "INSERT INTO points_histogram (scope, period, points, parents) VALUES (?, ?, ?, ?)",
            [(scope, month, points, count) for (scope, points), count in histogram.items()],
        )
        conn.execute("COMMIT")
    return month


def _timed(call: Callable[[], object], pause_s: float) -> tuple[float, float]:
    """Wall and thread-CPU milliseconds of one call, after an optional pause."""
    if pause_s:
        time.sleep(pause_s)
    wall, cpu = time.perf_counter(), time.thread_time()
    call()
    return (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000


def rank_reads(folder: Path, parents: int, reads: int) -> list[Figure]:
    """Standings and ranking pages, read back to back and read as requests arrive.

    Back to back, a shared machine's scheduler takes the CPU from the loop every few
    milliseconds and the wall p95 measures that; requests arriving 2 ms apart (a
    server's thread waking for each) and the thread's own CPU time say what the read
    model costs. All three are reported.
    """
    model = CoursesReadModel(folder / "ranks.sqlite3").open()
    samples: dict[str, list[float]] = {}
    try:
        month = _bulk_month(model, parents)
        for mode, pause_s in (("busy", 0.0), ("arriving", ARRIVAL_S)):
            rng = random.Random(3)
            for _ in range(reads):
                parent = model.parent(f"p-{rng.randrange(parents)}")
                assert parent is not None
                wall, cpu = _timed(partial(model.standings, parent, month), pause_s)
                samples.setdefault(f"mine.{mode}", []).append(wall)
                samples.setdefault(f"mine.{mode}.cpu", []).append(cpu)
            for _ in range(max(reads // 5, 20)):
                school = f"school-{rng.randrange(SCHOOLS)}"
                page = partial(model.ranking, scope="school", period=month, first=20)
                wall, cpu = _timed(partial(page, school_id=school), pause_s)
                samples.setdefault(f"page.{mode}", []).append(wall)
                samples.setdefault(f"page.{mode}.cpu", []).append(cpu)
    finally:
        model.close()
    p = {key: percentiles(values, 50, 95) for key, values in samples.items()}
    detail: dict[str, Any] = {
        "parents": parents,
        "reads": reads,
        "arrival_ms": ARRIVAL_S * 1000,
        "load_average": os.getloadavg()[0],
        **{f"{key}.{q}": round(v, 3) for key, qs in p.items() for q, v in qs.items()},
    }
    return [
        Figure("courses.my_rank.p50", "my points and rank (4 scopes), arriving, p50",
               p["mine.arriving"]["p50"], "ms", detail),
        Figure("courses.my_rank.p95", "my points and rank (4 scopes), arriving, p95",
               p["mine.arriving"]["p95"], "ms", detail),
        Figure("courses.my_rank.busy_p95", "my points and rank, back to back, p95",
               p["mine.busy"]["p95"], "ms", detail),
        Figure("courses.my_rank.cpu_p95", "my points and rank, thread CPU, p95",
               p["mine.busy.cpu"]["p95"], "ms", detail),
        Figure("courses.school_ranking.p95", "a school's monthly ranking page, arriving, p95",
               p["page.arriving"]["p95"], "ms", detail),
        Figure("courses.school_ranking.busy_p95", "a school's ranking page, back to back, p95",
               p["page.busy"]["p95"], "ms", detail),
        Figure("courses.school_ranking.cpu_p95", "a school's ranking page, thread CPU, p95",
               p["page.busy.cpu"]["p95"], "ms", detail),
    ]  # fmt: skip
