"""The city dashboard at Yangzhou's size: its queries, its page and its live updates.

The streams are filled straight, as the relays would have published a school year: 370
schools, 1,300 parent schools (70% meeting the ten haves), 500 venues, 3,000 care files with
two home visits each and 2,000 suggestions are the city's counts at every scale; the parts
that grow with people (800,000 parents enrolled and 60% of them taking part, 500,000
students' class visits to venues, volunteers' shifts) are multiplied by `scale`. A gateway
process then builds every read model from the streams (the rebuild time), and:

- each of the dashboard's documents (`web/dashboard/queries/`, asked for by hash as the page
  does) once, cold, then the whole set by 16 concurrent users, warm (p50 / p95 per query);
- the page in headless Chromium: first contentful paint and the moment every panel is drawn
  (the page's `tongxin:drawn` mark), on a first load and a reload;
- 1,000 open `shiftChanged` subscriptions, then one change at a time: the push latency to
  all of them (p50 / p99) and the gateway's CPU time per change pushed.

The alliance's targets need the alliance service and its ledger: that document is left out
here (its own figures are in the alliance's tests and bench).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import httpx
import orjson
import websockets

from contracts import care, committees, courses, resources, volunteers
from contracts.city import load_city
from contracts.events import ContractEvent
from contracts.resources import OpeningHours, slot_id
from gateway.dashboard import QUERIES
from gateway.persisted import PersistedQueries
from services.kit import bus
from services.kit.publish import AckInbox, PublishBatch
from services.kit.relay import message_id, source_of
from services.kit.settings import Settings
from services.kit.wire import binary_message, envelope_for
from tests.bench import processes
from tests.bench.client import Connection
from tests.bench.report import Figure, percentiles

SCHOOLS = 370
PARENT_SCHOOLS = 1_300
VENUES = 500
CARE_FILES = 3_000
SUGGESTIONS = 2_000
PARENTS = 800_000
STUDENTS = 500_000
CLASS_SIZE = 40
SHIFTS_PER_SCHOOL = 80  # a school year of volunteer shifts, six volunteers each
YEAR_STARTS = datetime(2025, 9, 1, 8, tzinfo=UTC)
# Left out: the alliance's figures need its service; contributions are per target, for staff.
WITHOUT = {"alliance", "contributions"}
PUBLISH_BATCH = 2_000
SUBSCRIBERS = 1_000
CHANGES = 5


@dataclass(frozen=True)
class CityPlan:
    scale: float

    def people(self, count: int) -> int:
        return max(1, int(count * self.scale))


def _schools() -> list[tuple[str, str]]:
    """(school, district code): the city's districts, each with its share of 370 schools."""
    districts = [d.code for d in load_city().districts]
    return [(f"yz-bench-{n:03d}", districts[n % len(districts)]) for n in range(SCHOOLS)]


def volunteers_events(plan: CityPlan, rng: random.Random) -> Iterator[ContractEvent]:
    shifts = plan.people(SCHOOLS * SHIFTS_PER_SCHOOL)
    schools = _schools()
    for n in range(shifts):
        school, _ = schools[n % SCHOOLS]
        shift = str(uuid.uuid4())
        starts = YEAR_STARTS + timedelta(hours=(n * 7) % (300 * 24))
        child_facing = n % 3 == 0
        yield volunteers.ShiftPublished(
            shift_id=shift,
            school_id=school,
            post="safety-post" if child_facing else "library",
            title=f"Shift {n}",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            capacity=8,
            child_facing=child_facing,
        )
        for place in range(1, 7):
            volunteer = str(uuid.uuid4())
            yield volunteers.VolunteerRegistered(
                volunteer_id=volunteer,
                kind=rng.choice(["parent", "five-elders", "youth"]),
                school_id=school,
                registered_at=starts - timedelta(days=7),
            )
            yield volunteers.VolunteerSignedUp(
                shift_id=shift, volunteer_id=volunteer, places_filled=place
            )
            yield volunteers.VolunteerCheckedOut(
                shift_id=shift,
                school_id=school,
                volunteer_id=volunteer,
                at=starts + timedelta(hours=2),
                hours=2.0,
            )


