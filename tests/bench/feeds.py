"""Partner feeds: events fanned out to partners' endpoints on a local receiver.

The feeds application runs in this process on PostgreSQL with its dispatcher, as the
service runs it; the receiver is a process of its own (tests.bench.feeds_receiver). Feed
entries are recorded as the public-events reaction records them (a batch per save), for
`partners` partners with `endpoints` endpoints each. Measured in one run:

- deliveries per second, from the first entry recorded to the last delivery arrived;
- raw `httpx` POSTs of the same bodies to the same receiver, with as many in flight as
  the dispatcher allows itself (what an ordinary client pays; the dispatcher posts through
  httpcore, the pool under httpx, so its share of a delivery may cost less);
- event -> delivered latency (recorded -> arrived at the receiver), p50 and p99, with
  events arriving at a steady pace after the backlog has gone;
- this process's CPU time per delivery (recording the entries, the dispatcher, the
  store's writes) beside per raw POST: the ratio a quiet machine's wall clock would show.

With `profile`, pyinstrument samples the event loop's thread while the backlog is
delivered (`feeds-profile.txt` in the step's folder); the store's calls run in threads
of their own, so their share is the CPU figure's, not the profile's.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from pyinstrument import Profiler

from services.feeds.application import FeedsApplication
from services.feeds.dispatcher import MAX_IN_FLIGHT, Dispatcher
from services.feeds.domain import Endpoint
from services.feeds.main import FEEDS
from services.feeds.signing import new_secret
from services.feeds.targets import TIMEOUT_S
from services.kit.runtime import ServiceParts
from services.kit.settings import Settings
from tests.bench.processes import Process
from tests.bench.report import Figure, percentiles
from tongxin.ports import free_port

SHIFT = "org.tongxin.volunteers.shift-published.v1"
EVENTS_PER_SAVE = 50
RATE_PER_S = 1000.0


@contextlib.contextmanager
def receiver(folder: Path) -> Iterator[str]:
    port = free_port()
    process = Process(
        "feeds-receiver",
        [sys.executable, "-m", "tests.bench.feeds_receiver", str(port)],
        {},
        folder / "feeds-receiver.log",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/arrivals", timeout=1)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the receiver did not start: {process.tail()}")
            time.sleep(0.1)
        yield url
    finally:
        process.stop()


def cloudevent(n: int, partner: str) -> dict[str, Any]:
    shift_id = str(uuid4())
    return {
        "specversion": "1.0",
        "id": f"msg_{partner}_{n}_{shift_id[:8]}",
        "source": "/tongxin/feeds",
        "type": SHIFT,
        "subject": shift_id,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": {
            "shift_id": shift_id,
            "school_id": "yz-dongguan-primary",
            "post": "lecture",
            "title": f"博物馆进校园 {n}",
            "starts_at": "2026-12-01T14:00:00+08:00",
            "ends_at": "2026-12-01T16:00:00+08:00",
        },
    }


def add_endpoints(app: FeedsApplication, url: str, partners: int, endpoints: int) -> list[str]:
    """The partners' endpoints, saved as the API's command saves them."""
    names = [f"bench-partner-{p}" for p in range(partners)]
    made = [
        Endpoint(
            partner_id=name,
            url=f"{url}/hook/{p}-{e}",
            secret=new_secret(),
            event_types=[SHIFT],
            ordered=False,
            rate_per_s=RATE_PER_S,
            at=time.time(),
        )
        for p, name in enumerate(names)
        for e in range(endpoints)
    ]
    app.save(*made)
    return names


class Feeder:
    """Records events' feed entries, a save per batch, as the reaction does."""

    def __init__(self, app: FeedsApplication, partners: list[str]) -> None:
        self.app = app
        self.partners = partners
        self.position = 0
        self.recorded_at: dict[str, float] = {}

    def record(self, first: int, count: int) -> None:
        entries = []
        for n in range(first, first + count):
            for partner in self.partners:
                event = cloudevent(n, partner)
                entries.append((partner, event["id"], event))
        self.position += 1
        started = time.time()
        self.app.record_entries("bench", self.position, entries)
        for _, message_id, _ in entries:
            self.recorded_at[message_id] = started


async def arrivals(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60) as client:
        return dict((await client.get(f"{url}/arrivals")).json())


