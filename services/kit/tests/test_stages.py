"""Stage notes (`services.kit.stages`): a request's way through an API by its trace id, and
what holds a whole process up (full collections, a late event loop). Off unless a folder
is named."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

import httpx
import pytest

from services.kit import stages
from services.kit.auth import JwksVerifier
from services.kit.http import create_app
from services.kit.settings import Settings

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.fixture
def noted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stage notes on, into a folder of the test's own; the notes' file."""
    monkeypatch.setattr(stages, "_folder", str(tmp_path / "stages"))
    monkeypatch.setattr(stages, "_file", None)
    return tmp_path / "stages"


def lines(folder: Path) -> list[list[str]]:
    return [
        line.split(" ")
        for path in folder.glob("*.stages")
        for line in path.read_text().splitlines()
    ]


async def ready() -> dict[str, object]:
    return {}


def probe_app(folder: Path) -> httpx.AsyncClient:
    app = create_app(
        title="probe",
        settings=Settings(state_dir=folder),
        readiness=ready,
        verifier=JwksVerifier(str(folder / "jwks.json"), issuer="i", audience="a"),
    )

    @app.get("/work")
    def work() -> dict[str, str]:
        stages.record_request("handler")
        return {}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")


async def test_a_request_is_noted_under_its_callers_trace_id(noted: Path, tmp_path: Path) -> None:
    async with probe_app(tmp_path) as http:
        assert (await http.get("/work", headers={"traceparent": TRACEPARENT})).status_code == 200
        assert (await http.get("/work")).status_code == 200  # no trace id of its own: no note
    notes = lines(noted)
    traced = [(stage, float(at)) for stage, key, at in notes if key == TRACE_ID]
    assert [stage for stage, _ in traced] == ["request", "handler", "response"]
    assert [at for _, at in traced] == sorted(at for _, at in traced)
    # The server notes only requests that name their trace; the other one's handler ran
    # under a trace id of its own.
    assert [stage for stage, key, _ in notes if key != TRACE_ID] == ["handler"]


async def test_nothing_is_noted_or_watched_when_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stages, "_folder", "")
    callbacks = list(gc.callbacks)
    async with probe_app(tmp_path) as http:
        await http.get("/work", headers={"traceparent": TRACEPARENT})
    async with stages.watch_pauses():
        assert gc.callbacks == callbacks
        gc.collect()
    assert not lines(tmp_path)


async def test_full_collections_and_a_late_loop_are_noted(noted: Path) -> None:
    callbacks = list(gc.callbacks)
    async with stages.watch_pauses():
        await asyncio.sleep(0)  # the loop probe's timer is set
        gc.collect()
        await asyncio.sleep(0.02)  # the probe beats again
        # Holds the event loop: the probe's 5 ms timer runs 295 ms late or more, and the
        # watcher finds the loop's thread here.
        time.sleep(0.3)  # noqa: ASYNC251
        await asyncio.sleep(0.02)
    assert gc.callbacks == callbacks
    notes = lines(noted)
    collections = [key.split(":") for stage, key, _ in notes if stage == "gc2"]
    assert collections and all(len(figures) == 5 for figures in collections)
    late = [float(key) for stage, key, _ in notes if stage == "loop-late"]
    assert late and max(late) >= 295
    stuck = [key for stage, key, _ in notes if stage == "loop-stuck"]
    # Where the loop's thread was: in this test (or in the collection it started).
    assert stuck and all("test_stages.py:" in where for where in stuck)
    assert any(where.startswith("test_stages.py:") for where in stuck)
