"""One chaos run: start the platform as processes, load it, kill things, check invariants."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gateway.features import projector_names, readmodel_file
from services.kit.auth import DevIssuer
from services.kit.eventstore import build_application
from services.kit.privacy.personal import PersonalData
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from tests.chaos import faults, invariants
from tests.chaos.load import Load, LoadConfig, summary
from tests.chaos.processes import Killable, NatsProcess, PythonProcess
from tests.support.environ import settings_env
from tests.support.nats import NatsServer
from tests.support.postgres import PostgresServer
from tests.support.streams import nats_client, read_stream
from tongxin.ports import free_port

TARGETS = ["api", "relay", "gateway", "nats"]
STREAM = "VOLUNTEERS"


@dataclass
class ChaosConfig:
    commands: int = 10_000
    seed: int = 0
    store: Literal["sqlite", "postgres"] = "sqlite"
    clients: int = 8
    rate: float | None = None
    targets: list[str] = field(default_factory=lambda: list(TARGETS))
    gap_s: tuple[float, float] = (4.0, 12.0)
    down_s: tuple[float, float] = (0.2, 2.0)
    min_faults: int = 0
    converge_timeout_s: float = 180.0
    workdir: Path | None = None
    keep: bool = False


@dataclass
class ChaosResult:
    verdict: invariants.Verdict
    converged_s: float | None
    executed: list[faults.Executed]
    load_s: float
    load: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.verdict.clean and self.converged_s is not None

    def last_line(self) -> str:
        converged = f"{self.converged_s:.1f}" if self.converged_s is not None else "never"
        v = self.verdict
        return (
            f"chaos: acknowledged={v.acknowledged} lost={v.lost} duplicated={v.duplicated} "
            f"phantom={v.phantom} converged_s={converged}"
        )


Say = Callable[[str], None]


def replay_args(config: ChaosConfig) -> str:
    """The command-line arguments that replay this run's load and fault schedule."""
    args = [
        f"--seed {config.seed}",
        f"--commands {config.commands}",
        f"--store {config.store}",
        f"--clients {config.clients}",
        f"--targets {','.join(config.targets)}",
        f"--gap {config.gap_s[0]}:{config.gap_s[1]}",
        f"--down {config.down_s[0]}:{config.down_s[1]}",
        f"--min-faults {config.min_faults}",
    ]
    if config.rate:
        args.append(f"--rate {config.rate}")
    return " ".join(args)


@contextlib.asynccontextmanager
async def _store_settings(config: ChaosConfig, workdir: Path) -> AsyncIterator[Settings]:
    if config.store == "sqlite":
        yield Settings(store="sqlite", state_dir=workdir / "state")
        return
    (workdir / "pg").mkdir(mode=0o755)
    server = await asyncio.to_thread(PostgresServer.start, workdir / "pg" / "pgdata")
    try:
        dbname = server.create_database("chaos")
        yield server.settings(dbname, state_dir=workdir / "state")
    finally:
        server.stop()


@dataclass
class Platform:
    """The processes of one run and where they keep their state."""

    settings: Settings
    nats: NatsProcess
    api: PythonProcess
    relay: PythonProcess
    gateway: PythonProcess
    api_url: str

    @property
    def targets(self) -> dict[str, Killable]:
        return {"api": self.api, "relay": self.relay, "gateway": self.gateway, "nats": self.nats}

    async def start(self) -> None:
        await self.nats.start()
        for process in (self.api, self.relay, self.gateway):
            await process.start()

    def stop(self) -> None:
        for process in (self.gateway, self.relay, self.api):
            process.stop()
        self.nats.server.stop()


def build_platform(store: Settings, workdir: Path, issuer: DevIssuer) -> Platform:
    nats = NatsServer(workdir / "nats")
    settings = store.model_copy(
        update={
            "nats_urls": nats.url,
            "auth_jwks_url": str(issuer.jwks_path),
            "relay_in_process": False,
            "relay_idle_s": 0.01,
            # A consumer killed with messages in flight gets them again after this.
            "consumer_ack_wait_s": 5.0,
            "log_level": "WARNING",
        }
    )
    api_port, gateway_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    api_env = settings_env(settings.model_copy(update={"http_port": api_port}))
    gateway_env = settings_env(
        settings.model_copy(
            update={"http_port": gateway_port, "service_urls": f"volunteers={api_url}"}
        )
    )
    return Platform(
        settings=settings,
        nats=NatsProcess(nats),
        api=PythonProcess(
            "api",
            ["-m", "services.volunteers", "serve"],
            api_env,
            logs / "api.log",
            health_url=f"{api_url}/healthz",
        ),
        relay=PythonProcess(
            "relay",
            ["-m", "services.volunteers", "relay"],
            settings_env(settings),
            logs / "relay.log",
        ),
        gateway=PythonProcess(
            "gateway",
            ["-m", "gateway", "serve"],
            gateway_env,
            logs / "gateway.log",
            health_url=f"http://127.0.0.1:{gateway_port}/healthz",
        ),
        api_url=api_url,
    )


