"""The service runtime: how every process of the platform starts, runs its workers and stops.

A service declares what is its own (application, router, translations, reactions) in a
`Service`, and gets `python -m services.<name> [serve|relay]` from it:

- `serve`: the HTTP API. With `TONGXIN_RELAY_IN_PROCESS` (the embedded default) the
  relay and the reactions run inside it too.
- `relay`: the outbox relay and the reactions, in a process of their own. In production
  the API runs as several replicas and this process as exactly one: a stream has one
  publisher (the relay chains its publishes), and a reaction has one reader, so the events
  it consumes are applied once and in stream order.

The pieces (`Workers`, `run_process`, `serve_http`, `serve_operations`) are
also for processes that are not event-sourced services (the ingest, the gateway); their
retry loops wait with `services.kit.backoff.Backoff`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI

from contracts.departments import load_ownership_map
from contracts.platform import ManifestError, boundary_of, load_platform
from services.kit.application import RequestDigests, ServiceApplication
from services.kit.consumer import Consumer, Projection
from services.kit.deadlines.runner import DeadlineRunner
from services.kit.eventstore import build_application
from services.kit.heap import settle, settle_after_startup
from services.kit.http import create_app, create_operations_app
from services.kit.outbox import convert_at_write
from services.kit.privacy.personal import PersonalData, UsesPersonalData, local_master_key
from services.kit.privacy.receiving import ReceivesSealed
from services.kit.privacy.sealing import SealingKeys, jwks_router
from services.kit.relay import OutboxRelay, Translate
from services.kit.settings import Settings
from services.kit.stages import watch_pauses
from services.kit.telemetry import setup_logging, setup_tracing

log = logging.getLogger(__name__)

Work = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
# How long stopping workers may take before they are cancelled.
STOP_TIMEOUT_S = 10.0


class Workers:
    """Long-running tasks sharing one stop event, stopped together and never left behind."""

    def __init__(self, grace_s: float = STOP_TIMEOUT_S) -> None:
        self.grace_s = grace_s
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, work: Work) -> None:
        self._tasks.append(asyncio.create_task(work(self.stop), name=name))

    async def close(self) -> list[tuple[str, BaseException]]:
        """Stop every worker (cancelling those that outstay `grace_s`); what failed, by name."""
        self.stop.set()
        if not self._tasks:
            return []
        _, pending = await asyncio.wait(self._tasks, timeout=self.grace_s)
        for task in pending:
            log.warning("worker %s did not stop in time; cancelled", task.get_name())
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        return [
            (task.get_name(), error)
            for task in self._tasks
            if not task.cancelled() and (error := task.exception()) is not None
        ]

    async def run_until_one_ends(self) -> None:
        """Wait until a worker ends (a signal set `stop`, or one crashed), then stop them all.

        A process whose workers depend on each other (a relay and its probes) must not
        live on with one of them gone: it would mislead the orchestrator.
        """
        if self._tasks:
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        failures = await self.close()
        if failures:
            name, error = failures[0]
            raise RuntimeError(f"worker {name} failed: {error}") from error

    def stop_on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)


@dataclass(frozen=True)
class Reaction:
    """A durable consumer of another boundary's events that changes this service's state.

    `subjects` must be one of the service's `reactions` in contracts/platform.json (the NATS
    permissions are generated from it); `projection` is built from the application.
    """

    name: str
    subjects: str
    projection: Callable[[Any], Projection]


@dataclass(frozen=True)
class Background:
    """A long-running worker of the service's own (a webhook dispatcher), built from the
    application; it runs where the relay runs, so there is exactly one of it."""

    name: str
    work: Callable[[Any], Work]


@dataclass(frozen=True)
class Service:
    """What a service declares; `create_app` and `main` give it the platform's processes."""

    name: str
    title: str
    application: type[ServiceApplication]
    router: APIRouter
    translate: Translate
    reactions: tuple[Reaction, ...] = field(default=())
    background: tuple[Background, ...] = field(default=())

    def __post_init__(self) -> None:
        process = load_platform().process(self.name)
        if process.kind != "service":
            raise ManifestError(f"{self.name!r} is not a service in contracts/platform.json")
        declared = sorted(r.subjects for r in self.reactions)
        if declared != sorted(process.reactions):
            raise ManifestError(
                f"service {self.name!r} reacts to {declared}, but contracts/platform.json "
                f"lists {sorted(process.reactions)}"
            )

    @property
    def boundary(self) -> str:
        boundary = load_platform().process(self.name).boundary
        assert boundary is not None  # the manifest's validation requires it of a service
        return boundary

    def create_app(self, settings: Settings) -> FastAPI:
        """The API; the relay and the reactions run inside it only with an in-process relay."""
        parts = ServiceParts(self, settings, with_relay=settings.relay_in_process)

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            workers = Workers()
            parts.start(workers)
            try:
                async with watch_pauses():
                    yield
            finally:
                try:
                    for name, error in await workers.close():
                        log.error("%s failed while stopping: %s", name, error)
                finally:
                    parts.close()

        app = create_app(
            title=f"Tongxin {self.title}",
            settings=settings,
            readiness=parts.readiness,
            lifespan=lifespan,
            request_digests=parts.request_digests,
        )
        app.state.application = parts.application
        app.state.parts = parts
        if parts.sealing is not None:
            app.include_router(jwks_router(parts.sealing))
        app.include_router(self.router)
        return app

    def main(self, argv: Sequence[str]) -> None:
        """`python -m services.<name> [serve|relay]`."""
        run_process(
            self.name,
            {
                "serve": lambda settings: serve_http(self.create_app(settings), settings),
                "relay": lambda settings: asyncio.run(run_relay(self, settings)),
            },
            argv,
        )


