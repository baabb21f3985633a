"""The alliance service as the runtime runs it: its application, API, translations and the
reactions measuring every boundary the manifest lists."""

from __future__ import annotations

from fastapi import FastAPI

from services.alliance.api import router
from services.alliance.application import AllianceApplication
from services.alliance.integration import translate
from services.alliance.reactions import measured_boundaries
from services.kit.runtime import Service
from services.kit.settings import Settings

ALLIANCE = Service(
    name="alliance",
    title="alliance",
    application=AllianceApplication,
    router=router,
    translate=translate,
    reactions=measured_boundaries(),
)


def create_service(settings: Settings) -> FastAPI:
    """The alliance API (with the relay and reactions when the relay runs in-process)."""
    return ALLIANCE.create_app(settings)
