"""HTTP routes of the volunteers service: parse, authorise, call the application."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, Field, field_validator

from contracts.city import city_today
from services.kit.auth import Principal
from services.kit.commands import Command, SchoolId
from services.kit.errors import ForbiddenError
from services.kit.http import Caller, IdempotencyKey, problems
from services.kit.privacy.audit import AccessRecord, Outcome
from services.kit.privacy.datakeys import ERASED, Decrypted
from services.kit.scope import covers_school
from services.volunteers.application import NameCard, VolunteersApplication
from services.volunteers.domain import PostKind, Shift, Volunteer, VolunteerKind
from services.volunteers.policy import POLICY
from services.volunteers.responses import (
    AccessLogPage,
    Attended,
    BackgroundCheckRequested,
    CheckedOut,
    Names,
    PlaceChanged,
    ShiftPublished,
    ShiftView,
    VolunteerChanged,
    VolunteerErased,
    VolunteerRegistered,
    VolunteersByName,
    VolunteerView,
)

MAX_NAMES = 100
MAX_NAMED_PAGE = 100
NAME_FIELDS = ("display_name",)
DEFAULT_PURPOSE = "names lookup"
LIST_PURPOSE = "volunteers by name"
RECORD_PURPOSE = "volunteer record"


class RegisterVolunteer(Command):
    display_name: str = Field(min_length=1, max_length=100, description="Name shown to staff.")
    kind: VolunteerKind = Field(description="parent, five-elders, youth, teacher, professional.")
    school_id: SchoolId | None = Field(default=None, description="Home school, if any.")


class RenameVolunteer(Command):
    display_name: str = Field(min_length=1, max_length=100, description="Name shown to staff.")


class EraseVolunteer(Command):
    pass


class NamesLookup(Command):
    ids: list[str] = Field(
        min_length=1, max_length=MAX_NAMES, description="Volunteer ids (UUIDs), at most 100."
    )
    purpose: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Why the names are read (kept in the access log); default: names lookup.",
    )


class RequestBackgroundCheck(Command):
    pass


class PublishShift(Command):
    school_id: SchoolId
    post: PostKind = Field(
        description="safety-post, library, after-school, lecture (escort shifts are opened by "
        "study tours)."
    )
    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(ge=1, le=500)
    child_facing: bool

    @field_validator("post")
    @classmethod
    def _not_an_escort_shift(cls, post: str) -> str:
        if post == "study-tour-escort":
            raise ValueError("escort shifts are opened by the study tours that need them")
        return post


class SignUp(Command):
    volunteer_id: UUID
    expected_version: int | None = Field(
        default=None, ge=1, description="The shift version the client last saw (409 if stale)."
    )


class Attendance(Command):
    volunteer_id: UUID
    at: AwareDatetime | None = Field(default=None, description="Defaults to now.")


async def application(request: Request) -> VolunteersApplication:
    # A coroutine: a plain function as a dependency would cost a trip through the thread pool.
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


def _record(
    app: VolunteersApplication,
    caller: Principal,
    person_ids: list[str],
    purpose: str,
    outcome: Outcome,
) -> None:
    if person_ids:
        app.privacy.log.record(
            subject=caller.subject,
            role=caller.role,
            department=caller.department,
            person_ids=person_ids,
            fields=NAME_FIELDS,
            purpose=purpose,
            outcome=outcome,
        )


@router.post("/volunteers/names", response_model=Names, responses=problems())
def volunteer_names(body: NamesLookup, caller: Caller, app: App) -> dict[str, Any]:
    """Display names of up to 100 volunteers, each read authorised and logged on its own.

    One call answers a whole page: ids the caller may read get their name (or are listed
    as erased), the others are listed as denied, ids naming no volunteer as unknown.
    Every allowed and every denied read is kept in the service's access log, the whole
    page in one append.

    The policy decides per id in the two steps of `Policy.authorize`: `admit` (role,
    department, self-service), then for staff the scope must cover the volunteer's home
    school. Only ids passing the first step are looked up (all in one go): a caller who
    may read no one gets every id back as denied, and learns nothing of which ids exist.
    """
    purpose = body.purpose or DEFAULT_PURPOSE
    names: dict[str, str] = {}
    erased: list[str] = []
    denied: list[str] = []
    unknown: list[str] = []
    # Per admitted id: its UUID (None: not one), and whether it was admitted as staff, so
    # that its volunteer's home school must still be in the caller's scope.
    admitted: dict[str, tuple[UUID | None, bool]] = {}
    order = {raw: i for i, raw in enumerate(dict.fromkeys(body.ids))}
    for raw in order:
        try:
            outright = POLICY.admit(caller, "read-volunteer", volunteer_id=raw)
        except ForbiddenError:
            denied.append(raw)
        else:
            admitted[raw] = (_uuid(raw), not outright)
    found = app.name_cards([vid for vid, _ in admitted.values() if vid is not None])
    allowed: dict[str, NameCard] = {}
    for raw, (vid, as_staff) in admitted.items():
        card = found.get(vid) if vid is not None else None
        if card is None:
            unknown.append(raw)
        elif as_staff and not covers_school(caller.scope, card.school_id):
            denied.append(raw)
        else:
            allowed[raw] = card
    for raw, name in zip(allowed, app.display_names(allowed.values()), strict=True):
        if name is ERASED:
            erased.append(raw)
        else:
            names[raw] = name
    denied.sort(key=order.__getitem__)
    records = [
        *_access_records(caller, [*names, *erased], purpose, "allowed"),
        *_access_records(caller, denied, purpose, "denied"),
    ]
    app.privacy.log.append(records)
    return {"names": names, "erased": erased, "denied": denied, "unknown": unknown}


@router.get("/volunteers", response_model=VolunteersByName, responses=problems())
def volunteers_by_name(
    caller: Caller,
    app: App,
    school_id: Annotated[SchoolId, Query(description="The school whose volunteers to list.")],
    first: Annotated[int, Query(ge=1, le=MAX_NAMED_PAGE)] = 20,
    after: Annotated[
        UUID | None, Query(description="`next_cursor` of the previous page (a volunteer id).")
    ] = None,
    purpose: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Why they are read (access log)."),
    ] = None,
) -> dict[str, Any]:
    """A school's volunteers sorted by name, paged, for staff whose scope covers the school.

    Names are the service's own, so a list in their order is the service's to give: it
    decrypts the school's names, sorts them and answers one page. Every volunteer on the
    page is a read of their name, logged (allowed) in one append per page. Viewers, and
    staff of another school, are refused (403): the order of names says something about
    the names. A refused listing names no one, so it has no one to log a read against.
    """
    POLICY.authorize(caller, "list-volunteers-by-name", school=school_id)
    page = app.volunteers_by_name(school_id, first, after)
    entries = [
        {
            "volunteer_id": str(card.id),
            "display_name": None if name is ERASED else name,
            "erased": name is ERASED,
        }
        for card, name in page.entries
    ]
    read = [str(card.id) for card, _ in page.entries]
    app.privacy.log.append(_access_records(caller, read, purpose or LIST_PURPOSE, "allowed"))
    return {
        "school_id": school_id,
        "volunteers": entries,
        "next_cursor": read[-1] if page.has_next else None,
    }


def _uuid(raw: str) -> UUID | None:
    try:
        return UUID(raw)
    except ValueError:
        return None


def _access_records(
    caller: Principal, person_ids: list[str], purpose: str, outcome: Outcome
) -> list[AccessRecord]:
    return [
        AccessRecord(
            caller.subject,
            caller.role,
            caller.department,
            person_id,
            NAME_FIELDS,
            purpose,
            outcome,
        )
        for person_id in person_ids
    ]


@router.get("/volunteers/{volunteer_id}", response_model=VolunteerView, responses=READ)
def get_volunteer(
    volunteer_id: UUID,
    caller: Caller,
    app: App,
    purpose: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Why it is read (access log)."),
    ] = None,
) -> dict[str, Any]:
    why = purpose or RECORD_PURPOSE
    try:
        POLICY.authorize(
            caller,
            "read-volunteer",
            school=_home_school(app, volunteer_id),
            volunteer_id=str(volunteer_id),
        )
    except ForbiddenError:
        _record(app, caller, [str(volunteer_id)], why, "denied")
        raise
    volunteer = app.volunteer(volunteer_id)
    view = volunteer_view(volunteer, app.display_name(volunteer))
    _record(app, caller, [str(volunteer_id)], why, "allowed")
    return view


@router.put(
    "/volunteers/{volunteer_id}/display-name",
    response_model=VolunteerChanged,
    responses=EXISTING,
)
def rename_volunteer(
    volunteer_id: UUID, body: RenameVolunteer, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(
        caller,
        "rename-volunteer",
        school=_home_school(app, volunteer_id),
        volunteer_id=str(volunteer_id),
    )
    return app.rename_volunteer(key, volunteer_id, body.display_name)


@router.post("/volunteers/{volunteer_id}/erase", response_model=VolunteerErased, responses=READ)
def erase_volunteer(
    volunteer_id: UUID, body: EraseVolunteer, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Erase the volunteer's personal data for good (idempotent); their figures stay."""
    try:
        POLICY.authorize(caller, "erase-volunteer", school=_home_school(app, volunteer_id))
    except ForbiddenError:
        _record(app, caller, [str(volunteer_id)], "erasure", "denied")
        raise
    response = app.erase_volunteer(key, volunteer_id)
    _record(app, caller, [str(volunteer_id)], "erasure", "allowed")
    return response


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