class ServiceParts:
    """A service's application and, where they run, its relay and reactions."""

    def __init__(self, service: Service, settings: Settings, *, with_relay: bool) -> None:
        self.service = service
        self.settings = settings
        self.application: ServiceApplication = build_application(
            service.application, settings, service.name
        )
        # Every process that saves (API replicas, the relay's reactions) stores each event's
        # published form with it, so the relay publishes bytes.
        convert_at_write(self.application, service.name, service.translate)
        self.personal: PersonalData | None = None
        try:
            # A command's body may name a person: its idempotency record keeps a digest
            # keyed by the service's own secret, never a plain hash of it.
            master = local_master_key(settings, service.name)
            self.request_digests = RequestDigests.from_master(master)
            keeper = self.application if isinstance(self.application, UsesPersonalData) else None
            if keeper is not None:
                # Reactions may record personal data too (care's sealed referrals): every
                # process of the service opens it, not only the API.
                self.personal = PersonalData.open(settings, service.name, master=master)
                keeper.personal = self.personal
        except BaseException:
            self.application.close()
            raise
        self.sealing: SealingKeys | None = None
        if isinstance(self.application, ReceivesSealed):
            self.sealing = SealingKeys.load(settings, service.name)
            self.application.sealing = self.sealing
        self.relay: OutboxRelay | None = None
        self.reactions: list[Consumer] = []
        self.deadlines: DeadlineRunner | None = None
        if with_relay:
            self.relay = OutboxRelay(
                self.application,
                service=service.name,
                boundary=service.boundary,
                translate=service.translate,
                settings=settings,
            )
            # Reactions go where the relay goes: the relay is a singleton, so a reaction
            # has one reader and applies its stream in order, whatever the API's replicas.
            ownership = load_ownership_map()
            self.reactions = [
                Consumer(
                    name=reaction.name,
                    boundary=boundary_of(ownership, reaction.subjects),
                    filter_subject=reaction.subjects,
                    projection=reaction.projection(self.application),
                    settings=settings,
                )
                for reaction in service.reactions
            ]
            # Deadlines fire where the relay runs, for the same reason: one runner.
            rules = service.application.deadlines
            if rules is not None:
                self.deadlines = DeadlineRunner(
                    self.application, rules, self.application.deadline_clock
                )
        self.background: list[tuple[str, Work]] = (
            [(b.name, b.work(self.application)) for b in service.background] if with_relay else []
        )
        self._wake_relay: Callable[[], None] | None = None

    def start(self, workers: Workers) -> None:
        if self.relay is not None:
            relay = self.relay
            loop = asyncio.get_running_loop()

            def wake_relay() -> None:
                loop.call_soon_threadsafe(relay.poke)

            self._wake_relay = wake_relay
            self.application.on_saved.append(wake_relay)
            relay.woken_by_saves = True
            relay.on_poke.append(self.application.commits.notify)
            self.application.commits.signalled = relay.woken_on_commit
            if self.deadlines is not None:
                # What wakes the relay (a commit, here or in another replica) may have
                # scheduled a deadline: it wakes the runner too.
                relay.on_poke.append(self.deadlines.poke)
                self.deadlines.woken_by_commits = relay.woken_on_commit
            workers.start("relay", relay.run)
        for consumer in self.reactions:
            workers.start(consumer.name, consumer.run)
        for name, work in self.background:
            workers.start(name, work)
        if self.deadlines is not None:
            workers.start("deadlines", self.deadlines.run)

    def close(self) -> None:
        if self._wake_relay is not None:
            self.application.on_saved.remove(self._wake_relay)
            self._wake_relay = None
        try:
            self.application.close()
        finally:
            if self.personal is not None:
                self.personal.close()

    async def readiness(self) -> dict[str, Any]:
        """The store decides; NATS, the relay's lag and the reactions only inform."""
        try:
            head = await asyncio.to_thread(self.application.recorder.max_notification_id)
            store: dict[str, Any] = {"ok": True, "head": head or 0}
        except Exception as exc:
            store = {"ok": False, "error": str(exc)}
        report: dict[str, Any] = {"store": store}
        bus_workers: list[OutboxRelay | Consumer] = [*self.reactions]
        if self.relay is not None:
            bus_workers.append(self.relay)
        if bus_workers:
            report["nats"] = {"ok": any(w.connected for w in bus_workers), "required": False}
        if self.relay is not None:
            report["relay"] = {
                "ok": self.relay.connected,
                "required": False,
                "position": self.relay.position,
                "lag": max(0, int(store.get("head", 0)) - self.relay.position),
            }
        if self.deadlines is not None:
            report["deadlines"] = self.deadlines.readiness()
        for consumer in self.reactions:
            report[f"reaction:{consumer.name}"] = {
                "ok": consumer.connected,
                "required": False,
                "position": consumer.position,
                "pending": consumer.pending,
            }
        return report


