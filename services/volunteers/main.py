"""Composition root of the volunteers service: the API, its relay and its consumers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from services.kit.consumer import Consumer
from services.kit.eventstore import build_application
from services.kit.http import create_app, create_operations_app
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
        """What the API's /readyz reports (the relay's lag too when it runs inside)."""
        return await self._readiness(with_relay=self.settings.relay_in_process)

    async def relay_readiness(self) -> dict[str, Any]:
        """What a relay process's /readyz reports: the store and how far behind it is."""
        return await self._readiness(with_relay=True)

    async def _readiness(self, *, with_relay: bool) -> dict[str, Any]:
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
        if with_relay:
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
    tasks = [asyncio.create_task(parts.relay.run(stop), name="relay")]
    if settings.relay_http_port:
        tasks.append(asyncio.create_task(_serve_operations(parts, settings, stop), name="http"))
    try:
        # Whichever ends first (a signal, a crash) ends the process: a relay without its
        # probes, or probes without a relay, would mislead the orchestrator.
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        await asyncio.wait(tasks, timeout=10)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        parts.application.close()


async def _serve_operations(parts: Volunteers, settings: Settings, stop: asyncio.Event) -> None:
    import uvicorn

    app = create_operations_app(title="Tongxin volunteers relay", readiness=parts.relay_readiness)
    config = uvicorn.Config(
        app, host=settings.http_host, port=settings.relay_http_port, log_config=None
    )
    server = uvicorn.Server(config)
    # The relay owns SIGTERM/SIGINT (they set `stop`); uvicorn would replace the handlers.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    serving = asyncio.create_task(server.serve())
    await asyncio.wait(
        [serving, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    server.should_exit = True
    await serving
