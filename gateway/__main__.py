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
import time
from collections.abc import Sequence

from nats.js import JetStreamContext

from gateway.core.feature import LiveFeature
from gateway.features import build_features, open_feature, specs
from gateway.main import SERVICE, create_gateway
from services.kit import bus
from services.kit.consumer import Consumer
from services.kit.runtime import Work, Workers, run_process, serve_http
from services.kit.settings import Settings

log = logging.getLogger("gateway")
# How often a rebuild asks the server how far its projectors still have to go.
CATCH_UP_POLL_S = 0.5
# A projector that was told to stop may finish the batch it holds for this long.
REBUILD_STOP_GRACE_S = 30.0


def serve(settings: Settings) -> None:
    open_schema = settings.gateway_introspection
    app = create_gateway(
        settings,
        start_projector=settings.gateway_projector,
        introspection=open_schema,
        graphql_ide=open_schema,
    )
    serve_http(app, settings)


async def project(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Feed every feature's read model from the streams until `stop` is set.

    Without `stop`, until SIGTERM or SIGINT. A projector that crashes stops the others
    and fails the process: a projector process that projects only some features would
    look alive to its orchestrator while a read model falls behind.
    """
    features = build_features(settings)
    workers = Workers()
    if stop is None:
        workers.stop_on_signals()
    try:
        for live in features.values():
            await asyncio.to_thread(open_feature, live)
        # Also what keeps a process whose features have no projectors waiting for its signal.
        workers.start("stop", _until(stop or workers.stop))
        for live in features.values():
            for projector in live.projectors:
                workers.start(projector.name, projector.run)
        await workers.run_until_one_ends()
    finally:
        for live in features.values():
            await asyncio.to_thread(live.readmodel.close)


def _until(event: asyncio.Event) -> Work:
    """A worker ending when `event` is set, or when the other workers are stopped."""

    async def wait(stop: asyncio.Event) -> None:
        waits = [asyncio.create_task(event.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    return wait


async def rebuild(
    settings: Settings, *, features: Sequence[str] | None = None, timeout_s: float = 3600.0
) -> dict[str, int]:
    """Reset read models and replay their streams into them; returns each durable's position.

    `features` picks some by name (all of them by default). Each position is logged too:
    the command line has nothing else to show for it.
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
    for name, position in positions.items():
        log.info("rebuild of %s done at stream position %d", name, position)
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
        # The projectors and a watcher of their progress: the watcher ends once they
        # have caught up, which stops them; a projector that fails first fails the rebuild.
        workers = Workers(grace_s=REBUILD_STOP_GRACE_S)
        for projector in live.projectors:
            workers.start(projector.name, projector.run)
        workers.start("catch-up", _caught_up(js, live.projectors, timeout_s))
        await workers.run_until_one_ends()
        return {
            p.name: await asyncio.to_thread(live.readmodel.position, p.name)
            for p in live.projectors
        }
    finally:
        await asyncio.to_thread(live.readmodel.close)


def _caught_up(js: JetStreamContext, projectors: Sequence[Consumer], timeout_s: float) -> Work:
    async def watch(stop: asyncio.Event) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = set(range(len(projectors)))
        while waiting and not stop.is_set():
            if time.monotonic() >= deadline:
                raise TimeoutError("the rebuild did not catch up in time")
            await asyncio.sleep(CATCH_UP_POLL_S)
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

    return watch


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

    def run_project(settings: Settings) -> None:
        asyncio.run(project(settings))

    def run_rebuild(settings: Settings) -> None:
        asyncio.run(rebuild(settings, features=args.feature))

    # The kit's runtime names the process (`gateway`, `gateway-project`, ...) and starts it;
    # argparse keeps the command line this module always had.
    run_process(
        SERVICE, {"serve": serve, "project": run_project, "rebuild": run_rebuild}, [args.command]
    )


if __name__ == "__main__":
    main()
