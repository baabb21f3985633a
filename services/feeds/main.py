"""The feeds service as the runtime runs it: its application, API, translations, reactions,
and the webhook dispatcher (where the relay runs: exactly one)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.feeds.api import router
from services.feeds.application import FeedsApplication
from services.feeds.dispatcher import Dispatcher
from services.feeds.integration import translate
from services.feeds.reactions import reactions
from services.kit.runtime import Background, Service, Work
from services.kit.settings import Settings


def _dispatcher(app: Any) -> Work:
    return Dispatcher(app).run


FEEDS = Service(
    name="feeds",
    title="partner feeds",
    application=FeedsApplication,
    router=router,
    translate=translate,
    reactions=reactions(),
    background=(Background(name="dispatcher", work=_dispatcher),),
)


def create_service(settings: Settings) -> FastAPI:
    """The feeds API (with relay, reactions and dispatcher when the relay runs in-process)."""
    return FEEDS.create_app(settings)