async def run(config: ChaosConfig, say: Say = print) -> ChaosResult:
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="tongxin-chaos-"))
    os.chmod(workdir, 0o755)  # The embedded PostgreSQL runs as another user when root.
    say(
        f"chaos: seed={config.seed} commands={config.commands} clients={config.clients} "
        f"store={config.store} targets={','.join(config.targets)} workdir={workdir}"
    )
    say(f"chaos: replay with: python -m tests.chaos {replay_args(config)}")
    issuer = DevIssuer(workdir / "keys")
    token = issuer.token(role="coordinator", department="cyl", subject="chaos-coordinator")
    try:
        async with _store_settings(config, workdir) as store:
            platform = build_platform(store, workdir, issuer)
            try:
                await platform.start()
                return await _load_and_check(config, platform, token, say)
            finally:
                platform.stop()
    finally:
        if not config.keep and config.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


async def _load_and_check(
    config: ChaosConfig, platform: Platform, token: str, say: Say
) -> ChaosResult:
    load = Load(
        LoadConfig(
            commands=config.commands,
            clients=config.clients,
            rate=config.rate,
            seed=config.seed,
            run_id=f"s{config.seed}",
        ),
        platform.api_url,
        token,
    )
    started = time.monotonic()

    def report(done: faults.Executed) -> None:
        f = done.fault
        say(
            f"chaos: fault t={done.killed_at:.2f}s SIGKILL {f.target} #{f.number} "
            f"(gap {f.gap_s:.2f}s, down {f.down_s:.2f}s, up again in {done.restart_s:.2f}s; "
            f"{load.sent} commands sent)"
        )

    targets = {name: platform.targets[name] for name in config.targets}
    plans = {t: faults.schedule(config.seed, t, config.gap_s, config.down_s) for t in targets}
    load_task = asyncio.create_task(load.run())
    executed = await faults.inject(
        plans,
        targets,
        until=load.done,
        min_faults=config.min_faults,
        started=started,
        report=report,
    )
    await load_task
    load_s = time.monotonic() - started
    counts = summary(load.outcomes)
    say(f"chaos: load done in {load_s:.1f}s: {counts}")

    quiet_since = time.monotonic()
    application = build_application(VolunteersApplication, platform.settings, "volunteers")
    try:
        # Names are stored as data-key tokens: the service's keys open them to compare.
        application.personal = PersonalData.open(platform.settings, "volunteers")
        try:
            store = await asyncio.to_thread(invariants.read_store, application)
        finally:
            application.personal.close()
    finally:
        application.close()
    published = sum(e.fingerprint is not None for e in store)
    converged_s = await _converge(platform, published, quiet_since, config.converge_timeout_s)
    stream = await read_stream(platform.settings.nats_urls, STREAM)
    readmodel = invariants.read_readmodel(
        readmodel_file(platform.settings, "volunteers"),
        projector_names(platform.settings, "volunteers")[0],
    )
    verdict = invariants.check(load.outcomes, store, stream, readmodel)
    per_target = Counter(e.fault.target for e in executed)
    say(
        f"chaos: faults={len(executed)} ("
        + ", ".join(f"{t}={per_target[t]}" for t in config.targets)
        + f"); store events={len(store)} (published {published}), "
        f"stream messages={len(stream)}, read model position={readmodel.position}"
    )
    for name, layer in (
        ("store", verdict.store),
        ("stream", verdict.stream),
        ("read model", verdict.readmodel),
    ):
        say(f"chaos: {layer.line(name)}")
        for note in layer.notes[:10]:
            say(f"chaos:   {note}")
    result = ChaosResult(verdict, converged_s, executed, load_s, counts)
    say(result.last_line())
    return result


async def _converge(
    platform: Platform,
    published: int,
    since: float,
    timeout: float,  # noqa: ASYNC109 - a polling deadline
) -> float | None:
    """Seconds until the stream holds every stored event and the read model has applied it."""
    path = readmodel_file(platform.settings, "volunteers")
    consumer = projector_names(platform.settings, "volunteers")[0]
    while time.monotonic() - since < timeout:
        with contextlib.suppress(Exception):
            async with nats_client(platform.settings.nats_urls) as nc:
                info = await nc.jetstream(timeout=5).stream_info(STREAM)
            messages, last_seq = int(info.state.messages or 0), int(info.state.last_seq or 0)
            position = invariants.readmodel_position(path, consumer)
            if messages >= published and position >= last_seq:
                return time.monotonic() - since
        await asyncio.sleep(0.2)
    return None
