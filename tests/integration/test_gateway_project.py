"""`python -m gateway project`: the projector alone, feeding a read model another gateway reads."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import gateway.__main__ as gateway_main
from contracts.events import ContractEvent
from gateway.core.projector import create_projectors
from gateway.features import projector_names, readmodel_file
from gateway.main import create_gateway
from gateway.tests.support import T0, published, registered, volunteers_of
from gateway.volunteers.readmodel import VolunteersReadModel
from services.kit import bus
from services.kit.auth import DevIssuer
from services.kit.bus import DEAD_LETTER_STREAM
from services.kit.settings import Settings
from services.kit.wire import envelope_for
from tests.support.streams import StoredMessage, nats_client, read_stream, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.nats

REPO = Path(__file__).resolve().parents[2]
CONSUMER = "gateway-volunteers-compose"


async def publish(settings: Settings, *events: ContractEvent) -> None:
    """Put events on the volunteers stream the way the relay does."""
    async with nats_client(settings.nats_urls) as nc:
        js = nc.jetstream(timeout=5)
        await bus.ensure_stream(js, "volunteers", settings)
        for event in events:
            envelope = envelope_for(
                event, id=str(uuid.uuid4()), source="/volunteers", subject=None, time=T0
            )
            await js.publish(
                envelope.nats_subject(), envelope.payload(), headers=envelope.headers()
            )


def stored_position(settings: Settings) -> int:
    """What the projector has applied, read from the file as another process would."""
    path = readmodel_file(settings, "volunteers")
    if not path.exists():
        return 0
    readmodel = VolunteersReadModel(path).open_shared()
    try:
        return readmodel.position(projector_names(settings, "volunteers")[0])
    finally:
        readmodel.close()


@pytest.fixture
def settings(tmp_path: Path, nats_url: str, dev_issuer: DevIssuer) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        nats_urls=nats_url,
        auth_jwks_url=str(dev_issuer.jwks_path),
        gateway_instance="compose",
        gateway_projector=False,
    )


async def test_a_gateway_without_projector_reads_what_the_projector_applies(
    settings: Settings, dev_issuer: DevIssuer
) -> None:
    await publish(settings, registered("v1", "Li Wei"), published("s1"))
    stop = asyncio.Event()
    projecting = asyncio.create_task(gateway_main.project(settings, stop))
    try:
        app = create_gateway(settings, start_projector=settings.gateway_projector)
        assert volunteers_of(app).projectors == ()
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as client,
        ):
            token = dev_issuer.token(role="coordinator", subject="coord-1")

            async def shift_titles() -> list[str]:
                response = await client.post(
                    "/graphql",
                    json={"query": "{ shifts(first: 5) { edges { node { title } } } }"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 200, response.text
                edges = response.json()["data"]["shifts"]["edges"]
                return [edge["node"]["title"] for edge in edges]

            assert await eventually(shift_titles, timeout=20) == ["Gate s1"]

            await publish(settings, published("s2", day=1))
            await eventually(lambda: stored_position(settings) == 3, timeout=20)
            ready = (await client.get("/readyz")).json()
            assert ready["ready"] is True
            assert ready["checks"]["readmodel:volunteers"] == {
                "ok": True,
                "positions": {"gateway-volunteers-compose": 3},
            }
    finally:
        stop.set()
        await asyncio.wait_for(projecting, timeout=15)


def test_serve_leaves_the_projector_out_when_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dev_issuer: DevIssuer
) -> None:
    served: list[FastAPI] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    common: dict[str, Any] = {"state_dir": tmp_path, "auth_jwks_url": str(dev_issuer.jwks_path)}

    gateway_main.serve(Settings(**common, gateway_projector=False))
    gateway_main.serve(Settings(**common))

    without, with_projector = served
    assert volunteers_of(without).projectors == ()
    assert [p.name for p in volunteers_of(with_projector).projectors] == ["gateway-volunteers"]


async def test_the_project_command_runs_until_sigterm(settings: Settings) -> None:
    await publish(settings, registered("v1", "Li Wei"), registered("v2", "Wang Fang"))
    env = {
        **os.environ,
        "TONGXIN_STATE_DIR": str(settings.state_dir),
        "TONGXIN_NATS_URLS": settings.nats_urls,
        "TONGXIN_GATEWAY_INSTANCE": settings.gateway_instance,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "project",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await eventually(lambda: stored_position(settings) == 2, timeout=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0, stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def dead_letters_of(settings: Settings, consumer: str) -> list[StoredMessage]:
    try:
        letters = await read_stream(settings.nats_urls, DEAD_LETTER_STREAM)
    except Exception:  # noqa: BLE001 - the stream may not exist yet
        return []
    return [m for m in letters if m.headers.get("tongxin-dlq-consumer") == consumer]


async def test_a_locked_read_model_is_waited_for_never_dead_lettered(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holding the file's write lock is transient: retried in order."""
    settings = settings.model_copy(update={"consumer_max_deliver": 2})
    path = readmodel_file(settings, "volunteers")
    readmodel = VolunteersReadModel(path, busy_timeout_s=0.05).open()
    [projector] = create_projectors("volunteers", ["evt.cyl.volunteers.>"], readmodel, settings)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # What a second writer (a rebuild, a backup) holds.
    try:
        await publish(settings, registered("v1", "Li Wei"), published("s1"))
        async with running(projector.run):

            def failures() -> int:
                return sum("failed" in r.getMessage() for r in caplog.records)

            # Many more deliveries than max_deliver, all held back, none dead-lettered.
            await eventually(lambda: failures() >= 4, timeout=30)
            assert await dead_letters_of(settings, projector.name) == []
            assert readmodel.position(projector.name) == 0

            locker.execute("COMMIT")
            await eventually(lambda: readmodel.position(projector.name) == 2, timeout=30)
        assert readmodel.shift("s1") is not None
        assert await dead_letters_of(settings, projector.name) == []
    finally:
        locker.close()
        readmodel.close()


async def test_rebuild_replays_only_the_feature_asked_for(settings: Settings) -> None:
    await publish(settings, registered("v1", "Li Wei"), published("s1"))
    settings = settings.model_copy(update={"gateway_instance": ""})
    assert await gateway_main.rebuild(settings, features=["volunteers"], timeout_s=60) == {
        "gateway-volunteers": 2
    }
    assert stored_position(settings) == 2
    with pytest.raises(ValueError, match="no gateway feature named trial"):
        await gateway_main.rebuild(settings, features=["trial"])


async def test_readiness_has_a_projector_check_per_feature(
    settings: Settings, dev_issuer: DevIssuer
) -> None:
    await publish(settings, registered("v1", "Li Wei"), published("s1"))
    app = create_gateway(settings, start_projector=True, max_lag=100)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as client,
    ):

        async def caught_up() -> dict[str, Any] | None:
            checks: dict[str, Any] = (await client.get("/readyz")).json()["checks"]
            projector = checks.get("projector:volunteers", {})
            return checks if projector.get("positions", {}).get(CONSUMER) == 2 else None

        checks = await eventually(caught_up, timeout=20)
        volunteers = {k: v for k, v in checks.items() if k.endswith(":volunteers")}
        assert volunteers == {
            "readmodel:volunteers": {"ok": True},
            "projector:volunteers": {"ok": True, "pending": 0, "positions": {CONSUMER: 2}},
        }
        assert {k.split(":")[0] for k in checks} == {"readmodel", "projector"}
