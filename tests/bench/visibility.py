"""Command -> visible in the GraphQL read model, at fixed offered rates (open loop).

Sign-ups are sent at scheduled times (rate r: one every 1/r s) whatever the
service's answers do, and each latency is measured from the scheduled time, so
a stall delays every command scheduled during it and is counted. A sign-up is
visible once the gateway's `shiftChanged` subscription shows its shift with at
least the places the command reported: the subscription is pushed when the
projector commits, which is exactly when GraphQL queries would see it too.

Each rate's figures also carry where the time went: every sign-up's time at each stage
of its way (`tests/bench/stages.py`), the CPU each process used meanwhile, and how late
the bench's own event loop ran (it sends the sign-ups; a process of its own receives the
pushes, `tests/bench/subscriber.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from services.kit.heap import settle
from tests.bench.client import Connection
from tests.bench.report import Figure, percentiles
from tests.bench.stages import (
    Command,
    LoopLag,
    OwnCollections,
    Stages,
    cpu_seconds,
    print_table,
    read_stream,
    stage_table,
)

SHIFTS = 100
SETTLE_S = 10.0
# perf_counter -> wall clock, to compare the bench's times with the processes' stage notes.
WALL = time.time() - time.perf_counter()


class Visibility:
    """What the subscription has shown: when each shift first reached each place count."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[int, float]] = defaultdict(dict)
        self.highest: dict[str, int] = defaultdict(int)
        self._waiting: dict[tuple[str, int], asyncio.Future[float]] = {}

    def record(self, shift_id: str, places: int, at: float) -> None:
        for count in range(self.highest[shift_id] + 1, places + 1):
            self.seen[shift_id][count] = at
            waiter = self._waiting.pop((shift_id, count), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(at)
        self.highest[shift_id] = max(self.highest[shift_id], places)

    async def when(self, shift_id: str, places: int, patience_s: float) -> float | None:
        """When the shift was first shown with `places` filled; None if not within `patience_s`."""
        if (at := self.seen[shift_id].get(places)) is not None:
            return at
        waiter = self._waiting.setdefault(
            (shift_id, places), asyncio.get_running_loop().create_future()
        )
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), patience_s)
        except TimeoutError:
            return None


async def subscribe(
    gateway_url: str,
    token: str,
    visibility: Visibility,
    seen: Path,
    pids: dict[str, int],
    subscribed: asyncio.Event,
) -> None:
    """Follow shiftChanged, through a subscriber process of its own (`subscriber.py`),
    until cancelled: its lines are read as they come and recorded with their own times."""
    await asyncio.to_thread(seen.touch)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.subscriber",
        gateway_url,
        str(seen),
        env=os.environ | {"BENCH_TOKEN": token},
    )
    pids["subscriber"] = process.pid
    try:
        with seen.open("rb") as lines:
            partial = b""
            while process.returncode is None:
                chunk = lines.read()
                if not chunk:
                    await asyncio.sleep(0.005)
                    continue
                *complete, partial = (partial + chunk).split(b"\n")
                for line in complete:
                    if line == b"subscribed":
                        subscribed.set()
                        continue
                    shift_id, places, at = line.decode().split(" ")
                    visibility.record(shift_id, int(places), float(at) - WALL)
        raise RuntimeError(f"the subscriber exited with {process.returncode}")
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def prepare(api_url: str, token: str, volunteers: int) -> tuple[list[str], list[str]]:
    """Shifts with room for every sign-up, and the volunteers who will sign up."""
    starts = datetime.now(UTC) + timedelta(days=30)
    connection = Connection(api_url, token)
    shift_ids: list[str] = []
    volunteer_ids: list[str] = []
    try:
        for n in range(SHIFTS):
            status, body = await connection.post(
                "/shifts",
                {
                    "school_id": f"school-{n % 10}",
                    "post": "library",
                    "title": f"Bench shift {n}",
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=2)).isoformat(),
                    "capacity": 500,
                    "child_facing": False,
                },
            )
            if status != 201:
                raise RuntimeError(f"publishing a shift gave {status}: {body[:200]!r}")
            shift_ids.append(orjson.loads(body)["shift_id"])
        for n in range(volunteers):
            status, body = await connection.post(
                "/volunteers", {"display_name": f"Signer {n}", "kind": "parent"}
            )
            if status != 201:
                raise RuntimeError(f"registering a volunteer gave {status}: {body[:200]!r}")
            volunteer_ids.append(orjson.loads(body)["volunteer_id"])
    finally:
        connection.close()
    return shift_ids, volunteer_ids


