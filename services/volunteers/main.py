"""The volunteers service as the runtime runs it: its application, API, translations, reactions."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.runtime import Reaction, Service
from services.kit.settings import Settings
from services.volunteers.api import router
from services.volunteers.application import VolunteersApplication
from services.volunteers.integration import translate
from services.volunteers.reactions import (
    POLICE_CHECKS_CONSUMER,
    STUDY_TOURS_CONSUMER,
    PoliceCheckResults,
    StudyTours,
)

VOLUNTEERS = Service(
    name="volunteers",
    title="volunteers",
    application=VolunteersApplication,
    router=router,
    translate=translate,
    reactions=(
        Reaction(
            name=POLICE_CHECKS_CONSUMER,
            subjects="evt.pol.checks.>",
            projection=PoliceCheckResults,
        ),
        Reaction(
            name=STUDY_TOURS_CONSUMER,
            subjects="evt.cult.resources.>",
            projection=StudyTours,
        ),
    ),
)


def create_service(settings: Settings) -> FastAPI:
    """The volunteers API (with the relay and reactions when the relay runs in-process)."""
    return VOLUNTEERS.create_app(settings)
