"""The resources service as the runtime runs it: its application, API and translations."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.runtime import Service
from services.kit.settings import Settings
from services.resources.api import router
from services.resources.application import ResourcesApplication
from services.resources.integration import translate

RESOURCES = Service(
    name="resources",
    title="resources",
    application=ResourcesApplication,
    router=router,
    translate=translate,
)


def create_service(settings: Settings) -> FastAPI:
    """The resources API (with the relay when the relay runs in-process)."""
    return RESOURCES.create_app(settings)
