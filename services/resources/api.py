"""HTTP routes of the resources service: parse, authorise, call the application."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, Field, field_validator, model_validator

from contracts.city import load_city
from contracts.resources import OpeningHours, VenueKind, VenueList
from services.kit.auth import Principal
from services.kit.commands import Command, SchoolId
from services.kit.errors import ForbiddenError
from services.kit.http import Caller, IdempotencyKey, problems
from services.kit.scope import covers_school
from services.resources.application import ResourcesApplication
from services.resources.domain import Slot, Venue
from services.resources.policy import POLICY, VENUES_ONLY
from services.resources.responses import (
    BookingChanged,
    NoShowsReleased,
    SeriesBooked,
    SlotView,
    VenueClosed,
    VenueRegistered,
    VenueView,
)

DistrictCode = Annotated[str, Field(pattern=r"^\d{6}$")]


class RegisterVenue(Command):
    name: str = Field(min_length=1, max_length=200, description="Public name of the venue.")
    kind: VenueKind
    district: DistrictCode = Field(
        description="District: its GB/T 2260 code in the city's list (contracts/city.json)."
    )
    address: str = Field(min_length=1, max_length=300)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    owner: str = Field(
        min_length=2, max_length=10, description="Department code running the venue."
    )
    lists: list[VenueList] = Field(default_factory=list, max_length=2)
    heritage: bool = Field(default=False, description="In the study-tour heritage library.")
    capacity: int = Field(ge=1, le=5000, description="Children per slot.")
    slot_minutes: int = Field(ge=15, le=720, description="Length of a slot.")
    buffer_minutes: int = Field(
        default=0, ge=0, le=240, description="Minutes between two slots, to clear and prepare."
    )
    opening_hours: list[OpeningHours] = Field(min_length=1, max_length=7)
    age_min: int = Field(default=3, ge=0, le=25)
    age_max: int = Field(default=18, ge=0, le=25)
    quota_per_term: int | None = Field(
        default=None, ge=1, le=1000, description="Bookings per school per term (none: no quota)."
    )
    min_notice_hours: int = Field(default=0, ge=0, le=24 * 90)
    accessible: bool = False
    requires_approval: bool = Field(
        default=False, description="Bookings stay provisional until the venue approves them."
    )

    @field_validator("district")
    @classmethod
    def _a_district_of_the_city(cls, district: str) -> str:
        if district not in {d.code for d in load_city().districts}:
            raise ValueError("not a district of the city (contracts/city.json)")
        return district

    @model_validator(mode="after")
    def _hours_in_order(self) -> RegisterVenue:
        for h in self.opening_hours:
            if h.closes <= h.opens:
                raise ValueError(f"weekday {h.weekday}: closes must come after opens")
        return self


class CloseVenue(Command):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=300, description="Told to the schools.")


class BookVisit(Command):
    starts_at: AwareDatetime = Field(description="Start of one of the venue's slots.")
    school_id: SchoolId
    head_count: int = Field(ge=1, le=5000, description="Children in the class group.")
    age: int = Field(ge=0, le=25, description="Age of the children (years).")
    teachers: int = Field(default=1, ge=0, le=200)
    waitlist: bool = Field(
        default=False, description="When the slot is full, wait in order instead of a 409."
    )
    study_tour: bool = Field(
        default=False,
        description="A study tour (研学): above 40 children it needs volunteer escorts, and "
        "holds its places as awaiting-escorts until they sign up (3 days' notice at least).",
    )


class BookSeries(Command):
    starts_at: AwareDatetime = Field(description="Start of the first visit's slot.")
    weeks: int = Field(ge=2, le=20, description="Visits, one a week at the same time.")
    school_id: SchoolId
    head_count: int = Field(ge=1, le=5000, description="Children in the class group.")
    age: int = Field(ge=0, le=25, description="Age of the children (years).")
    teachers: int = Field(default=1, ge=0, le=200)


class CancelVisit(Command):
    pass


class CheckIn(Command):
    head_count: int = Field(ge=1, le=5000, description="Children who arrived.")
    at: AwareDatetime | None = Field(default=None, description="Defaults to now.")


class CompleteVisit(Command):
    head_count: int = Field(ge=1, le=5000, description="Children who took part.")
    rating: int = Field(ge=1, le=5, description="The school's rating of the visit.")
    at: AwareDatetime | None = Field(default=None, description="Defaults to now.")


class ApproveVisit(Command):
    pass


class DeclineVisit(Command):
    reason: str = Field(min_length=1, max_length=300, description="Told to the school.")


class ReleaseNoShows(Command):
    at: AwareDatetime | None = Field(default=None, description="Defaults to now.")


async def application(request: Request) -> ResourcesApplication:
    # A coroutine: a plain function as a dependency would cost a trip through the thread pool.
    return request.app.state.application


App = Annotated[ResourcesApplication, Depends(application)]
router = APIRouter(tags=["resources"])
NEW = problems(409)
EXISTING = problems(404, 409)
READ = problems(404)


def _now(value: datetime | None = None) -> datetime:
    return (value or datetime.now(UTC)).astimezone(UTC)


def _booking_school(
    app: ResourcesApplication, slot_id: UUID, booking_id: UUID
) -> Callable[[], str]:
    return lambda: str(app.slot(slot_id).booking(str(booking_id))["school_id"])


def _book_for_schools(caller: Principal) -> None:
    """Departments granted the map for their own venues do not act for schools."""
    if caller.department in VENUES_ONLY:
        raise ForbiddenError(
            f"{caller.department!r} manages its own venues here; bookings are the schools'"
        )


def _act_for_owner(caller: Principal, owner: str) -> None:
    """A granted department acts on its own venues only; the owning department on all."""
    if caller.department not in (POLICY.owner, owner):
        raise ForbiddenError(
            f"a {caller.role} of {caller.department!r} may not act for venues of {owner!r}"
        )


@router.post("/venues", status_code=201, response_model=VenueRegistered, responses=NEW)
def register_venue(body: RegisterVenue, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "register-venue")
    _act_for_owner(caller, body.owner)
    fields = body.model_dump()
    return app.register_venue(key, **fields, registered_at=_now())


@router.get("/venues/{venue_id}", response_model=VenueView, responses=READ)
def get_venue(venue_id: UUID, caller: Caller, app: App) -> dict[str, Any]:
    POLICY.authorize(caller, "read-venue")
    return venue_view(app.venue(venue_id))


@router.post("/venues/{venue_id}/closures", response_model=VenueClosed, responses=EXISTING)
def close_venue(
    venue_id: UUID, body: CloseVenue, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "close-venue")
    _act_for_owner(caller, app.venue(venue_id).owner)
    return app.close_venue(
        key, venue_id, starts_at=body.starts_at, ends_at=body.ends_at, reason=body.reason
    )


@router.post(
    "/venues/{venue_id}/bookings",
    status_code=201,
    response_model=BookingChanged,
    responses=EXISTING,
)
def book_visit(
    venue_id: UUID, body: BookVisit, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Book places on a slot for a class group, or join its waitlist (`waitlist: true`)."""
    _book_for_schools(caller)
    POLICY.authorize(caller, "book-visit", school=body.school_id)
    return app.book_visit(
        key,
        venue_id,
        starts_at=body.starts_at,
        school_id=body.school_id,
        head_count=body.head_count,
        age=body.age,
        teachers=body.teachers,
        waitlist=body.waitlist,
        now=_now(),
        study_tour=body.study_tour,
    )