def courses_events(plan: CityPlan, rng: random.Random) -> Iterator[ContractEvent]:
    schools = _schools()
    for n in range(PARENT_SCHOOLS):
        school, district = schools[n % SCHOOLS]
        parent_school = str(uuid.uuid4())
        yield courses.ParentSchoolRegistered(
            parent_school_id=parent_school,
            name=f"Parent school {n}",
            level="school" if n < SCHOOLS else "community",
            host_kind="school" if n < SCHOOLS else "community",
            host_id=school if n < SCHOOLS else f"community-{n}",
            district=district,
            registered_at=YEAR_STARTS,
        )
        if n % 10 < 7:
            yield courses.ParentSchoolInspected(
                parent_school_id=parent_school,
                inspection_id=str(uuid.uuid4()),
                by_department="wf",
                inspected_on=date.today() - timedelta(days=30),
                verified=list(get_args(courses.TenHave)),
                rejected=[],
                meets_standard=True,
                valid_until=date.today() + timedelta(days=335),
            )
    for n in range(plan.people(PARENTS)):
        school, district = schools[n % SCHOOLS]
        parent = str(uuid.uuid4())
        enrolled = YEAR_STARTS + timedelta(minutes=n % 100_000)
        class_id = f"c-{(n // SCHOOLS) % 60}"
        yield courses.ParentEnrolled(
            parent_id=parent,
            school_id=school,
            class_id=class_id,
            district=district,
            enrolled_at=enrolled,
        )
        if rng.random() < 0.6:
            yield courses.PointsAwarded(
                parent_id=parent,
                school_id=school,
                class_id=class_id,
                district=district,
                activity="online-completion",
                source_id=str(uuid.uuid4()),
                points=5,
                rule_version=1,
                earned_at=enrolled + timedelta(days=3),
            )


def care_events(plan: CityPlan, rng: random.Random) -> Iterator[ContractEvent]:
    schools = _schools()
    for n in range(CARE_FILES):
        school, district = schools[n % SCHOOLS]
        yield care.FileOpened(
            file_id=f"file-{n}",
            school_id=school,
            class_id=f"c-{n % 60}",
            district_id=district,
            source="school",
            opened_at=YEAR_STARTS,
        )
    for n in range(2 * CARE_FILES):
        yield care.HomeVisitRecorded(
            file_id=f"file-{rng.randrange(CARE_FILES)}",
            visit_id=str(uuid.uuid4()),
            visited_on=YEAR_STARTS.date() + timedelta(days=n % 250),
            mode="home",
            visitors=2,
            head_teacher_went=True,
        )


def committees_events(plan: CityPlan, rng: random.Random) -> Iterator[ContractEvent]:
    schools = _schools()
    for n in range(SUGGESTIONS):
        school, district = schools[n % SCHOOLS]
        suggestion = str(uuid.uuid4())
        submitted = YEAR_STARTS + timedelta(days=n % 250)
        yield committees.SuggestionSubmitted(
            suggestion_id=suggestion,
            committee_id=str(uuid.uuid5(uuid.NAMESPACE_URL, school)),
            school_id=school,
            district=district,
            topic=rng.choice(["safety", "teaching", "canteen"]),
            anonymous=False,
            received_on=submitted.date().isoformat(),
            submitted_at=submitted,
        )
        yield committees.SuggestionAssigned(
            suggestion_id=suggestion,
            level="school",
            assigned_department="edu",
            due_at=submitted + timedelta(days=21),
            assigned_at=submitted,
        )
        if n % 5:
            yield committees.SuggestionAnswered(
                suggestion_id=suggestion,
                answered_by="edu",
                on_time=n % 7 != 0,
                answered_at=submitted + timedelta(days=10),
            )


