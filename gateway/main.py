"""Composition root of the gateway: read model, projector, command client, GraphQL router."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.broadcast import ShiftBroadcaster
from gateway.readmodel import VolunteersReadModel
from gateway.schema import create_router, create_schema
from gateway.volunteers.client import VolunteersClient
from services.kit.auth import JwksVerifier
from services.kit.consumer import Consumer
from services.kit.http import create_app
from services.kit.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "gateway"
PROJECTOR = "gateway-volunteers"
BOUNDARY = "volunteers"


def projector_name(settings: Settings) -> str:
    """Each gateway instance keeps its own read model, so it needs its own durable consumer."""
    instance = settings.gateway_instance
    return f"{PROJECTOR}-{instance}" if instance else PROJECTOR


def create_projector(readmodel: VolunteersReadModel, settings: Settings) -> Consumer:
    """The durable JetStream consumer that feeds the volunteers read model."""
    return Consumer(
        name=projector_name(settings), boundary=BOUNDARY, projection=readmodel, settings=settings
    )


def open_shared(readmodel: VolunteersReadModel, *, timeout_s: float = 30.0) -> None:
    """Open a read model that another process may be opening or writing at the same moment.

    Switching a new file to WAL takes an exclusive lock that SQLite does not wait for, so
    a gateway and a projector starting together on one file can see "database is locked".
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            readmodel.open()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def create_gateway(
    settings: Settings,
    *,
    readmodel_path: Path | None = None,
    start_projector: bool = True,
    http_client: httpx.AsyncClient | None = None,
    verifier: JwksVerifier | None = None,
    introspection: bool = True,
    graphql_ide: bool = True,
    max_lag: int | None = None,
) -> FastAPI:
    """The gateway app: `/graphql` plus the kit's /healthz, /readyz and /metrics.

    `readmodel_path` defaults to `<state_dir>/data/gateway-readmodel.sqlite3`
    (":memory:" works for tests). `http_client` (owned by the caller) talks to the
    volunteers service; by default one is made for `settings.service_url("volunteers")`.
    With `max_lag`, readiness fails while the projector is further behind.
    """
    readmodel = VolunteersReadModel(readmodel_path or VolunteersReadModel.default_path(settings))
    broadcaster = ShiftBroadcaster()
    projector = create_projector(readmodel, settings) if start_projector else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(open_shared, readmodel)
        broadcaster.bind(asyncio.get_running_loop())
        unhook = readmodel.on_change(broadcaster.publish_threadsafe)
        http = http_client or httpx.AsyncClient(
            base_url=settings.service_url("volunteers"), timeout=httpx.Timeout(10.0, connect=3.0)
        )
        app.state.volunteers_client = VolunteersClient(http)
        stop = asyncio.Event()
        task = (
            asyncio.create_task(projector.run(stop), name=projector.name)
            if projector is not None
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                try:
                    await asyncio.wait_for(task, timeout=10)
                except TimeoutError:
                    log.warning("projector did not stop in time; cancelled")
                except Exception:
                    log.exception("projector failed while stopping")
            unhook()
            if http_client is None:
                await http.aclose()
            await asyncio.to_thread(readmodel.close)

    async def readiness() -> dict[str, Any]:
        report: dict[str, Any] = {"readmodel": {"ok": readmodel.is_open}}
        if projector is not None:
            report["projector"] = {
                "ok": projector.connected and (max_lag is None or projector.pending <= max_lag),
                "position": projector.position,
                "pending": projector.pending,
            }
        elif readmodel.is_open:
            # Another process projects: what it has applied is all this one can tell.
            position = await asyncio.to_thread(readmodel.position, projector_name(settings))
            report["readmodel"]["position"] = position
        return report

    app = create_app(
        title="Tongxin gateway",
        settings=settings,
        readiness=readiness,
        lifespan=lifespan,
        verifier=verifier,
    )
    app.state.readmodel = readmodel
    app.state.broadcaster = broadcaster
    app.state.projector = projector
    app.include_router(
        create_router(create_schema(introspection=introspection), graphql_ide=graphql_ide),
        prefix="/graphql",
    )
    return app
