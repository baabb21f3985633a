"""`python -m tests.bench.profile_command`: where one HTTP command's CPU goes.

The volunteers API is built in this process on SQLite (no relay, no NATS: the command
path alone) and sent registrations over ASGI by concurrent clients. FastAPI's thread
pool is replaced by a direct call, so the whole request (middleware, parsing and
validation, the command, the response) runs in one thread under one profiler; the
thread handoff itself is not measured. Prints the functions with the most cumulative
CPU time per command and the share of a few named parts.

    python -m tests.bench.profile_command [--commands 2000] [--clients 8] [--top 40]
    python -m tests.bench.profile_command --cpu-only     CPU per command, FastAPI's own thread
                                                         pool, no profiler
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import fastapi.routing
import httpx

from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.volunteers.main import create_service
from tests.support.apps import running

P = ParamSpec("P")
T = TypeVar("T")

# Parts of a command, by where their functions live (cumulative CPU of the outermost).
PARTS = {
    "authentication (JWT)": ("services/kit/auth.py", "verify"),
    "request body validation": ("fastapi/routing.py", "_validate_request_body"),
    "the command (decide, save)": ("services/kit/application.py", "handle"),
    "response serialisation": ("fastapi/routing.py", "serialize_response"),
}


async def _inline(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return func(*args, **kwargs)


async def profile(
    commands: int, clients: int, *, profiled: bool = True
) -> tuple[pstats.Stats | None, float, float]:
    folder = Path(tempfile.mkdtemp(prefix="tongxin-profile-"))
    issuer = DevIssuer(folder / "keys")
    settings = Settings(
        state_dir=folder / "state",
        store="sqlite",
        auth_jwks_url=str(issuer.jwks_path),
        relay_in_process=False,
    )
    token = issuer.token(role="coordinator", department="cyl", subject="profile")
    if profiled:
        fastapi.routing.run_in_threadpool = _inline  # type: ignore[assignment]
    app = create_service(settings)
    numbers = iter(range(commands + clients * 20))

    async def client(http: httpx.AsyncClient, count: int) -> None:
        for _ in range(count):
            n = next(numbers)
            response = await http.post(
                "/volunteers",
                json={"display_name": f"Profile {n}", "kind": "parent", "school_id": "s1"},
                headers={"Idempotency-Key": f"profile-{n}"},
            )
            assert response.status_code == 201, response.text

    async with running(app, token) as http:
        await asyncio.gather(*(client(http, 20) for _ in range(clients)))  # warm up
        profiler = cProfile.Profile(time.process_time)
        cpu_started = time.process_time()
        started = time.perf_counter()
        if profiled:
            profiler.enable()
        await asyncio.gather(*(client(http, commands // clients) for _ in range(clients)))
        profiler.disable()
        elapsed = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
    return (pstats.Stats(profiler) if profiled else None), cpu_s, elapsed


def _parts(stats: pstats.Stats, total: float) -> dict[str, float]:
    found: dict[str, float] = {}
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (path, _, name), (_, _, _, cumulative, _) in table.items():
        for part, (where, function) in PARTS.items():
            if path.endswith(where) and name == function:
                found[part] = found.get(part, 0.0) + cumulative / total
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--cpu-only", action="store_true", help="no profiler, real thread pool")
    args = parser.parse_args()
    stats, cpu_s, elapsed = asyncio.run(
        profile(args.commands, args.clients, profiled=not args.cpu_only)
    )
    commands = args.commands // args.clients * args.clients
    how = "no profiler" if stats is None else "profiled"
    print(
        f"{commands} commands: {cpu_s / commands * 1e6:.0f} us CPU each ({how}), "
        f"{commands / elapsed:.0f}/s"
    )
    if stats is None:
        return
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    for part, share in _parts(stats, total).items():
        print(f"  {part}: {share:.0%}")
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