class SignUps:
    """Hands out (shift, volunteer) pairs never used before, spread over the shifts."""

    def __init__(self, shift_ids: list[str], volunteer_ids: list[str]) -> None:
        self.shift_ids = shift_ids
        self.volunteer_ids = volunteer_ids
        self.next = 0

    def take(self) -> tuple[str, str]:
        n = self.next
        self.next += 1
        return self.shift_ids[n % len(self.shift_ids)], self.volunteer_ids[n // len(self.shift_ids)]


async def offered_rate(
    api_urls: list[str],
    token: str,
    visibility: Visibility,
    pairs: SignUps,
    *,
    rate: int,
    seconds: float,
    pids: Mapping[str, int],
    commands: list[Command],
) -> list[Figure]:
    visible: list[float] = []
    answered: list[float] = []
    failures = 0
    failed_as: dict[str, int] = defaultdict(int)
    unseen = 0

    idle_by_url: dict[str, list[Connection]] = {url: [] for url in api_urls}

    async def send(n: int, scheduled: float) -> None:
        nonlocal failures, unseen
        shift_id, volunteer_id = pairs.take()
        url = api_urls[n % len(api_urls)]
        idle = idle_by_url[url]
        connection = idle.pop() if idle else Connection(url, token)
        # A trace id of its own: the API notes the request's stages under it.
        trace_id = secrets.token_hex(16)
        sent = time.perf_counter()
        try:
            status, body = await connection.post(
                f"/shifts/{shift_id}/sign-ups",
                {"volunteer_id": volunteer_id},
                {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-00"},
            )
        except (OSError, asyncio.IncompleteReadError) as exc:
            connection.close()
            failures += 1
            failed_as[type(exc).__name__] += 1
            return
        idle.append(connection)
        if status != 200:
            failures += 1
            failed_as[str(status)] += 1
            return
        answered_at = time.perf_counter()
        answered.append(answered_at - scheduled)
        places = int(orjson.loads(body)["places_filled"])
        at = await visibility.when(shift_id, places, SETTLE_S)
        if at is None:
            unseen += 1
        else:
            visible.append(max(at - scheduled, 0.0))
        commands.append(
            Command(
                (shift_id, places),
                WALL + scheduled,
                WALL + answered_at,
                None if at is None else WALL + at,
                trace_id,
                WALL + sent,
                f"volunteers-{api_urls.index(url)}",
            )
        )

    total = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    lag = LoopLag()
    lag.start()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    wall_before = time.perf_counter()
    start = time.perf_counter() + 0.2
    for n in range(total):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n, scheduled)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - wall_before
    cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()}
    loop_lag = await lag.stop()
    for idle in idle_by_url.values():
        for connection in idle:
            connection.close()

    spread = {k: v * 1000 for k, v in percentiles(visible, 50, 95, 99).items()}
    acked = {k: round(v * 1000, 2) for k, v in percentiles(answered, 50, 95, 99).items()}
    detail: dict[str, Any] = {
        "rate": rate,
        "api_processes": len(api_urls),
        "commands": total,
        "visible": len(visible),
        "failed": failures,
        "failed_as": dict(failed_as),
        "never_visible": unseen,
        "command_answered_ms": acked,
        "bench_loop_lag_ms": loop_lag,
        "wall_s": round(wall, 2),
        "cpu_s": cpu,
        "load_average": os.getloadavg(),
    }
    label = f"command -> GraphQL-visible at {rate}/s"
    return [
        Figure(f"visible.{rate}.{point}", f"{label}, {point}", value, "ms", detail)
        for point, value in spread.items()
        if not math.isnan(value)
    ]


async def measure(
    api_urls: list[str],
    gateway_url: str,
    token: str,
    *,
    rates: tuple[int, ...],
    seconds: float,
    nats_url: str,
    stage_dir: Path,
    pids: Mapping[str, int],
) -> list[Figure]:
    """The latency figures per rate; each carries the stage table of its commands, the
    CPU each process used meanwhile, and how late the bench's own loop ran."""
    total = sum(int(rate * seconds) for rate in rates)
    visibility = Visibility()
    pids = dict(pids) | {"bench": os.getpid()}
    subscribed = asyncio.Event()
    seen = stage_dir.parent / "pushes-seen"
    following = asyncio.create_task(
        subscribe(gateway_url, token, visibility, seen, pids, subscribed)
    )
    try:
        # Subscribed before the shifts are published: pushes show changes, not the past.
        waiting = asyncio.create_task(subscribed.wait())
        await asyncio.wait((waiting, following), timeout=60, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if following.done():
            following.result()
        if not subscribed.is_set():
            raise RuntimeError("the subscriber did not subscribe within 60 s")
        await asyncio.sleep(0.5)
        shift_ids, volunteer_ids = await prepare(api_urls[0], token, total // SHIFTS + 1)
        # Start once the gateway has every shift, so each rate begins from a settled system.
        deadline = time.perf_counter() + 30
        while len(visibility.highest) < len(shift_ids):
            if following.done():
                following.result()
            if time.perf_counter() > deadline:
                raise RuntimeError("the gateway did not show the bench's shifts")
            await asyncio.sleep(0.05)
        pairs = SignUps(shift_ids, volunteer_ids)
        figures: list[Figure] = []
        commands: dict[int, list[Command]] = {}
        # The bench's own heap (its modules, the platform's among them) is out of its full
        # collections' way, as a service's is: a collection here holds every send meanwhile.
        settle()
        with OwnCollections() as own:
            for rate in rates:
                commands[rate] = []
                figures += await offered_rate(
                    api_urls,
                    token,
                    visibility,
                    pairs,
                    rate=rate,
                    seconds=seconds,
                    pids=pids,
                    commands=commands[rate],
                )
                await asyncio.sleep(1.0)
        stream = await read_stream(nats_url)
        stages = Stages.read(stage_dir)
        stages.pauses += own.pauses
        for rate, sent in commands.items():
            table = stage_table(sent, stream, stages, pids)
            print_table(rate, table)
            for figure in figures:
                if figure.key.startswith(f"visible.{rate}."):
                    figure.detail["stages"] = table
        return figures
    finally:
        gc.unfreeze()
        following.cancel()
        with contextlib.suppress(BaseException):
            await following
