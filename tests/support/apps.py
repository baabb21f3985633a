"""Running the platform's ASGI apps in the test process, lifespan (relay, consumers) included."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import uvicorn
from fastapi import FastAPI

from services.kit.auth import DevIssuer
from tests.support.waiting import free_port


@contextlib.asynccontextmanager
async def running(app: FastAPI, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan and give a client speaking to it over ASGI."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers, timeout=30
        ) as client:
            yield client


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Serve the app with uvicorn on a free port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class Tokens:
    """Tokens for the people and systems of a journey."""

    def __init__(self, issuer: DevIssuer) -> None:
        self.issuer = issuer

    def coordinator(self) -> str:
        return self.issuer.token(role="coordinator", department="cyl", subject="coordinator-1")

    def police(self) -> str:
        return self.issuer.token(role="department-system", department="pol", subject="pol-checks")

    def viewer(self) -> str:
        return self.issuer.token(role="viewer", department="edu", subject="dashboard")

    def department(self, code: str) -> str:
        return self.issuer.token(role="department-system", department=code, subject=f"{code}-sys")


def police_result(
    volunteer_id: str, check_id: str, outcome: str = "passed", expires_on: str = "2099-12-31"
) -> dict[str, Any]:
    """A structured CloudEvent from the public-security background-check system."""
    now = datetime.now(UTC).isoformat()
    data: dict[str, Any] = {
        "check_id": check_id,
        "volunteer_id": volunteer_id,
        "outcome": outcome,
        "completed_at": now,
    }
    if outcome == "passed":
        data["expires_on"] = expires_on
    return {
        "specversion": "1.0",
        "id": str(uuid4()),
        "source": "/pol/checks",
        "type": "org.tongxin.checks.background-check-completed.v1",
        "subject": volunteer_id,
        "time": now,
        "datacontenttype": "application/json",
        "data": data,
    }


CLOUDEVENTS_JSON = {"content-type": "application/cloudevents+json"}


def store_head(volunteers: httpx.AsyncClient) -> int:
    """The volunteers store's last notification id (the client of `running(...)`)."""
    app = volunteers.app  # type: ignore[attr-defined]
    return app.state.application.recorder.max_notification_id() or 0  # type: ignore[no-any-return]