MAX_ACCESS_LOG_PAGE = 100
ACCESS_LOG_FIELDS = ("access_log",)
ACCESS_LOG_PURPOSE = "who viewed"


@router.get("/volunteers/{volunteer_id}/access-log", response_model=AccessLogPage, responses=READ)
def volunteer_access_log(
    volunteer_id: UUID,
    caller: Caller,
    app: App,
    limit: Annotated[int, Query(ge=1, le=MAX_ACCESS_LOG_PAGE)] = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the previous page."),
    ] = None,
) -> dict[str, Any]:
    """Who viewed this volunteer's personal data, newest first, refused reads included.

    For the owner's admins and coordinators in scope and for the volunteer themself.
    Who read about a person is itself about that person, so this read is logged as well
    (purpose "who viewed"), allowed or refused; it is logged after the page is taken, so
    it shows on the next read, not in its own answer.
    """
    person = str(volunteer_id)
    try:
        POLICY.authorize(
            caller,
            "read-access-log",
            school=_home_school(app, volunteer_id),
            volunteer_id=person,
        )
    except ForbiddenError:
        _record_access_log_read(app, caller, person, "denied")
        raise
    entries = app.privacy.log.who_viewed_newest(
        person, before=int(cursor) if cursor else None, limit=limit + 1
    )
    page, more = entries[:limit], len(entries) > limit
    _record_access_log_read(app, caller, person, "allowed")
    return {
        "volunteer_id": person,
        "entries": [
            {
                "seq": e.seq,
                "at": e.at,
                "subject": e.subject,
                "role": e.role,
                "department": e.department,
                "fields": list(e.fields),
                "purpose": e.purpose,
                "outcome": e.outcome,
            }
            for e in page
        ],
        "next_cursor": str(page[-1].seq) if more else None,
    }


def _record_access_log_read(
    app: VolunteersApplication, caller: Principal, person: str, outcome: Outcome
) -> None:
    app.privacy.log.record(
        subject=caller.subject,
        role=caller.role,
        department=caller.department,
        person_ids=[person],
        fields=ACCESS_LOG_FIELDS,
        purpose=ACCESS_LOG_PURPOSE,
        outcome=outcome,
    )


def volunteer_view(volunteer: Volunteer, name: Decrypted) -> dict[str, Any]:
    today = city_today()
    return {
        "volunteer_id": str(volunteer.id),
        "display_name": None if name is ERASED else name,
        "erased": name is ERASED,
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
        "booking_id": getattr(shift, "booking_id", None),
        "closed": getattr(shift, "closed_reason", None),
    }
    if include_volunteers:
        view["places"] = [{"volunteer_id": vid} | place for vid, place in shift.places.items()]
    return view
