"""Composition root of the gateway: every registered feature's read model, projectors and
service client, and the GraphQL router over them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.core.service import ServiceClient, http_client_for
from gateway.dashboard import QUERIES, mount_dashboard
from gateway.features import build_features, feature_readiness, open_feature
from gateway.kept_answers import KeptAnswersFirst
from gateway.persisted import PersistedQueries
from gateway.schema import create_router, create_schema
from services.kit.auth import JwksVerifier
from services.kit.http import create_app
from services.kit.runtime import Workers
from services.kit.settings import Settings
from services.kit.stages import watch_pauses

log = logging.getLogger(__name__)

SERVICE = "gateway"


def create_gateway(
    settings: Settings,
    *,
    readmodel_dir: Path | None = None,
    start_projector: bool = True,
    http_clients: Mapping[str, httpx.AsyncClient] | None = None,
    verifier: JwksVerifier | None = None,
    introspection: bool = True,
    graphql_ide: bool = True,
    max_lag: int | None = None,
) -> FastAPI:
    """The gateway app: `/graphql` plus the kit's /healthz, /readyz and /metrics.

    Each feature's read model is `<readmodel_dir>/gateway-<feature>.sqlite3` (the folder
    defaults to `<state_dir>/data`). `http_clients` (owned by the caller) talk to services
    by name; any other service gets a client for `settings.service_url(name)`. With
    `max_lag`, readiness fails while a feature's projectors are further behind.
    """
    features = build_features(
        settings, readmodel_dir=readmodel_dir, start_projectors=start_projector
    )
    given = dict(http_clients or {})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: dict[str, httpx.AsyncClient] = {}
        unhooks = []
        workers = Workers()
        try:
            for live in features.values():
                await asyncio.to_thread(open_feature, live)
                live.broadcaster.bind(asyncio.get_running_loop())
                unhooks.append(live.readmodel.on_change(live.broadcaster.publish_threadsafe))
                service = live.spec.service
                if service is not None:
                    if service not in given and service not in owned:
                        owned[service] = http_client_for(service, settings)
                    live.client = ServiceClient(service, given.get(service) or owned[service])
            for live in features.values():
                for projector in live.projectors:
                    workers.start(projector.name, projector.run)
            async with watch_pauses():
                yield
        finally:
            for name, error in await workers.close():
                log.error("projector %s failed while stopping: %s", name, error)
            for unhook in unhooks:
                unhook()
            for client in owned.values():
                await client.aclose()
            for live in features.values():
                await asyncio.to_thread(live.readmodel.close)

    async def readiness() -> dict[str, Any]:
        report: dict[str, Any] = {}
        for live in features.values():
            report.update(await feature_readiness(live, settings, max_lag))
        return report

    app = create_app(
        title="Tongxin gateway",
        settings=settings,
        readiness=readiness,
        lifespan=lifespan,
        verifier=verifier,
    )
    app.state.features = features
    # The dashboard's documents, read once: the page asks for them by hash.
    persisted = PersistedQueries.from_folder(QUERIES)
    router = create_router(
        create_schema(
            introspection=introspection,
            features=[live.feature for live in features.values()],
            persisted=persisted,
        ),
        graphql_ide=graphql_ide,
        persisted=persisted,
    )
    app.include_router(router, prefix="/graphql")
    if router.kept is not None:
        app.add_middleware(KeptAnswersFirst, kept=router.kept, path="/graphql")
    mount_dashboard(app, settings, persisted)
    return app