async def wait_delivered(url: str, total: int, within: float) -> dict[str, Any]:
    """Polls the receiver's count (one client, a small answer: the dispatcher shares this
    event loop), then reads the arrivals once."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=60) as client:
        while True:
            arrived = int((await client.get(f"{url}/count")).json()["arrived"])
            if arrived >= total:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{arrived} of {total} deliveries arrived in time")
            await asyncio.sleep(0.2)
    return await arrivals(url)


async def raw_posts(
    url: str, count: int, connections: int, concurrency: int
) -> tuple[float, float]:
    """Plain `httpx` POSTs of a delivery's body, as many in flight as the dispatcher's:
    posts per second, and CPU seconds of this process per post."""
    body = httpx.Request("POST", url, json=cloudevent(0, "raw")).content
    clients = [
        httpx.AsyncClient(timeout=TIMEOUT_S, limits=httpx.Limits(max_connections=concurrency))
        for _ in range(connections)
    ]
    left = count

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            # As a dispatcher retries: a connection the loaded receiver dropped is tried again.
            for _ in range(3):
                try:
                    response = await client.post(f"{url}/raw", content=body)
                except httpx.TransportError:
                    continue
                response.raise_for_status()
                break

    started, cpu = time.perf_counter(), time.process_time()
    try:
        await asyncio.gather(*(worker(c) for c in clients for _ in range(concurrency)))
    finally:
        for client in clients:
            await client.aclose()
    return count / (time.perf_counter() - started), (time.process_time() - cpu) / count


class ThreadCPU:
    """CPU time spent inside some of the application's methods (each runs on a thread of
    its own through `asyncio.to_thread`, so its thread's CPU clock is its own)."""

    def __init__(self, app: FeedsApplication, names: tuple[str, ...]) -> None:
        self.seconds = dict.fromkeys(names, 0.0)
        for name in names:
            setattr(app, name, self._counted(name, getattr(app, name)))

    def _counted(self, name: str, method: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[name] += time.thread_time() - started

        return counted


async def measure(
    settings: Settings,
    folder: Path,
    *,
    events: int,
    partners: int,
    endpoints: int,
    latency_events: int,
    latency_rate: float,
    profile: bool = False,
) -> list[Figure]:
    # Built as the service builds it (each event's published form made at save), without
    # the relay and reactions: the bench records the entries the reaction would.
    parts = ServiceParts(FEEDS, settings, with_relay=False)
    app = parts.application
    assert isinstance(app, FeedsApplication)
    app.allow_local_targets = True
    fanout = partners * endpoints
    total = events * fanout
    stop = asyncio.Event()
    try:
        with receiver(folder) as url:
            names = await asyncio.to_thread(add_endpoints, app, url, partners, endpoints)
            store = ThreadCPU(app, ("record_entries", "record_outcomes"))
            feeder = Feeder(app, names)
            task = asyncio.create_task(Dispatcher(app).run(stop))

            profiler = Profiler(interval=0.002, async_mode="disabled") if profile else None
            if profiler is not None:
                profiler.start()
            started, cpu_started = time.time(), time.process_time()
            for first in range(0, events, EVENTS_PER_SAVE):
                await asyncio.to_thread(feeder.record, first, min(EVENTS_PER_SAVE, events - first))
            seen = await wait_delivered(url, total, within=max(600.0, total / 50))
            cpu_per_delivery = (time.process_time() - cpu_started) / total
            split = {name: round(spent / total * 1e6) for name, spent in store.seconds.items()}
            print(f"   store CPU per delivery (µs): {split}", flush=True)
            if profiler is not None:
                profiler.stop()
                written = folder / "feeds-profile.txt"
                written.write_text(
                    profiler.output_text(show_all=False)
                    + "\nSelf time by function:\n"
                    + profiler.output_text(flat=True),
                    encoding="utf-8",
                )
                print(f"   profile: {written}", flush=True)
                # The heaviest functions by their own time, kept with the run's output
                # (the step's folder goes when the run ends).
                flat = profiler.output_text(flat=True).splitlines()
                print("\n".join(f"   {line}" for line in flat[:40]), flush=True)
            last = max(seen["arrivals"].values())
            rate = total / (last - started)
            print(f"   {total} deliveries at {rate:,.1f}/s", flush=True)
            duplicates = seen["counts"]["hook"] - len(seen["arrivals"])

            # Steady arrivals once the backlog is gone: event -> delivered.
            mark = dict(feeder.recorded_at)
            for n in range(latency_events):
                paced = time.monotonic() + 1 / latency_rate
                await asyncio.to_thread(feeder.record, events + n, 1)
                await asyncio.sleep(max(0.0, paced - time.monotonic()))
            seen = await wait_delivered(url, total + latency_events * fanout, within=120)
            latencies = [
                (arrived - feeder.recorded_at[key.split(" ", 1)[1]]) * 1000
                for key, arrived in seen["arrivals"].items()
                if key.split(" ", 1)[1] not in mark
            ]
            stop.set()
            await task

            raw, raw_cpu = await raw_posts(url, min(total, 20_000), fanout, MAX_IN_FLIGHT)
    finally:
        stop.set()
        parts.close()
    spread = percentiles(latencies, 50, 99)
    detail = {"events": events, "partners": partners, "endpoints_per_partner": endpoints}
    return [
        Figure(
            "feeds.deliveries",
            f"feeds: {events:,} events to {partners}x{endpoints} endpoints, PostgreSQL",
            rate,
            "deliveries/s",
            detail | {"deliveries": total, "duplicates": duplicates},
        ),
        Figure(
            "feeds.raw_httpx",
            f"raw httpx POSTs to the same receiver, {fanout}x{MAX_IN_FLIGHT} in flight",
            raw,
            "requests/s",
            {"posts": min(total, 20_000)},
        ),
        Figure(
            "feeds.cpu_per_delivery",
            "feeds: CPU time of this process per delivery (entries, dispatcher, store)",
            cpu_per_delivery * 1e6,
            "µs",
            {"deliveries": total, "store_cpu_us": split},
        ),
        Figure(
            "feeds.raw_cpu_per_post",
            "raw httpx: CPU time of this process per POST",
            raw_cpu * 1e6,
            "µs",
            {"posts": min(total, 20_000)},
        ),
        Figure(
            "feeds.delivered.p50",
            f"feeds: event -> delivered p50 at {latency_rate:g} events/s",
            spread["p50"],
            "ms",
            {"events": latency_events, "deliveries": len(latencies)},
        ),
        Figure(
            "feeds.delivered.p99",
            f"feeds: event -> delivered p99 at {latency_rate:g} events/s",
            spread["p99"],
            "ms",
            {"events": latency_events, "deliveries": len(latencies)},
        ),
    ]
