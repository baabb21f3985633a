"""The care service as the runtime runs it: its application, API, translations, reactions."""

from __future__ import annotations

from fastapi import FastAPI

from services.care.api import router
from services.care.application import CareApplication
from services.care.integration import translate
from services.care.reactions import (
    CIVIL_REFERRALS_CONSUMER,
    SCREENINGS_CONSUMER,
    VOLUNTEER_CHECKS_CONSUMER,
    SealedReferrals,
    VolunteerChecks,
)
from services.kit.runtime import Reaction, Service
from services.kit.settings import Settings

CARE = Service(
    name="care",
    title="care",
    application=CareApplication,
    router=router,
    translate=translate,
    reactions=(
        Reaction(
            name=CIVIL_REFERRALS_CONSUMER, subjects="evt.civ.registry.>", projection=SealedReferrals
        ),
        Reaction(
            name=SCREENINGS_CONSUMER, subjects="evt.hlth.screening.>", projection=SealedReferrals
        ),
        Reaction(
            name=VOLUNTEER_CHECKS_CONSUMER,
            subjects="evt.cyl.volunteers.>",
            projection=VolunteerChecks,
        ),
    ),
)


def create_service(settings: Settings) -> FastAPI:
    """The care API (with the relay and reactions when the relay runs in-process)."""
    return CARE.create_app(settings)