async def run_relay(service: Service, settings: Settings) -> None:
    """The relay process: the relay and the reactions until SIGTERM or SIGINT (or a crash)."""
    parts = ServiceParts(service, settings, with_relay=True)
    if parts.relay is not None:
        parts.relay.saves_elsewhere = True
    workers = Workers()
    workers.stop_on_signals()
    try:
        parts.start(workers)
        if settings.relay_http_port:
            app = create_operations_app(
                title=f"Tongxin {service.title} relay", readiness=parts.readiness
            )
            workers.start(
                "http",
                lambda stop: serve_operations(
                    app, host=settings.http_host, port=settings.relay_http_port, stop=stop
                ),
            )
        async with watch_pauses():
            await workers.run_until_one_ends()
    finally:
        parts.close()


async def serve_operations(app: FastAPI, *, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve a process's probes and metrics until `stop` is set."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None))
    # The process owns SIGTERM/SIGINT (they set `stop`); uvicorn would replace the handlers.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    server.should_exit = True
    await serving


def serve_http(app: FastAPI, settings: Settings) -> None:
    """Serve an API on TONGXIN_HTTP_HOST / TONGXIN_HTTP_PORT until SIGTERM or SIGINT."""
    settle_after_startup(app)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=5,
    )


def run_process(
    name: str, commands: Mapping[str, Callable[[Settings], None]], argv: Sequence[str]
) -> None:
    """`python -m <module> [command]`: the first command is the default.

    Logs name the process (`volunteers`, `volunteers-relay`); traces name the service.
    """
    default = next(iter(commands))
    command = argv[0] if argv else default
    if command not in commands or len(argv) > 1:
        sys.exit(f"unknown command {' '.join(argv)!r}: use {' or '.join(commands)}")
    settings = Settings()
    setup_logging(name if command == default else f"{name}-{command}", settings.log_level)
    setup_tracing(name)
    # The modules are loaded: out of the collector's way for the rest of the process (an API
    # settles again once it has started, `serve_http`).
    settle()
    commands[command](settings)