@router.post(
    "/venues/{venue_id}/booking-series",
    status_code=201,
    response_model=SeriesBooked,
    responses=EXISTING,
)
def book_series(
    venue_id: UUID, body: BookSeries, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Book a class group into the same slot every week for `weeks` weeks: all or none."""
    _book_for_schools(caller)
    POLICY.authorize(caller, "book-visit", school=body.school_id)
    return app.book_series(key, venue_id, **body.model_dump(), now=_now())


@router.get(
    "/slots/{slot_id}", response_model=SlotView, response_model_exclude_none=True, responses=READ
)
def get_slot(slot_id: UUID, caller: Caller, app: App) -> dict[str, Any]:
    POLICY.authorize(caller, "read-slot")
    return slot_view(app.slot(slot_id), caller)


BOOKING = "/slots/{slot_id}/bookings/{booking_id}"


@router.post(f"{BOOKING}/cancellation", response_model=BookingChanged, responses=EXISTING)
def cancel_visit(
    slot_id: UUID,
    booking_id: UUID,
    body: CancelVisit,
    caller: Caller,
    key: IdempotencyKey,
    app: App,
) -> Any:
    """Cancel; waitlisted schools whose groups now fit are booked at once, in order."""
    _book_for_schools(caller)
    POLICY.authorize(caller, "cancel-visit", school=_booking_school(app, slot_id, booking_id))
    return app.cancel_visit(key, slot_id, str(booking_id), _now())


@router.post(f"{BOOKING}/check-in", response_model=BookingChanged, responses=EXISTING)
def check_in(
    slot_id: UUID, booking_id: UUID, body: CheckIn, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    _book_for_schools(caller)
    POLICY.authorize(caller, "check-in", school=_booking_school(app, slot_id, booking_id))
    return app.check_in(key, slot_id, str(booking_id), body.head_count, _now(body.at))


@router.post(f"{BOOKING}/completion", response_model=BookingChanged, responses=EXISTING)
def complete_visit(
    slot_id: UUID,
    booking_id: UUID,
    body: CompleteVisit,
    caller: Caller,
    key: IdempotencyKey,
    app: App,
) -> Any:
    _book_for_schools(caller)
    POLICY.authorize(caller, "complete-visit", school=_booking_school(app, slot_id, booking_id))
    return app.complete_visit(
        key,
        slot_id,
        str(booking_id),
        head_count=body.head_count,
        rating=body.rating,
        at=_now(body.at),
    )


@router.post(f"{BOOKING}/approval", response_model=BookingChanged, responses=EXISTING)
def approve_visit(
    slot_id: UUID,
    booking_id: UUID,
    body: ApproveVisit,
    caller: Caller,
    key: IdempotencyKey,
    app: App,
) -> Any:
    """Approve a provisional booking (venues that approve their bookings)."""
    POLICY.authorize(caller, "decide-booking")
    _act_for_owner(caller, app.venue(app.slot(slot_id).venue_id).owner)
    return app.approve_visit(key, slot_id, str(booking_id))


@router.post(f"{BOOKING}/decline", response_model=BookingChanged, responses=EXISTING)
def decline_visit(
    slot_id: UUID,
    booking_id: UUID,
    body: DeclineVisit,
    caller: Caller,
    key: IdempotencyKey,
    app: App,
) -> Any:
    """Decline a provisional booking; the waitlist moves up in order."""
    POLICY.authorize(caller, "decide-booking")
    _act_for_owner(caller, app.venue(app.slot(slot_id).venue_id).owner)
    return app.decline_visit(key, slot_id, str(booking_id), body.reason)


@router.post("/slots/{slot_id}/no-shows", response_model=NoShowsReleased, responses=EXISTING)
def release_no_shows(
    slot_id: UUID, body: ReleaseNoShows, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Release the places of groups that did not arrive within 30 minutes of the start."""
    POLICY.authorize(caller, "release-no-shows")
    _act_for_owner(caller, app.venue(app.slot(slot_id).venue_id).owner)
    return app.release_no_shows(key, slot_id, _now(body.at))


def venue_view(venue: Venue) -> dict[str, Any]:
    return {
        "venue_id": str(venue.id),
        "name": venue.name,
        "kind": venue.kind,
        "district": venue.district,
        "address": venue.address,
        "latitude": venue.latitude,
        "longitude": venue.longitude,
        "owner": venue.owner,
        "lists": venue.lists,
        "heritage": venue.heritage,
        "capacity": venue.capacity,
        "slot_minutes": venue.slot_minutes,
        "buffer_minutes": getattr(venue, "buffer_minutes", 0),
        "opening_hours": venue.opening_hours,
        "age_min": venue.age_min,
        "age_max": venue.age_max,
        "quota_per_term": venue.quota_per_term,
        "min_notice_hours": venue.min_notice_hours,
        "accessible": venue.accessible,
        "requires_approval": venue.requires_approval,
        "closures": [
            {
                "starts_at": c["starts_at"].isoformat(),
                "ends_at": c["ends_at"].isoformat(),
                "reason": c["reason"],
            }
            for c in venue.closures
        ],
        "version": venue.version,
    }


def slot_view(slot: Slot, caller: Principal) -> dict[str, Any]:
    view: dict[str, Any] = {
        "slot_id": str(slot.id),
        "venue_id": str(slot.venue_id),
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "capacity": slot.capacity,
        "places_left": slot.places_left,
        "closed": slot.closed_reason is not None,
        "waitlist": list(slot.waitlist),
        "version": slot.version,
    }
    try:
        POLICY.admit(caller, "book-visit")
    except ForbiddenError:
        return view  # The public facts only.
    view["bookings"] = [
        {"booking_id": booking_id} | booking
        for booking_id, booking in slot.bookings.items()
        if covers_school(caller.scope, booking["school_id"])
    ]
    return view
