"""HTTP routes of the volunteers service: parse, authorise, call the application."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, Field

from services.kit.commands import Command, SchoolId
from services.kit.http import Caller, IdempotencyKey, problems
from services.volunteers.application import VolunteersApplication
from services.volunteers.domain import PostKind, Shift, Volunteer, VolunteerKind
from services.volunteers.policy import POLICY
from services.volunteers.responses import (
    Attended,
    BackgroundCheckRequested,
    CheckedOut,
    PlaceChanged,
    ShiftPublished,
    ShiftView,
    VolunteerRegistered,
    VolunteerView,
)


class RegisterVolunteer(Command):
    display_name: str = Field(min_length=1, max_length=100, description="Name shown to staff.")
    kind: VolunteerKind = Field(description="parent, five-elders, youth, teacher, professional.")
    school_id: SchoolId | None = Field(default=None, description="Home school, if any.")


class RequestBackgroundCheck(Command):
    pass


class PublishShift(Command):
    school_id: SchoolId
    post: PostKind = Field(description="safety-post, library, after-school, lecture.")
    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(ge=1, le=500)
    child_facing: bool


class SignUp(Command):
    volunteer_id: UUID
    expected_version: int | None = Field(
        default=None, ge=1, description="The shift version the client last saw (409 if stale)."
    )


class Attendance(Command):
    volunteer_id: UUID
    at: AwareDatetime | None = Field(default=None, description="Defaults to now.")


def application(request: Request) -> VolunteersApplication:
    return request.app.state.application


App = Annotated[VolunteersApplication, Depends(application)]
router = APIRouter(tags=["volunteers"])
# Commands may conflict with concurrent ones (409); those naming an aggregate may not find it.
NEW = problems(409)
EXISTING = problems(404, 409)
READ = problems(404)


def _home_school(app: VolunteersApplication, volunteer_id: UUID) -> Callable[[], str | None]:
    return lambda: app.volunteer(volunteer_id).school_id


def _shift_school(app: VolunteersApplication, shift_id: UUID) -> Callable[[], str | None]:
    return lambda: app.shift(shift_id).school_id


def _at(value: datetime | None) -> datetime:
    return (value or datetime.now(UTC)).astimezone(UTC)


@router.post("/volunteers", status_code=201, response_model=VolunteerRegistered, responses=NEW)
def register_volunteer(
    body: RegisterVolunteer, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "register-volunteer", school=body.school_id)
    return app.register_volunteer(
        key, display_name=body.display_name, kind=body.kind, school_id=body.school_id
    )


@router.get("/volunteers/{volunteer_id}", response_model=VolunteerView, responses=READ)
def get_volunteer(volunteer_id: UUID, caller: Caller, app: App) -> dict[str, Any]:
    POLICY.authorize(
        caller,
        "read-volunteer",
        school=_home_school(app, volunteer_id),
        volunteer_id=str(volunteer_id),
    )
    return volunteer_view(app.volunteer(volunteer_id))


@router.post(
    "/volunteers/{volunteer_id}/background-checks",
    status_code=202,
    response_model=BackgroundCheckRequested,
    responses=EXISTING,
)
def request_background_check(
    volunteer_id: UUID, body: RequestBackgroundCheck, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "request-background-check", school=_home_school(app, volunteer_id))
    return app.request_background_check(key, volunteer_id)


@router.post("/shifts", status_code=201, response_model=ShiftPublished, responses=NEW)
def publish_shift(body: PublishShift, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "publish-shift", school=body.school_id)
    return app.publish_shift(key, **body.model_dump())


@router.get(
    "/shifts/{shift_id}", response_model=ShiftView, response_model_exclude_none=True, responses=READ
)
def get_shift(shift_id: UUID, caller: Caller, app: App) -> dict[str, Any]:
    POLICY.authorize(caller, "read-shift", school=_shift_school(app, shift_id))
    return shift_view(app.shift(shift_id), include_volunteers=caller.role != "volunteer")


@router.post("/shifts/{shift_id}/sign-ups", response_model=PlaceChanged, responses=EXISTING)
def sign_up(shift_id: UUID, body: SignUp, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(
        caller,
        "sign-up",
        school=_shift_school(app, shift_id),
        volunteer_id=str(body.volunteer_id),
    )
    return app.sign_up(key, shift_id, body.volunteer_id, body.expected_version)


@router.post("/shifts/{shift_id}/cancellations", response_model=PlaceChanged, responses=EXISTING)
def cancel_sign_up(
    shift_id: UUID, body: SignUp, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(
        caller,
        "cancel-sign-up",
        school=_shift_school(app, shift_id),
        volunteer_id=str(body.volunteer_id),
    )
    return app.cancel_sign_up(key, shift_id, body.volunteer_id, body.expected_version)


@router.post("/shifts/{shift_id}/check-ins", response_model=Attended, responses=EXISTING)
def check_in(
    shift_id: UUID, body: Attendance, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "check-in", school=_shift_school(app, shift_id))
    return app.check_in(key, shift_id, body.volunteer_id, _at(body.at))


@router.post("/shifts/{shift_id}/check-outs", response_model=CheckedOut, responses=EXISTING)
def check_out(
    shift_id: UUID, body: Attendance, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "check-out", school=_shift_school(app, shift_id))
    return app.check_out(key, shift_id, body.volunteer_id, _at(body.at))


def volunteer_view(volunteer: Volunteer) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    return {
        "volunteer_id": str(volunteer.id),
        "display_name": volunteer.display_name,
        "kind": volunteer.kind,
        "school_id": volunteer.school_id,
        "check": {
            "status": volunteer.check_status_on(today),
            "check_id": volunteer.check_id,
            "expires_on": volunteer.check_expires_on,
        },
        "hours": volunteer.hours,
        "version": volunteer.version,
    }


def shift_view(shift: Shift, *, include_volunteers: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "shift_id": str(shift.id),
        "school_id": shift.school_id,
        "post": shift.post,
        "title": shift.title,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "capacity": shift.capacity,
        "child_facing": shift.child_facing,
        "places_filled": shift.places_filled,
        "places_left": shift.places_left,
        "version": shift.version,
    }
    if include_volunteers:
        view["places"] = [{"volunteer_id": vid} | place for vid, place in shift.places.items()]
    return view
