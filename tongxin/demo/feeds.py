"""The feeds' part of the demo city: the City Museum subscribes to lectures at schools.

Prop staff agree what the museum and the children's hospital receive; the museum adds
a webhook endpoint pointing at its small receiver, which this process runs while
`make run` lasts (it verifies every signature with the `standardwebhooks` library and
prints each delivery); a school publishes a museum lecture, which the museum receives
signed and finds in its pull feed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from rich.console import Console
from standardwebhooks import Webhook

from tongxin.demo import DemoRun
from tongxin.demo.core import DemoError, local_time

SHIFT = "org.tongxin.volunteers.shift-published.v1"
AGREED_FIELDS = ["shift_id", "school_id", "post", "title", "starts_at", "ends_at"]
MUSEUM = "city-museum"
HOSPITAL = "childrens-hospital"
# The receiver's port: this one if set, else whatever the kernel gives (two stacks on one
# machine each get their own); the endpoint is registered with the port it got.
RECEIVER_PORT = int(os.environ.get("TONGXIN_FEEDS_RECEIVER_PORT", "0"))


class MuseumReceiver:
    """The museum's server: verifies each delivery and prints it."""

    def __init__(self, console: Console, port: int) -> None:
        self.console = console
        # Bound now, so that the endpoint is registered with the port actually held.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port = int(self._socket.getsockname()[1])
        self.secret = ""
        self.received: list[dict[str, Any]] = []
        self._server: uvicorn.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/museum/webhooks"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/museum/webhooks")
        async def webhook(request: Request) -> Response:
            body = await request.body()
            try:
                event = Webhook(self.secret).verify(body, dict(request.headers))
            except Exception:
                self.console.print("[red]museum receiver:[/] a delivery failed verification")
                return Response(status_code=400)
            self.received.append(event)
            data = event.get("data", {})
            self.console.print(
                f"[green]museum received[/] {event['type']} {data.get('title', '')!r} "
                f"at {data.get('school_id', '')} (webhook-id {event['id']}, signature verified)"
            )
            return Response(status_code=204)

        return app

    def start(self) -> None:
        """Serve in a daemon thread: it lives as long as the process running the platform."""
        server = self._server = uvicorn.Server(
            uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_config=None)
        )
        threading.Thread(
            target=server.run,
            kwargs={"sockets": [self._socket]},
            name="museum-receiver",
            daemon=True,
        ).start()


def load(run: DemoRun) -> dict[str, Any]:
    """The feeds' part; what it returns is kept in its "loaded" marker."""
    feeds = run.endpoints.of("feeds")
    prop = run.api(
        run.issuer.token(role="coordinator", department="prop", subject="demo-prop", ttl_s=3600)
    )
    museum = run.api(run.issuer.token(role="partner", subject=MUSEUM, ttl_s=3600))
    cyl = run.api(
        run.issuer.token(
            role="coordinator", department="cyl", subject="demo-loader", scope="city", ttl_s=3600
        )
    )
    for partner in (MUSEUM, HOSPITAL):
        prop.send(
            "PUT",
            f"{feeds}/partners/{partner}/agreement",
            key=f"demo-feeds-agreement-{partner}",
            json_body={"event_types": {SHIFT: AGREED_FIELDS}},
        )

    receiver = MuseumReceiver(run.console, RECEIVER_PORT)
    answer = museum.send(
        "POST",
        f"{feeds}/partners/{MUSEUM}/endpoints",
        key="demo-feeds-endpoint-1",
        json_body={"url": receiver.url, "event_types": [SHIFT], "rate_per_s": 5},
    )
    receiver.secret = answer["secret"]
    receiver.start()

    starts = local_time(run.anchor, -7, "14:00")
    shift = cyl.send(
        "POST",
        f"{run.endpoints.of('volunteers')}/shifts",
        key="demo-feeds-lecture-1",
        json_body={
            "school_id": "yz-dongguan-primary",
            "post": "lecture",
            "title": "博物馆进校园：扬州漆器",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": 4,
            "child_facing": True,
        },
    )

    # The lecture travels volunteers -> NATS -> feeds -> the museum's receiver and feed.
    deadline = time.monotonic() + run.travel_timeout_s
    feed: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        feed = museum.send("GET", f"{feeds}/partners/{MUSEUM}/feed?limit=100")
        lecture = [e for e in feed if e["subject"] == shift["shift_id"]]
        if lecture and any(e["subject"] == shift["shift_id"] for e in receiver.received):
            break
        time.sleep(0.2)
    else:
        raise DemoError("the museum's lecture did not arrive in time")
    run.console.print(
        f"demo loaded: the City Museum subscribed ({len(feed)} events in its pull feed); "
        f"its receiver runs at {receiver.url} while this process runs"
    )
    return {"endpoint": answer["id"], "lecture": shift["shift_id"], "feed_events": len(feed)}
