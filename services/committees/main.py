"""The committees service as the runtime runs it: its application, API, translations and
reactions (departments' progress reports on action items)."""

from __future__ import annotations

from fastapi import FastAPI

from services.committees.api import router
from services.committees.application import CommitteesApplication
from services.committees.integration import translate
from services.committees.reactions import REACTIONS
from services.kit.runtime import Service
from services.kit.settings import Settings

COMMITTEES = Service(
    name="committees",
    title="committees",
    application=CommitteesApplication,
    router=router,
    translate=translate,
    reactions=REACTIONS,
)


def create_service(settings: Settings) -> FastAPI:
    """The committees API (with the relay and the deadline runner when in-process)."""
    return COMMITTEES.create_app(settings)
