"""HTTP command throughput of the volunteers service on PostgreSQL, under concurrent clients.

Closed loop: `clients` connections each send the next command as soon as the
previous one is answered, for a fixed time after a warm-up. The command is a
volunteer registration with an Idempotency-Key, so every request is one full
command: authenticated, validated, decided and committed with its record.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence

import psutil

from tests.bench.client import Connection
from tests.bench.report import Figure, percentiles

WARM_UP_S = 1.0


Request = Callable[[Connection, int], Awaitable[tuple[int, bytes]]]


async def register(connection: Connection, number: int) -> tuple[int, bytes]:
    body = {"display_name": f"Bench {number}", "kind": "parent", "school_id": "s1"}
    return await connection.post("/volunteers", body, {"Idempotency-Key": f"bench-{number}"})


async def healthz(connection: Connection, _: int) -> tuple[int, bytes]:
    return await connection.get("/healthz")


async def closed_loop(
    urls: list[str],
    token: str,
    *,
    clients: int,
    seconds: float,
    label: str,
    key: str,
    request: Request = register,
    unit: str = "commands/s",
    watched: Sequence[int] = (),
) -> Figure:
    """`watched`: the pids of the processes serving the load; their CPU per request is
    recorded (wall-clock rates move with the machine's load, CPU per request much less)."""
    numbers = itertools.count()
    ok = 0
    failed = 0
    latencies: list[float] = []
    measuring = False
    stop_at = time.perf_counter() + WARM_UP_S + seconds

    async def client(n: int) -> None:
        nonlocal ok, failed
        connection = Connection(urls[n % len(urls)], token)
        try:
            while (now := time.perf_counter()) < stop_at:
                try:
                    status, _ = await request(connection, next(numbers))
                except (OSError, asyncio.IncompleteReadError):
                    status = 0
                if not measuring:
                    continue
                if 200 <= status < 300:
                    ok += 1
                    latencies.append(time.perf_counter() - now)
                else:
                    failed += 1
        finally:
            connection.close()

    tasks = [asyncio.create_task(client(n)) for n in range(clients)]
    await asyncio.sleep(WARM_UP_S)
    servers = [psutil.Process(pid) for pid in watched]
    cpu_before = _cpu_seconds(servers)
    measuring = True
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    served_cpu = _cpu_seconds(servers) - cpu_before
    spread = {k: round(v * 1000, 2) for k, v in percentiles(latencies, 50, 95, 99).items()}
    return Figure(
        key,
        label,
        ok / elapsed,
        unit,
        {
            "requests": ok,
            "failed": failed,
            "clients": clients,
            "replicas": len(urls),
            "seconds": elapsed,
            "latency_ms": spread,
            "server_cpu_s": round(served_cpu, 3),
            "server_cpu_us_per_request": round(served_cpu / ok * 1e6) if ok and servers else None,
        },
    )


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total
