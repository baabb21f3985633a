"""An API's first request costs what its process leaves to be done on first use.

Measured on a volunteers API process: its first command cost 285-360 ms of CPU, the next
ones 6-15 ms. Most of it is AnyIO importing its asyncio back-end at the first hand-over to
a worker thread (compiled from source where no bytecode is kept), the
rest FastAPI building each included router's routes (their dependencies and fields) at
the first request routed through it. Every request that arrives meanwhile waits, and the
allocations start a full garbage collection as well: a replica that has just become ready
stalls for half a second under load. `warm_up` does that work before the server takes
requests: one call through the worker threads, and one request, answered in-process with
a 404, that walks every route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Scope

if TYPE_CHECKING:
    from fastapi import FastAPI

# A path no route takes: its request walks every route and is refused.
NOWHERE = "/.well-known/tongxin/warm-up"


async def warm_up(app: FastAPI) -> int:
    """Do the app's first-use work now; the status its walk of the routes was answered."""
    await run_in_threadpool(int)
    answered: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answered.append(int(message["status"]))

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": NOWHERE,
        "raw_path": NOWHERE.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"warm-up")],
        "client": None,
        "server": None,
        "state": {},
    }
    await app(scope, receive, send)
    return answered[0] if answered else 0
