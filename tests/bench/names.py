"""The GraphQL list of volunteers with names resolved from the volunteers service.

The gateway's read model holds no names: each request that shows names makes one
`POST /volunteers/names` to the service (with the caller's token; the service checks
and logs every read). Measured against the same list without names, so the cost of
that one round trip (and of the service's per-name checks, decryption and access log)
stands on its own, for a page of 20 and of 100.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from tests.bench.client import Connection
from tests.bench.report import Figure, percentiles

WITH_NAMES = """
query ($first: Int!) {
  volunteers(first: $first) { edges { node { id displayName hours personalDataErased } } }
}
"""
WITHOUT_NAMES = """
query ($first: Int!) {
  volunteers(first: $first) { edges { node { id hours personalDataErased } } }
}
"""
PAGES = (20, 100)
WARM_UP = 10


async def register_people(api_url: str, token: str, count: int, clients: int = 8) -> None:
    """`count` volunteers through the service's API (names go to its encrypted store)."""
    numbers = iter(range(count))

    async def client() -> None:
        connection = Connection(api_url, token)
        try:
            for number in numbers:
                body = {
                    "display_name": f"Bench Named {number}",
                    "kind": "parent",
                    "school_id": f"school-{number % 10}",
                }
                status, answer = await connection.post(
                    "/volunteers", body, {"Idempotency-Key": f"bench-named-{number}"}
                )
                if status != 201:
                    raise RuntimeError(f"registration answered {status}: {answer[:200]!r}")
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))


async def _latencies(
    url: str,
    token: str,
    path: str,
    body: dict[str, Any],
    complete: Callable[[bytes], bool],
    *,
    requests: int,
    clients: int,
) -> tuple[list[float], int]:
    remaining = requests
    latencies: list[float] = []
    failed = 0

    async def client() -> None:
        nonlocal remaining, failed
        connection = Connection(url, token)
        try:
            for _ in range(WARM_UP):
                await connection.post(path, body)
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                status, answer = await connection.post(path, body)
                if status == 200 and complete(answer):
                    latencies.append(time.perf_counter() - started)
                else:
                    failed += 1
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, failed


def _graphql(query: str, first: int) -> dict[str, Any]:
    return {"query": query, "variables": {"first": first}}


def _named(first: int) -> Callable[[bytes], bool]:
    # Every node must be there with its name: a page of nulls is a failure.
    return lambda answer: (
        b'"errors"' not in answer and answer.count(b'"displayName":"Bench Named') == first
    )


def _answered(answer: bytes) -> bool:
    return b'"errors"' not in answer


async def _page_ids(gateway_url: str, token: str, first: int) -> list[str]:
    connection = Connection(gateway_url, token)
    try:
        status, answer = await connection.post("/graphql", _graphql(WITHOUT_NAMES, first))
    finally:
        connection.close()
    if status != 200:
        raise RuntimeError(f"the gateway answered {status}: {answer[:200]!r}")
    edges = json.loads(answer)["data"]["volunteers"]["edges"]
    return [edge["node"]["id"] for edge in edges]


async def measure(
    gateway_url: str, api_url: str, token: str, *, requests: int, clients: int
) -> list[Figure]:
    """Per page size: the list without names, with names, and the service's names lookup
    called directly for the same ids (what the gateway adds is the difference)."""
    figures: list[Figure] = []
    for first in PAGES:
        ids = await _page_ids(gateway_url, token, first)
        runs: list[tuple[str, str, str, str, dict[str, Any], Callable[[bytes], bool]]] = [
            (
                "ids",
                f"GraphQL {first} volunteers without names",
                gateway_url,
                "/graphql",
                _graphql(WITHOUT_NAMES, first),
                _answered,
            ),
            (
                "names",
                f"GraphQL {first} volunteers with names from the service",
                gateway_url,
                "/graphql",
                _graphql(WITH_NAMES, first),
                _named(first),
            ),
            (
                "lookup",
                f"POST /volunteers/names, {first} ids, service alone",
                api_url,
                "/volunteers/names",
                {"ids": ids},
                _answered,
            ),
        ]
        for what, label, url, path, body, complete in runs:
            latencies, failed = await _latencies(
                url, token, path, body, complete, requests=requests, clients=clients
            )
            spread = {k: round(v * 1000, 2) for k, v in percentiles(latencies, 50, 95).items()}
            detail = {
                "requests": len(latencies),
                "failed": failed,
                "clients": clients,
                "page": first,
                "latency_ms": spread,
            }
            key = f"graphql.names.{first}.{what}"
            figures += [
                Figure(f"{key}.p50", f"{label}, p50", spread["p50"], "ms", detail),
                Figure(f"{key}.p95", f"{label}, p95", spread["p95"], "ms", detail),
            ]
    return figures
