"""`python -m gateway [serve|project|rebuild]`.

serve    run the gateway (uvicorn on TONGXIN_HTTP_HOST / TONGXIN_HTTP_PORT), with its
         projector unless TONGXIN_GATEWAY_PROJECTOR=false.
project  run only the projector, keeping the read model up to date, until SIGTERM or SIGINT.
         A gateway started with TONGXIN_GATEWAY_PROJECTOR=false on the same state folder
         (and the same TONGXIN_GATEWAY_INSTANCE) reads it. Such a gateway answers queries
         from it, but its GraphQL subscriptions hear of no change: they are fed by the
         in-process projector.
rebuild  drop each feature's read model (or only --feature F's), replay the streams it
         consumes into it, then exit. Stop the gateway (or projector) first: both use
         the same durable consumers.
Environment: TONGXIN_* (see services.kit.settings); TONGXIN_GATEWAY_INTROSPECTION=false
turns GraphQL introspection and GraphiQL off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence

import uvicorn
from nats.js import JetStreamContext

from gateway.core.feature import LiveFeature
from gateway.features import build_features, open_feature, specs
from gateway.main import SERVICE, create_gateway
from services.kit import bus
from services.kit.consumer import Consumer
from services.kit.settings import Settings
from services.kit.telemetry import setup_logging, setup_tracing

log = logging.getLogger("gateway")


def serve(settings: Settings) -> None:
    open_schema = settings.gateway_introspection
    app = create_gateway(
        settings,
        start_projector=settings.gateway_projector,
        introspection=open_schema,
        graphql_ide=open_schema,
    )
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=5,
    )


async def project(settings: Settings, stop: asyncio.Event) -> None:
    """Feed every feature's read model from the streams until `stop` is set."""
    features = build_features(settings)
    try:
        for live in features.values():
            await asyncio.to_thread(open_feature, live)
        await asyncio.gather(*(p.run(stop) for live in features.values() for p in live.projectors))
    finally:
        for live in features.values():
            await asyncio.to_thread(live.readmodel.close)


async def project_until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await project(settings, stop)


async def rebuild(
    settings: Settings, *, features: Sequence[str] | None = None, timeout_s: float = 3600.0
) -> dict[str, int]:
    """Reset read models and replay their streams into them; returns each durable's position.

    `features` picks some by name (all of them by default).
    """
    known = [spec.name for spec in specs()]
    unknown = sorted(set(features or ()) - set(known))
    if unknown:
        raise ValueError(f"no gateway feature named {', '.join(unknown)} (known: {known})")
    chosen = build_features(settings, only=tuple(features) if features else None)
    nc = await bus.connect(settings, f"{SERVICE}-rebuild")
    positions: dict[str, int] = {}
    try:
        js = nc.jetstream(timeout=5.0)
        for live in chosen.values():
            positions |= await _rebuild_one(js, live, timeout_s)
    finally:
        await nc.close()
    return positions


async def _rebuild_one(js: JetStreamContext, live: LiveFeature, timeout_s: float) -> dict[str, int]:
    await asyncio.to_thread(open_feature, live)
    try:
        for projector in live.projectors:
            await bus.ensure_stream(js, projector.boundary, projector.settings)
            # The durable remembers what it acked: start it over from the first event.
            with contextlib.suppress(Exception):
                await js.delete_consumer(projector.stream, projector.name)
        await asyncio.to_thread(live.readmodel.reset)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(p.run(stop), name=p.name) for p in live.projectors]
        try:
            await _until_caught_up(js, live.projectors, tasks, timeout_s)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        return {
            p.name: await asyncio.to_thread(live.readmodel.position, p.name)
            for p in live.projectors
        }
    finally:
        await asyncio.to_thread(live.readmodel.close)


async def _until_caught_up(
    js: JetStreamContext,
    projectors: Sequence[Consumer],
    tasks: Sequence[asyncio.Task[None]],
    timeout_s: float,
) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = set(range(len(projectors)))
    while waiting:
        if time.monotonic() >= deadline:
            raise TimeoutError("the rebuild did not catch up in time")
        await asyncio.sleep(0.5)
        for task in tasks:
            if task.done():
                task.result()
        for index in sorted(waiting):
            projector = projectors[index]
            if not projector.connected:
                continue
            try:
                info = await js.consumer_info(projector.stream, projector.name)
            except Exception:
                continue
            log.info(
                "rebuild %s: position %d, pending %d",
                projector.name,
                projector.position,
                info.num_pending,
            )
            if not info.num_pending and not info.num_ack_pending:
                waiting.discard(index)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "project", "rebuild"]
    )
    parser.add_argument(
        "--feature",
        action="append",
        choices=[spec.name for spec in specs()],
        help="rebuild only this feature's read model (repeatable; all by default)",
    )
    args = parser.parse_args(argv)
    if args.feature and args.command != "rebuild":
        parser.error("--feature goes with rebuild")
    settings = Settings()
    process = SERVICE if args.command == "serve" else f"{SERVICE}-{args.command}"
    setup_logging(process, settings.log_level)
    setup_tracing(SERVICE)
    if args.command == "project":
        asyncio.run(project_until_signalled(settings))
    elif args.command == "rebuild":
        positions = asyncio.run(rebuild(settings, features=args.feature))
        for name, position in positions.items():
            log.info("rebuild of %s done at stream position %d", name, position)
    else:
        serve(settings)


if __name__ == "__main__":
    main()
