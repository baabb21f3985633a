"""Events published by the resources service, the city-wide learning map (owned by `cult`).

Venues are public places and say so in public text (name, address). A booking is a
school's class group: the school's code, head counts, the children's age and the number
of teachers, never who they are. Every booking event names its slot, venue and start,
so a reader can place it without having seen the slot before (tolerant readers).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from contracts.city import CITY_TZ as CITY_TZ
from contracts.events import ContractEvent, classified
from contracts.measures import measurable

VenueKind = Literal[
    "museum",
    "science-museum",
    "library",
    "university",
    "enterprise",
    "hospital",
    "police-station",
    "community-centre",
    "memorial",
    "heritage-site",
    "school-facility",
]
VenueList = Literal["practice-base", "course-development"]
CancelReason = Literal["school-cancelled", "venue-closed", "escorts-not-found"]

_SLOT_ID = "Slot id (UUID, derived from the venue and the slot's start)."
_BOOKING_ID = "Booking id (UUID)."
_VENUE_ID = "Venue id (UUID)."
_SCHOOL_ID = "The booking school's code."
_STARTS_AT = "Start of the slot."
_PLACES_LEFT = "Places left on the slot after this change."


class OpeningHours(BaseModel):
    """Opening hours on one weekday, local time of the city."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weekday: int = Field(ge=1, le=7, description="ISO weekday: 1 Monday … 7 Sunday.")
    opens: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM.")
    closes: str = Field(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$", description="HH:MM.")


def slot_id(venue_id: UUID | str, starts_at: datetime) -> UUID:
    """The id of a venue's slot starting then: readers can name a slot no event told them of."""
    moment = starts_at.astimezone(UTC).isoformat()
    return uuid5(NAMESPACE_URL, f"tongxin:resources:slot:{UUID(str(venue_id))}:{moment}")


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def slot_starts_on(
    opening_hours: Iterable[OpeningHours], slot_minutes: int, day: date, buffer_minutes: int = 0
) -> Iterator[datetime]:
    """The starts of a venue's slots on a day: from opening, one slot after another with the
    venue's buffer between two (to clear and prepare the rooms), each ending by closing time
    (the venue's slots as every reader computes them)."""
    for hours in opening_hours:
        if hours.weekday != day.isoweekday():
            continue
        minute, closes = _minutes(hours.opens), _minutes(hours.closes)
        midnight = datetime.combine(day, time(0, 0), CITY_TZ)
        while minute + slot_minutes <= closes:
            yield midnight + timedelta(minutes=minute)
            minute += slot_minutes + buffer_minutes


class _ResourcesEvent(ContractEvent):
    boundary = "resources"


class VenueRegistered(_ResourcesEvent):
    """A venue or practice base was put on the learning map."""

    event_name = "venue-registered"
    venue_id: str = classified("id", _VENUE_ID)
    name: str = classified("public-text", "The venue's public name.")
    kind: VenueKind = classified("code", "Kind of venue.")
    district: str = classified("code", "District: GB/T 2260 code, as in contracts/city.json.")
    address: str = classified("public-text", "Street address.")
    latitude: float = classified("fact", "WGS 84 latitude.", ge=-90, le=90)
    longitude: float = classified("fact", "WGS 84 longitude.", ge=-180, le=180)
    owner: str = classified("code", "Department (code) that runs the venue on the map.")
    lists: list[VenueList] = classified("code", "Official lists the venue is on.")
    heritage: bool = classified("fact", "In the study-tour library of heritage sites.")
    capacity: int = classified("fact", "Children per slot.", ge=1)
    slot_minutes: int = classified("fact", "Length of a slot in minutes.", ge=15)
    buffer_minutes: int = classified(
        "fact",
        "Minutes between two slots, to clear and prepare (0: back to back).",
        ge=0,
        default=0,
    )
    opening_hours: list[OpeningHours] = classified("fact", "Weekly opening hours.")
    age_min: int = classified("fact", "Youngest suitable age (years).", ge=0)
    age_max: int = classified("fact", "Oldest suitable age (years).", ge=0)
    quota_per_term: int | None = classified(
        "fact", "Bookings one school may hold per term (null: no quota).", default=None
    )
    min_notice_hours: int = classified("fact", "Hours of notice a booking needs.", ge=0)
    accessible: bool = classified("fact", "Step-free access for wheelchairs.")
    registered_at: datetime = classified("time", "When the venue was registered.")
    requires_approval: bool = classified(
        "fact", "Bookings are provisional until the venue approves them.", default=False
    )


class VenueClosed(_ResourcesEvent):
    """A venue is closed for a period (a blackout); bookings in it are cancelled."""

    event_name = "venue-closed"
    venue_id: str = classified("id", _VENUE_ID)
    starts_at: datetime = classified("time", "Start of the closure.")
    ends_at: datetime = classified("time", "End of the closure.")
    reason: str = classified("public-text", "Why, as told to the schools.")


class _VisitEvent(_ResourcesEvent):
    """What every event about a booking starts with: the booking, its slot, its venue."""

    booking_id: str = classified("id", _BOOKING_ID)
    slot_id: str = classified("id", _SLOT_ID)
    venue_id: str = classified("id", _VENUE_ID)


class _SchoolVisitEvent(_VisitEvent):
    school_id: str = classified("code", _SCHOOL_ID)


class _SlotRequest(_VisitEvent):
    """A school's request for places on a slot, booked or waitlisted."""

    starts_at: datetime = classified("time", _STARTS_AT)
    ends_at: datetime = classified("time", "End of the slot.")
    capacity: int = classified("fact", "Children per slot.", ge=1)
    school_id: str = classified("code", _SCHOOL_ID)


class VisitBooked(_SlotRequest):
    """A school holds places on a slot (booked directly, or from the waitlist)."""

    event_name = "visit-booked"
    head_count: int = classified("fact", "Children booked.", ge=1)
    age: int = classified("fact", "Age of the children (years).", ge=0)
    teachers: int = classified("fact", "Teachers accompanying them.", ge=0)
    from_waitlist: bool = classified("fact", "True when a freed place booked it automatically.")
    places_left: int = classified("fact", _PLACES_LEFT, ge=0)
    approved: bool = classified(
        "fact",
        "False while the venue has still to approve it: the places are held meanwhile.",
        default=True,
    )
    series_id: str | None = classified(
        "id", "The weekly series the booking belongs to, if any.", default=None
    )
    awaiting_escorts: bool = classified(
        "fact",
        "True while the study tour waits for its volunteer escorts: the places are held "
        "meanwhile (escorts-requested, then study-tour-confirmed or visit-cancelled).",
        default=False,
    )


class VisitWaitlisted(_SlotRequest):
    """A school asked for a full slot and waits, in order, for places to free up."""

    event_name = "visit-waitlisted"
    head_count: int = classified("fact", "Children asked for.", ge=1)
    age: int = classified("fact", "Age of the children (years).", ge=0)
    teachers: int = classified("fact", "Teachers accompanying them.", ge=0)
    position: int = classified("fact", "Place in the waitlist (1: next).", ge=1)


class VisitCancelled(_VisitEvent):
    """A booking or waitlist entry was cancelled: by its school, or by a venue closure."""

    event_name = "visit-cancelled"
    starts_at: datetime = classified("time", _STARTS_AT)
    school_id: str = classified("code", _SCHOOL_ID)
    reason: CancelReason = classified(
        "code", "Why: the school cancelled, the venue closed, or no escorts signed up in time."
    )
    detail: str = classified(
        "public-text", "What the school is told (the closure's reason, the escorts' deadline)."
    )
    places_left: int = classified("fact", _PLACES_LEFT, ge=0)


class VisitApproved(_SchoolVisitEvent):
    """The venue approved a provisional booking."""

    event_name = "visit-approved"


class VisitDeclined(_SchoolVisitEvent):
    """The venue declined a provisional booking; its places are free again."""

    event_name = "visit-declined"
    reason: str = classified("public-text", "Why, as told to the school.")
    places_left: int = classified("fact", _PLACES_LEFT, ge=0)


class VisitCheckedIn(_SchoolVisitEvent):
    """A booked class group arrived at the venue."""

    event_name = "visit-checked-in"
    head_count: int = classified("fact", "Children who arrived.", ge=1)
    at: datetime = classified("time", "Arrival time.")


@measurable(at="at", school="school_id", unit="venue_id", quantity="head_count")
class VisitCompleted(_SchoolVisitEvent):
    """A visit ended with its head count and the school's rating."""

    event_name = "visit-completed"
    head_count: int = classified("fact", "Children who took part.", ge=1)
    rating: int = classified("fact", "The school's rating, 1 to 5.", ge=1, le=5)
    at: datetime = classified("time", "When the visit was completed.")


class VisitReleased(_SchoolVisitEvent):
    """A booked group did not arrive in time: its places were released (a no-show)."""

    event_name = "visit-released"
    at: datetime = classified("time", "When the places were released.")
    places_left: int = classified("fact", _PLACES_LEFT, ge=0)


class EscortsRequested(_VisitEvent):
    """A study tour for a large group holds its places provisionally: it goes ahead only if
    enough volunteer escorts sign up by `due_at` (the volunteers service opens a shift)."""

    event_name = "escorts-requested"
    venue_name: str = classified("public-text", "The venue's public name.")
    school_id: str = classified("code", _SCHOOL_ID)
    starts_at: datetime = classified("time", _STARTS_AT)
    ends_at: datetime = classified("time", "End of the slot.")
    head_count: int = classified("fact", "Children on the tour.", ge=1)
    age: int = classified("fact", "Age of the children (years).", ge=0)
    escorts: int = classified("fact", "Volunteer escorts the tour needs.", ge=1)
    due_at: datetime = classified(
        "time", "By when the escorts must have signed up; after it the booking is released."
    )


class StudyTourConfirmed(_SchoolVisitEvent):
    """The study tour's escorts signed up in time: the booking holds (or, where the venue
    approves its bookings, now waits for the venue's approval)."""

    event_name = "study-tour-confirmed"
    shift_id: str = classified("id", "The volunteers' escort shift that filled (UUID).")
    approved: bool = classified(
        "fact", "False while the venue has still to approve the booking.", default=True
    )
