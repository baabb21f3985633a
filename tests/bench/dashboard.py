"""A dashboard-style GraphQL query under concurrent clients: latency p50 / p95 and rate."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.bench.client import Connection
from tests.bench.report import Figure, percentiles

QUERY = """
{
  schoolHours(first: 10) { edges { node { schoolId hours volunteers { value suppressed } } } }
  shifts(first: 20) { edges { node { id title post schoolId placesFilled placesLeft } } }
}
"""


async def wait_projected(gateway_url: str, position: int, patience_s: float = 120.0) -> None:
    """Until the gateway's projector has applied the stream up to `position`."""
    deadline = time.monotonic() + patience_s
    async with httpx.AsyncClient(base_url=gateway_url, timeout=5) as http:
        while time.monotonic() < deadline:
            report = (await http.get("/readyz")).json()
            positions = report["checks"].get("projector:volunteers", {}).get("positions", {})
            if max(positions.values(), default=0) >= position:
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the gateway did not reach stream position {position}")


async def dashboard_queries(
    gateway_url: str, token: str, *, requests: int, clients: int
) -> list[Figure]:
    remaining = requests
    latencies: list[float] = []
    failed = 0

    async def client() -> None:
        nonlocal remaining, failed
        connection = Connection(gateway_url, token)
        try:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                status, body = await connection.post("/graphql", {"query": QUERY})
                if status == 200 and b'"errors"' not in body:
                    latencies.append(time.perf_counter() - started)
                else:
                    failed += 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    spread = {k: round(v * 1000, 2) for k, v in percentiles(latencies, 50, 95, 99).items()}
    detail = {
        "requests": len(latencies),
        "failed": failed,
        "clients": clients,
        "latency_ms": spread,
    }
    label = f"GraphQL dashboard query ({clients} concurrent clients)"
    return [
        Figure("graphql.dashboard.p50", f"{label}, p50", spread["p50"], "ms", detail),
        Figure("graphql.dashboard.p95", f"{label}, p95", spread["p95"], "ms", detail),
        Figure(
            "graphql.dashboard.rate",
            f"{label}, rate",
            len(latencies) / elapsed,
            "queries/s",
            detail,
        ),
    ]
