"""The courses service as the runtime runs it: its application, API, translations, reactions."""

from __future__ import annotations

from fastapi import FastAPI

from services.courses.api import router
from services.courses.application import CoursesApplication
from services.courses.integration import translate
from services.courses.reactions import GUIDANCE_CONSUMER, GuidanceInspections
from services.kit.runtime import Reaction, Service
from services.kit.settings import Settings

COURSES = Service(
    name="courses",
    title="courses",
    application=CoursesApplication,
    router=router,
    translate=translate,
    reactions=(
        Reaction(
            name=GUIDANCE_CONSUMER, subjects="evt.wf.guidance.>", projection=GuidanceInspections
        ),
    ),
)


def create_service(settings: Settings) -> FastAPI:
    """The courses API (with the relay and reactions when the relay runs in-process)."""
    return COURSES.create_app(settings)
