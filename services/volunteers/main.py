"""Composition root of the volunteers service: the API, its relay and its consumers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from services.kit.consumer import Consumer
from services.kit.eventstore import build_application
from services.kit.http import create_app
from services.kit.relay import OutboxRelay
from services.kit.settings import Settings
from services.volunteers.api import router
from services.volunteers.application import VolunteersApplication
from services.volunteers.integration import translate
from services.volunteers.reactions import POLICE_CHECKS_CONSUMER, PoliceCheckResults

SERVICE = "volunteers"


class Volunteers:
    """The service's parts, built once from settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.application: VolunteersApplication = build_application(
            VolunteersApplication, settings, SERVICE
        )
        self.relay = OutboxRelay(
            self.application,
            service=SERVICE,
            boundary=SERVICE,
            translate=translate,
            settings=settings,
        )
        self.police_checks = Consumer(
            name=POLICE_CHECKS_CONSUMER,
            boundary="checks",
            projection=PoliceCheckResults(self.application),
            settings=settings,
        )

    async def readiness(self) -> dict[str, Any]:
        try:
            head = await asyncio.to_thread(self.application.recorder.max_notification_id)
            store: dict[str, Any] = {"ok": True, "head": head or 0}
        except Exception as exc:
            store = {"ok": False, "error": str(exc)}
        report: dict[str, Any] = {
            "store": store,
            "nats": {
                "ok": self.police_checks.connected or self.relay.connected,
                "required": False,
            },
        }
        if self.settings.relay_in_process:
            report["relay"] = {
                "ok": self.relay.connected,
                "required": False,
                "position": self.relay.position,
                "lag": max(0, int(store.get("head", 0)) - self.relay.position),
            }
        return report


def create_service(settings: Settings, *, consumers: bool = True) -> FastAPI:
    """The volunteers API; with the relay (if in-process) and the police-checks consumer."""
    parts = Volunteers(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        tasks = []
        if settings.relay_in_process:

            def wake_relay() -> None:
                loop.call_soon_threadsafe(parts.relay.poke)

            parts.application.on_saved.append(wake_relay)
            tasks.append(asyncio.create_task(parts.relay.run(stop), name="relay"))
        if consumers:
            tasks.append(asyncio.create_task(parts.police_checks.run(stop), name="police-checks"))
        try:
            yield
        finally:
            stop.set()
            parts.relay.poke()
            await asyncio.wait(tasks, timeout=10)
            for task in tasks:
                task.cancel()
            parts.application.close()

    app = create_app(
        title="Tongxin volunteers",
        settings=settings,
        readiness=parts.readiness,
        lifespan=lifespan,
    )
    app.state.application = parts.application
    app.state.parts = parts
    app.include_router(router)
    return app


async def run_relay(settings: Settings) -> None:
    """Run only the relay (a process of its own), until SIGTERM or SIGINT."""
    import signal

    parts = Volunteers(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await parts.relay.run(stop)
    finally:
        parts.application.close()