def resources_events(plan: CityPlan, rng: random.Random) -> Iterator[ContractEvent]:
    districts = [d.code for d in load_city().districts]
    hours = [OpeningHours(weekday=d, opens="09:00", closes="17:00") for d in range(1, 8)]
    venues = []
    for n in range(VENUES):
        venue = str(uuid.UUID(int=n + 1, version=4))
        venues.append(venue)
        yield resources.VenueRegistered(
            venue_id=venue,
            name=f"Venue {n}",
            kind=rng.choice(["museum", "library", "science-museum", "heritage-site"]),
            district=districts[n % len(districts)],
            address="bench",
            latitude=32.2 + rng.random() * 1.0,
            longitude=119.1 + rng.random() * 0.5,
            owner="cult",
            lists=["practice-base"],
            heritage=False,
            capacity=120,
            slot_minutes=120,
            opening_hours=hours,
            age_min=6,
            age_max=15,
            min_notice_hours=0,
            accessible=True,
            registered_at=YEAR_STARTS,
        )
    schools = _schools()
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    for n in range(plan.people(STUDENTS // CLASS_SIZE)):
        venue = venues[n % VENUES]
        # Spread over the month behind and the month ahead: the learning map's period.
        starts = today + timedelta(days=(n // VENUES) % 60 - 30)
        yield resources.VisitBooked(
            booking_id=str(uuid.uuid4()),
            slot_id=str(slot_id(venue, starts)),
            venue_id=venue,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            capacity=120,
            school_id=schools[n % SCHOOLS][0],
            head_count=CLASS_SIZE,
            age=10,
            teachers=2,
            from_waitlist=False,
            places_left=80,
        )


BOUNDARIES = {
    "volunteers": volunteers_events,
    "courses": courses_events,
    "care": care_events,
    "committees": committees_events,
    "resources": resources_events,
}


async def fill(settings: Settings, plan: CityPlan) -> dict[str, int]:
    """Every boundary's stream, as its relay would have published it; events per boundary."""
    nc = await bus.connect(settings, "bench-city")
    counts: dict[str, int] = {}
    try:
        js = nc.jetstream(timeout=30)
        inbox = AckInbox(nc)
        await inbox.open()
        for boundary, events in BOUNDARIES.items():
            await bus.ensure_stream(js, boundary, settings)
            counts[boundary] = await _publish(inbox, boundary, events(plan, random.Random(17)))
    finally:
        await nc.close()
    return counts


async def _publish(inbox: AckInbox, boundary: str, events: Iterable[ContractEvent]) -> int:
    """The relay's own way: messages built without an `Envelope`, their headers encoded in
    one go, one future per batch of acknowledgements; one batch in flight while the next
    is sent."""
    source = source_of(boundary)
    position = 0
    in_flight: PublishBatch | None = None
    batch = inbox.batch()
    for position, event in enumerate(events, start=1):
        subject, body, headers = binary_message(
            event,
            id=message_id(boundary, position),
            source=source,
            subject=None,
            time=datetime.now(UTC),
            sequence=position,
            traceparent=f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01",
        )
        await inbox.publish(batch, subject, body, headers)
        if batch.size >= PUBLISH_BATCH:
            inbox.seal(batch)
            if in_flight is not None:
                await asyncio.wait_for(in_flight.future, timeout=60)
            in_flight, batch = batch, inbox.batch()
    inbox.seal(batch)
    for sent in (in_flight, batch):
        if sent is not None:
            await asyncio.wait_for(sent.future, timeout=60)
    return position


async def wait_built(gateway_url: str, counts: dict[str, int], patience_s: float) -> None:
    """Until every feature's projector has applied its boundary's whole stream."""
    deadline = time.monotonic() + patience_s
    async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as http:
        while time.monotonic() < deadline:
            checks = (await http.get("/readyz")).json()["checks"]
            behind = [
                boundary
                for boundary, count in counts.items()
                if max(checks.get(f"projector:{boundary}", {}).get("positions", {0: 0}).values())
                < count
            ]
            if not behind:
                return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"the gateway did not build its read models in {patience_s:.0f} s")


def _documents() -> dict[str, tuple[str, dict[str, Any]]]:
    """The dashboard's query documents by name: hash and variables (a page of 100)."""
    hashes = PersistedQueries.from_folder(QUERIES).by_name
    out = {}
    for name, sha in sorted(hashes.items()):
        text = (QUERIES / f"{name}.graphql").read_text(encoding="utf-8")
        if name in WITHOUT or "\nsubscription " in f"\n{text}":
            continue
        variables: dict[str, Any] = {"first": 100} if "$first" in text else {}
        out[name] = (sha, variables)
    return out


def _body(sha: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}},
        "variables": variables,
    }


async def queries(
    gateway_url: str, gateway_pid: int, token: str, rounds: int, users: int
) -> list[Figure]:
    documents = _documents()
    cold: dict[str, float] = {}
    # The gateway's CPU for each first computation: what an expired answer costs again.
    cold_cpu: dict[str, float] = {}
    connection = Connection(gateway_url, token)
    try:
        for name, (sha, variables) in documents.items():
            started, cpu_before = time.perf_counter(), _cpu_s(gateway_pid)
            status, body = await connection.post("/graphql", _body(sha, variables))
            cold[name] = time.perf_counter() - started
            cold_cpu[name] = _cpu_s(gateway_pid) - cpu_before
            if status != 200 or b'"errors"' in body:
                raise RuntimeError(f"{name}: {status} {body[:300]!r}")
    finally:
        connection.close()

    warm: dict[str, list[float]] = {name: [] for name in documents}

    async def user() -> None:
        mine = Connection(gateway_url, token)
        try:
            for _ in range(rounds):
                for name, (sha, variables) in documents.items():
                    started = time.perf_counter()
                    status, _ = await mine.post("/graphql", _body(sha, variables))
                    if status == 200:
                        warm[name].append(time.perf_counter() - started)
        finally:
            mine.close()

    started, cpu = time.perf_counter(), _cpu_s(gateway_pid)
    await asyncio.gather(*(user() for _ in range(users)))
    elapsed, cpu = time.perf_counter() - started, _cpu_s(gateway_pid) - cpu

    # The same users asking `/healthz` as often: the HTTP stack's own cost per request
    # (uvicorn, FastAPI, middleware), the floor under a kept answer, in the same run.
    async def prober() -> None:
        mine = Connection(gateway_url, token)
        try:
            for _ in range(rounds * len(documents)):
                await mine.get("/healthz")
        finally:
            mine.close()

    floor_cpu = _cpu_s(gateway_pid)
    await asyncio.gather(*(prober() for _ in range(users)))
    floor_cpu = (_cpu_s(gateway_pid) - floor_cpu) / (users * rounds * len(documents))
    every = [latency for latencies in warm.values() for latency in latencies]
    per_query = {
        name: {
            "cold_ms": round(cold[name] * 1000, 2),
            "cold_cpu_ms": round(cold_cpu[name] * 1000, 2),
            **{f"{k}_ms": round(v * 1000, 2) for k, v in percentiles(latencies, 50, 95).items()},
        }
        for name, latencies in warm.items()
    }
    spread = {k: round(v * 1000, 2) for k, v in percentiles(every, 50, 95).items()}
    worst = max(per_query.items(), key=lambda item: item[1]["p95_ms"])
    detail = {"users": users, "rounds": rounds, "queries": per_query}
    label = f"dashboard's {len(documents)} queries, {users} users, warm"
    return [
        Figure(
            "city.queries_cold_max",
            "dashboard queries cold (slowest, first call)",
            max(cold.values()) * 1000,
            "ms",
            {"cold_ms": {k: round(v * 1000, 2) for k, v in cold.items()}},
        ),
        Figure("city.queries_warm_p50", f"{label}, p50", spread["p50"], "ms", detail),
        Figure("city.queries_warm_p95", f"{label}, p95", spread["p95"], "ms", detail),
        Figure(
            "city.queries_warm_worst_p95",
            f"{label}, worst query's p95 ({worst[0]})",
            worst[1]["p95_ms"],
            "ms",
        ),
        Figure("city.queries_rate", f"{label}, rate", len(every) / elapsed, "queries/s"),
        # What the queries cost the gateway, whatever else runs on the machine.
        Figure(
            "city.queries_cpu",
            f"{label}, gateway CPU per query",
            1000 * cpu / len(every),
            "ms",
            {"cpu_s": cpu, "wall_s": elapsed, "healthz_cpu_ms": 1000 * floor_cpu},
        ),
        Figure(
            "city.queries_cpu_vs_healthz",
            f"{label}, gateway CPU per query / per /healthz request",
            cpu / len(every) / floor_cpu if floor_cpu else 0.0,
            "x",
        ),
    ]


async def page(gateway_url: str, token: str) -> list[Figure]:
    """First contentful paint and every panel drawn, on a first load and a reload."""
    from playwright.async_api import async_playwright

    from tests.support.browser import CHROMIUM

    if not CHROMIUM.exists():
        return []
    session = {"role": "viewer", "token": token, "expiresAt": (time.time() + 3600) * 1000}
    script = (
        f"sessionStorage.setItem('tongxin.dashboard.session', {json.dumps(json.dumps(session))})"
    )
    measured: dict[str, dict[str, float]] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        try:
            context = await browser.new_context(viewport={"width": 1366, "height": 768})
            await context.add_init_script(script)
            tab = await context.new_page()
            for load in ("first", "reload"):
                await (tab.goto(gateway_url) if load == "first" else tab.reload())
                await tab.wait_for_selector("body[data-ready=true]", timeout=120_000)
                measured[load] = await tab.evaluate(
                    """() => ({
                      fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime,
                      drawn: performance.getEntriesByName("tongxin:drawn")[0]?.startTime,
                    })"""
                )
        finally:
            await browser.close()
    return [
        Figure(
            f"city.page_{key}_{load}",
            f"page in headless Chromium, {label} ({load} load)",
            measured[load][key],
            "ms",
        )
        for load in ("first", "reload")
        for key, label in (("fcp", "first contentful paint"), ("drawn", "every panel drawn"))
    ]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def live(
    settings: Settings, gateway_url: str, gateway_pid: int, token: str, shifts: int
) -> list[Figure]:
    """1,000 open subscriptions; one change at a time; when each of them hears it.

    A subscription registers some time after its subscribe message, and nothing says when:
    warm-up changes are made until every subscription has heard one, then the measured ones.
    Each change gives the shift a places figure of its own, so a late warm-up push is never
    taken for a measured one."""
    sha = PersistedQueries.from_folder(QUERIES).by_name["shift-changed"]
    ws_url = gateway_url.replace("http://", "ws://") + "/graphql"
    heard: dict[int, list[float]] = {}
    warm = 0
    all_warm = asyncio.Event()

    async def subscriber() -> None:
        nonlocal warm
        async with websockets.connect(
            ws_url, subprotocols=["graphql-transport-ws"], max_queue=None, open_timeout=300
        ) as ws:
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            await ws.send(orjson.dumps(init).decode())
            assert orjson.loads(await ws.recv())["type"] == "connection_ack"
            subscribe = {"id": "1", "type": "subscribe", "payload": _body(sha, {})}
            await ws.send(orjson.dumps(subscribe).decode())
            warmed = False
            while True:
                frame = orjson.loads(await ws.recv())
                if frame.get("type") == "ping":
                    await ws.send('{"type":"pong"}')
                if frame.get("type") != "next":
                    continue
                at = time.perf_counter()
                value = frame["payload"]["data"]["shiftChanged"]["placesFilled"]
                heard.setdefault(value, []).append(at)
                if not warmed:
                    warmed = True
                    warm += 1
                    if warm == SUBSCRIBERS:
                        all_warm.set()

    # The changes are sign-ups on a shift the read model knows, each with its own figure.
    async with httpx.AsyncClient(base_url=gateway_url, timeout=300) as http:
        answer = await http.post(
            "/graphql",
            json={"query": "{ shifts(first: 1) { edges { node { id placesFilled } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        [edge] = answer.json()["data"]["shifts"]["edges"]
    shift_id = edge["node"]["id"]
    tasks = [asyncio.create_task(subscriber()) for _ in range(SUBSCRIBERS)]
    nc = await bus.connect(settings, "bench-live")
    js = nc.jetstream(timeout=60)
    position = shifts

    async def change(places: int) -> float:
        nonlocal position
        position += 1
        event = volunteers.VolunteerSignedUp(
            shift_id=shift_id, volunteer_id=str(uuid.uuid4()), places_filled=places
        )
        envelope = envelope_for(
            event,
            id=message_id("volunteers", position),
            source=source_of("volunteers"),
            subject=None,
            sequence=position,
        )
        sent = time.perf_counter()
        await js.publish(envelope.nats_subject(), envelope.payload(), headers=envelope.headers())
        return sent

    latencies: list[float] = []
    cpu: list[float] = []
    try:
        deadline = time.monotonic() + 900
        places = 1_000
        while not all_warm.is_set():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{warm} of {SUBSCRIBERS} subscriptions registered")
            places += 1
            await change(places)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_warm.wait(), 10)
        await asyncio.sleep(10)  # late warm-up pushes drain
        for n in range(CHANGES):
            places = 2_000 + n
            before = _cpu_s(gateway_pid)
            sent = await change(places)
            deadline = time.monotonic() + 300
            while len(heard.get(places, [])) < SUBSCRIBERS:  # noqa: ASYNC110 - counting arrivals
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(heard.get(places, []))} of {SUBSCRIBERS} heard it")
                await asyncio.sleep(0.005)
            cpu.append(_cpu_s(gateway_pid) - before)
            latencies += [at - sent for at in heard[places]]
    finally:
        await nc.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    spread = {k: round(v * 1000, 2) for k, v in percentiles(latencies, 50, 99).items()}
    per_change_ms = 1000 * sum(cpu) / len(cpu)
    detail = {"subscribers": SUBSCRIBERS, "changes": CHANGES, "latency_ms": spread}
    return [
        Figure(
            "city.live_p50",
            f"push to {SUBSCRIBERS} subscriptions, p50",
            spread["p50"],
            "ms",
            detail,
        ),
        Figure(
            "city.live_p99",
            f"push to {SUBSCRIBERS} subscriptions, p99",
            spread["p99"],
            "ms",
            detail,
        ),
        Figure(
            "city.live_cpu_per_change",
            f"gateway CPU per change pushed to {SUBSCRIBERS}",
            per_change_ms,
            "ms",
            {"cpu_ms_per_push": per_change_ms / SUBSCRIBERS},
        ),
    ]


def _shown(figures: list[Figure]) -> list[Figure]:
    """Printed as soon as measured: a long run's figures are read while it goes on."""
    for figure in figures:
        print(f"   {figure.label}: {figure.value:,.2f} {figure.unit}", flush=True)
    return figures


async def measure(
    settings: Settings, folder: Path, scale: float, rounds: int, users: int
) -> list[Figure]:
    plan = CityPlan(scale)
    started, cpu = time.perf_counter(), time.process_time()
    counts = await fill(settings, plan)
    filled, fill_cpu = time.perf_counter() - started, time.process_time() - cpu
    with processes.platform(settings, folder) as running:
        started = time.perf_counter()
        gateway = await asyncio.to_thread(running.gateway, "http://127.0.0.1:9", 600.0)
        await wait_built(gateway.url, counts, patience_s=3600)
        built = time.perf_counter() - started
        # The gateway's CPU from its start: the build, and the imports before it.
        build_cpu = _cpu_s(gateway.popen.pid)
        events = sum(counts.values())
        figures = [
            Figure(
                "city.events",
                f"a school year's events at scale {scale:g}",
                events,
                "events",
                {
                    "by_boundary": counts,
                    "fill_s": round(filled, 1),
                    "fill_cpu_s": round(fill_cpu, 1),
                },
            ),
            Figure(
                "city.rebuild",
                f"every read model built from {events:,} events (gateway start to caught up)",
                built,
                "s",
                {
                    "events_per_s": events / built,
                    "gateway_cpu_s": round(build_cpu, 1),
                    "gateway_cpu_ms_per_event": round(build_cpu / events * 1000, 3),
                },
            ),
        ]
        print(
            f"   filled in {filled:.1f} s ({fill_cpu:.1f} s of CPU); built {events:,} events "
            f"in {built:.1f} s (gateway CPU {build_cpu:.1f} s)",
            flush=True,
        )
        token = running.viewer_token()
        figures += _shown(await queries(gateway.url, gateway.popen.pid, token, rounds, users))
        figures += _shown(await page(gateway.url, token))
        try:
            figures += _shown(
                await live(settings, gateway.url, gateway.popen.pid, token, counts["volunteers"])
            )
        except (RuntimeError, TimeoutError, OSError) as error:
            # The figures above stand; the live step's failure is reported beside them.
            print(f"   live updates not measured: {error}", flush=True)
        return figures
