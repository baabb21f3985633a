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

from gateway.core.broadcast import Broadcaster
from gateway.core.feature import Feature, LiveFeature, adopt_renamed_file
from gateway.core.projection import SqliteProjection
from gateway.core.projector import create_projectors, durable_name
from gateway.core.service import ServiceClient, http_client_for
from gateway.features import registered
from gateway.schema import create_router, create_schema
from services.kit.auth import JwksVerifier
from services.kit.http import create_app
from services.kit.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "gateway"


def readmodel_path(feature: Feature[Any], settings: Settings, folder: Path | None = None) -> Path:
    """`<folder>/gateway-<feature>.sqlite3`; the folder defaults to `<state_dir>/data`."""
    default = SqliteProjection.default_path(settings, feature.name)
    return default if folder is None else folder / default.name


def readmodel_file(settings: Settings, feature: str) -> Path:
    """Where a feature's read model lives in the state folder."""
    return SqliteProjection.default_path(settings, feature)


def projector_names(settings: Settings, feature: str) -> tuple[str, ...]:
    """The durable consumers (and stored positions) of a feature's read model."""
    spec = next(spec for _, spec in registered() if spec.name == feature)
    return tuple(durable_name(feature, pattern, settings) for pattern in spec.consumes)


def build_features(
    settings: Settings,
    *,
    readmodel_dir: Path | None = None,
    start_projectors: bool = True,
    only: tuple[str, ...] | None = None,
) -> dict[str, LiveFeature]:
    """Every registered feature (or those in `only`), not yet open; see `open_feature`."""
    built: dict[str, LiveFeature] = {}
    for feature, spec in registered():
        if only is not None and feature.name not in only:
            continue
        readmodel = feature.readmodel(readmodel_path(feature, settings, readmodel_dir))
        projectors = (
            create_projectors(feature.name, spec.consumes, readmodel, settings)
            if start_projectors
            else ()
        )
        built[feature.name] = LiveFeature(
            feature=feature,
            spec=spec,
            readmodel=readmodel,
            projectors=projectors,
            broadcaster=Broadcaster(),
        )
    return built


def open_feature(live: LiveFeature) -> None:
    """Open its read model file, adopting the file it had under a former name."""
    path = Path(live.readmodel.path)
    if live.readmodel.path != ":memory:":
        adopt_renamed_file(path, live.feature.renamed_from)
    live.readmodel.open_shared()


async def stop_projectors(tasks: list[asyncio.Task[None]], *, timeout_s: float = 10.0) -> None:
    for task in tasks:
        try:
            await asyncio.wait_for(task, timeout=timeout_s)
        except TimeoutError:
            log.warning("projector %s did not stop in time; cancelled", task.get_name())
        except Exception:
            log.exception("projector %s failed while stopping", task.get_name())


async def feature_readiness(
    live: LiveFeature, settings: Settings, max_lag: int | None
) -> dict[str, Any]:
    """`readmodel:<feature>` and, with projectors in this process, `projector:<feature>`."""
    readmodel = live.readmodel
    check: dict[str, Any] = {"ok": readmodel.is_open}
    checks: dict[str, Any] = {f"readmodel:{live.name}": check}
    if live.projectors:
        pending = sum(p.pending for p in live.projectors)
        checks[f"projector:{live.name}"] = {
            "ok": all(p.connected for p in live.projectors)
            and (max_lag is None or pending <= max_lag),
            "pending": pending,
            "positions": {p.name: p.position for p in live.projectors},
        }
    elif readmodel.is_open:
        # Another process projects: what it has applied is all this one can tell.
        check["positions"] = {
            name: await asyncio.to_thread(readmodel.position, name)
            for name in projector_names(settings, live.name)
        }
    return checks


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
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
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
            tasks = [
                asyncio.create_task(projector.run(stop), name=projector.name)
                for live in features.values()
                for projector in live.projectors
            ]
            yield
        finally:
            stop.set()
            await stop_projectors(tasks)
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
    app.include_router(
        create_router(create_schema(introspection=introspection), graphql_ide=graphql_ide),
        prefix="/graphql",
    )
    return app
