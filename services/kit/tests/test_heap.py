"""A process's start-up heap is frozen out of full collections (`services.kit.heap`), after
its first-use work is done (`services.kit.warmup`)."""

from __future__ import annotations

import contextlib
import gc
import weakref
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import APIRouter, FastAPI

from services.kit.heap import settle, settle_after_startup
from services.kit.warmup import warm_up


class Thing:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    # The test process builds apps over and over: nothing of it stays frozen.
    try:
        yield
    finally:
        gc.unfreeze()


def tracked(thing: object) -> bool:
    """Whether the collector would still go through `thing` (frozen objects it skips)."""
    return any(candidate is thing for candidate in gc.get_objects())


def test_settle_frees_the_garbage_and_freezes_the_rest(unfrozen: None) -> None:
    kept = Thing()
    dropped = weakref.ref(Thing())
    assert tracked(kept)
    settle()
    assert dropped() is None  # collected, not frozen with the living
    assert not tracked(kept)
    assert gc.get_freeze_count() > 0
    made_after = Thing()
    assert tracked(made_after)  # only what was there at settling is frozen


async def test_an_app_settles_once_its_lifespan_has_started(unfrozen: None) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.cache = Thing()
        events.append("started")
        yield
        events.append("stopped")

    app = FastAPI(lifespan=lifespan)
    settle_after_startup(app)
    async with app.router.lifespan_context(app):
        assert events == ["started"]
        assert not tracked(app.state.cache)  # made by the start-up, then frozen
    assert events == ["started", "stopped"]


async def test_the_warm_up_walks_the_routes_without_running_any() -> None:
    ran: list[str] = []
    router = APIRouter()

    @router.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        ran.append(thing_id)
        return {}

    app = FastAPI()
    app.include_router(router)
    assert await warm_up(app) == 404
    assert ran == []
