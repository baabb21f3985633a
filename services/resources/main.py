"""The resources service as the runtime runs it: its application, API, translations, reactions."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.runtime import Reaction, Service
from services.kit.settings import Settings
from services.resources.api import router
from services.resources.application import ResourcesApplication
from services.resources.integration import translate
from services.resources.reactions import (
    ESCORTS_CONSUMER,
    SCIENCE_VENUES_CONSUMER,
    EscortShifts,
    ScienceVenues,
)

RESOURCES = Service(
    name="resources",
    title="resources",
    application=ResourcesApplication,
    router=router,
    translate=translate,
    reactions=(
        Reaction(
            name=ESCORTS_CONSUMER,
            subjects="evt.cyl.volunteers.escort-shift-filled",
            projection=EscortShifts,
        ),
        Reaction(
            name=SCIENCE_VENUES_CONSUMER,
            subjects="evt.sci.science.venue-published",
            projection=ScienceVenues,
        ),
    ),
)


def create_service(settings: Settings) -> FastAPI:
    """The resources API (with the relay when the relay runs in-process)."""
    return RESOURCES.create_app(settings)
