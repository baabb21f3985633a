"""The service runtime: workers stop together, stores always close, reactions follow the relay."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import APIRouter

from contracts.platform import ManifestError
from services.kit.backoff import Backoff
from services.kit.runtime import Reaction, Service, Workers
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from services.volunteers.integration import translate
from services.volunteers.main import VOLUNTEERS, create_service
from services.volunteers.reactions import PoliceCheckResults
from tests.support.apps import running


def settings(tmp_path: Path, **update: object) -> Settings:
    return Settings(
        state_dir=tmp_path,
        auth_dev=True,
        nats_urls="nats://127.0.0.1:1",  # nobody: the workers keep retrying
    ).model_copy(update=update)


async def test_closing_no_workers_is_fine() -> None:
    workers = Workers()
    assert await workers.close() == []
    assert workers.stop.is_set()


async def test_workers_that_outstay_the_grace_are_cancelled_and_failures_named() -> None:
    workers = Workers(grace_s=0.2)

    async def stubborn(_: asyncio.Event) -> None:
        await asyncio.sleep(60)

    async def failing(stop: asyncio.Event) -> None:
        await stop.wait()
        raise ValueError("broken on the way out")

    workers.start("stubborn", stubborn)
    workers.start("failing", failing)
    failures = await workers.close()
    assert [(name, str(error)) for name, error in failures] == [
        ("failing", "broken on the way out")
    ]


async def test_a_crashed_worker_ends_the_others_and_is_raised() -> None:
    workers = Workers()
    stopped: list[str] = []

    async def crashes(_: asyncio.Event) -> None:
        raise OSError("disk gone")

    async def waits(stop: asyncio.Event) -> None:
        await stop.wait()
        stopped.append("waits")

    workers.start("waits", waits)
    workers.start("crashes", crashes)
    with pytest.raises(RuntimeError, match="crashes failed: disk gone"):
        await workers.run_until_one_ends()
    assert stopped == ["waits"]


async def test_backoff_doubles_up_to_its_cap_and_stops_at_once() -> None:
    backoff = Backoff(first=0.01, cap=0.03)
    stop = asyncio.Event()
    delays = []
    for _ in range(4):
        delays.append(backoff.delay)
        await backoff.wait(stop)
    assert delays == [0.01, 0.02, 0.03, 0.03]
    stop.set()
    slow = Backoff(first=30.0)
    await asyncio.wait_for(slow.wait(stop), 1.0)


async def test_an_api_without_workers_still_closes_its_store(tmp_path: Path) -> None:
    # The production shape: the relay (and so the reactions) run in their own process.
    app = create_service(settings(tmp_path, relay_in_process=False))
    async with running(app) as client:
        ready = (await client.get("/readyz")).json()
        assert ready["ready"] is True
        assert set(ready["checks"]) == {"store"}  # no relay, no reaction, no NATS here
    assert app.state.application.closing.is_set()


def test_reactions_must_match_the_manifest() -> None:
    assert [r.subjects for r in VOLUNTEERS.reactions] == [
        "evt.pol.checks.>",
        "evt.cult.resources.>",
    ]
    with pytest.raises(ManifestError, match="reacts to"):
        Service(
            name="volunteers",
            title="volunteers",
            application=VolunteersApplication,
            router=APIRouter(),
            translate=translate,
            reactions=(
                Reaction(name="x", subjects="evt.edu.care.>", projection=PoliceCheckResults),
            ),
        )


def test_only_a_service_of_the_manifest_gets_the_service_runtime() -> None:
    with pytest.raises(ManifestError, match="not a service"):
        Service(
            name="ingest",
            title="ingest",
            application=VolunteersApplication,
            router=APIRouter(),
            translate=translate,
        )
    with pytest.raises(LookupError, match="no process named"):
        Service(
            name="parks",
            title="parks",
            application=VolunteersApplication,
            router=APIRouter(),
            translate=translate,
        )
