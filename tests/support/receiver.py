"""A partner's webhook receiver, served for real on a free port, for the feeds tests.

It verifies every request with the `standardwebhooks` library (the secrets are given once
the endpoint exists), answers by a script (500s, 429 with Retry-After, 410, a held
request), and records what arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook

from tests.support.apps import served

Answer = tuple[int, dict[str, str]]


@dataclass
class Arrival:
    message_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int
    verified: bool


@dataclass
class Receiver:
    """Script: a function of the arrival number (from 0) -> status and headers."""

    secrets: list[str] = field(default_factory=list)
    script: Callable[[int], Answer] = lambda _: (204, {})
    arrivals: list[Arrival] = field(default_factory=list)
    # While cleared, requests wait (a dead-slow endpoint) until it is set again.
    open: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def app(self) -> FastAPI:
        self.open.set()
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            raw = await request.body()
            if not self.open.is_set():
                await asyncio.to_thread(self.open.wait)
            headers = dict(request.headers)
            verified = False
            body: Any = None
            for secret in self.secrets:
                with contextlib.suppress(Exception):
                    body = Webhook(secret).verify(raw, headers)
                    verified = True
                    break
            status, extra = self.script(len(self.arrivals))
            self.arrivals.append(
                Arrival(headers.get("webhook-id", ""), body or {}, headers, status, verified)
            )
            return Response(status_code=status, headers=extra)

        return app

    def delivered(self) -> list[Arrival]:
        return [a for a in self.arrivals if 200 <= a.status < 300]


@contextlib.contextmanager
def receiving(receiver: Receiver | None = None) -> Iterator[Receiver]:
    receiver = receiver or Receiver()
    with served(receiver.app()) as base:
        receiver.url = f"{base}/hook"
        yield receiver
