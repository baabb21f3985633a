"""`python -m gateway [serve|project|rebuild]`.

serve    run the gateway (uvicorn on TONGXIN_HTTP_HOST / TONGXIN_HTTP_PORT), with its
         projector unless TONGXIN_GATEWAY_PROJECTOR=false.
project  run only the projector, keeping the read model up to date, until SIGTERM or SIGINT.
         A gateway started with TONGXIN_GATEWAY_PROJECTOR=false on the same state folder
         (and the same TONGXIN_GATEWAY_INSTANCE) reads it. Such a gateway answers queries
         from it, but its GraphQL subscriptions hear of no change: they are fed by the
         in-process projector.
rebuild  drop the read model, replay the volunteers stream into it, then exit.
         Stop the gateway (or projector) first: both use the same durable consumer.
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

import uvicorn

from gateway.main import (
    BOUNDARY,
    SERVICE,
    create_gateway,
    create_projector,
    open_shared,
    projector_name,
)
from gateway.readmodel import VolunteersReadModel
from services.kit import bus
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
    """Feed the read model from the stream until `stop` is set."""
    readmodel = VolunteersReadModel(VolunteersReadModel.default_path(settings))
    await asyncio.to_thread(open_shared, readmodel)
    try:
        await create_projector(readmodel, settings).run(stop)
    finally:
        await asyncio.to_thread(readmodel.close)


async def project_until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await project(settings, stop)


async def rebuild(settings: Settings, *, timeout_s: float = 3600.0) -> int:
    """Reset the read model and replay the whole stream into it; returns the position."""
    readmodel = VolunteersReadModel(VolunteersReadModel.default_path(settings)).open()
    nc = await bus.connect(settings, f"{SERVICE}-rebuild")
    try:
        js = nc.jetstream(timeout=5.0)
        stream = await bus.ensure_stream(js, BOUNDARY, settings)
        # The durable consumer remembers what it acked: start it over from the first event.
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, projector_name(settings))
        await asyncio.to_thread(readmodel.reset)
        projector = create_projector(readmodel, settings)
        stop = asyncio.Event()
        task = asyncio.create_task(projector.run(stop))
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                if task.done():
                    task.result()
                if not projector.connected:
                    continue
                try:
                    info = await js.consumer_info(stream, projector_name(settings))
                except Exception:
                    continue
                log.info("rebuild: position %d, pending %d", projector.position, info.num_pending)
                if not info.num_pending and not info.num_ack_pending:
                    break
            else:
                raise TimeoutError("the rebuild did not catch up in time")
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
        return await asyncio.to_thread(readmodel.position, projector_name(settings))
    finally:
        await nc.close()
        readmodel.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "project", "rebuild"]
    )
    args = parser.parse_args(argv)
    settings = Settings()
    process = SERVICE if args.command == "serve" else f"{SERVICE}-{args.command}"
    setup_logging(process, settings.log_level)
    setup_tracing(SERVICE)
    if args.command == "project":
        asyncio.run(project_until_signalled(settings))
    elif args.command == "rebuild":
        position = asyncio.run(rebuild(settings))
        log.info("rebuild done at stream position %d", position)
    else:
        serve(settings)


if __name__ == "__main__":
    main()
