"""Events published by the volunteers service (owned by the Youth League, `cyl`).

A volunteer's name is personal data: it stays in the volunteers service (encrypted per
person) and is read through its API (`POST /volunteers/names`), never from the bus.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts.events import ContractEvent, classified
from contracts.measures import measurable

VolunteerKind = Literal["parent", "five-elders", "youth", "teacher", "professional"]
PostKind = Literal["safety-post", "library", "after-school", "lecture", "study-tour-escort"]
CheckOutcome = Literal["passed", "failed"]


def escort_shift_id(booking_id: str) -> UUID:
    """The id of a study tour's escort shift (one per resources booking): whoever knows the
    booking can find its shift."""
    return uuid5(NAMESPACE_URL, f"tongxin:volunteers:escort-shift:{booking_id}")


class _VolunteersEvent(ContractEvent):
    boundary = "volunteers"


class VolunteerRegistered(_VolunteersEvent):
    """A person was registered as a volunteer (their name stays in the volunteers service)."""

    event_name = "volunteer-registered"
    major = 2
    volunteer_id: str = classified("id", "Volunteer id (UUID).")
    kind: VolunteerKind = classified("code", "Kind of volunteer.")
    school_id: str | None = classified("code", "Home school, if any.", default=None)
    registered_at: datetime = classified("time", "When the volunteer was registered.")


class VolunteerRegisteredV1(_VolunteersEvent):
    """v1 carried the volunteer's name; no longer published, still read from old streams."""

    event_name = "volunteer-registered"
    major = 1
    published = False
    volunteer_id: str = classified("id", "Volunteer id (UUID).")
    display_name: str = classified("personal", "Name shown to coordinators.")
    kind: VolunteerKind = classified("code", "Kind of volunteer.")
    school_id: str | None = classified("code", "Home school, if any.", default=None)
    registered_at: datetime = classified("time", "When the volunteer was registered.")

    def upcast(self) -> VolunteerRegistered:
        return VolunteerRegistered(
            volunteer_id=self.volunteer_id,
            kind=self.kind,
            school_id=self.school_id,
            registered_at=self.registered_at,
        )


class VolunteerErased(_VolunteersEvent):
    """A volunteer's personal data was erased: whoever keeps a copy of it drops it now.

    Their figures (hours, places taken) stay; only what identifies them is gone.
    """

    event_name = "volunteer-erased"
    volunteer_id: str = classified("id", "Volunteer id (UUID).")
    erased_at: datetime = classified("time", "When the personal data was erased.")


class BackgroundCheckRequested(_VolunteersEvent):
    """A background check was requested from public security for a volunteer."""

    event_name = "background-check-requested"
    volunteer_id: str = classified("id", "Volunteer id (UUID).")
    check_id: str = classified("id", "Id the public-security system answers with.")
    requested_at: datetime = classified("time", "When the check was requested.")


class BackgroundCheckRecorded(_VolunteersEvent):
    """The result of a public-security background check was recorded on a volunteer."""

    event_name = "background-check-recorded"
    volunteer_id: str = classified("id", "Volunteer id (UUID).")
    check_id: str = classified("id", "The check this result answers.")
    outcome: CheckOutcome = classified("fact", "passed or failed.")
    expires_on: date | None = classified("time", "Last day a pass is valid.", default=None)


@measurable(at="starts_at", school="school_id", facets=("post", "child_facing"))
class ShiftPublished(_VolunteersEvent):
    """A post or shift at a school was opened for volunteers."""

    event_name = "shift-published"
    # Museums and hospitals teach lectures at schools: an opening is public news.
    partner_feed = True
    shift_id: str = classified("id", "Shift id (UUID).")
    school_id: str = classified("code", "School where the shift takes place.")
    post: PostKind = classified("code", "Kind of post.")
    title: str = classified("public-text", "Short title shown to volunteers.")
    starts_at: datetime = classified("time", "Start of the shift.")
    ends_at: datetime = classified("time", "End of the shift.")
    capacity: int = classified("fact", "Number of places.", ge=1)
    child_facing: bool = classified("fact", "True when volunteers work with children.")
    booking_id: str | None = classified(
        "id", "The study tour (a resources booking) the shift escorts, if any.", default=None
    )


class VolunteerSignedUp(_VolunteersEvent):
    """A volunteer took a place on a shift."""

    event_name = "volunteer-signed-up"
    shift_id: str = classified("id", "Shift id (UUID).")
    volunteer_id: str = classified("id", "Volunteer id (UUID).")
    places_filled: int = classified("fact", "Places filled after this sign-up.", ge=0)


class SignUpCancelled(_VolunteersEvent):
    """A volunteer gave back a place on a shift."""

    event_name = "sign-up-cancelled"
    shift_id: str = classified("id", "Shift id (UUID).")
    volunteer_id: str = classified("id", "Volunteer id (UUID).")
    places_filled: int = classified("fact", "Places filled after the cancellation.", ge=0)


class VolunteerCheckedIn(_VolunteersEvent):
    """A volunteer arrived for a shift."""

    event_name = "volunteer-checked-in"
    shift_id: str = classified("id", "Shift id (UUID).")
    volunteer_id: str = classified("id", "Volunteer id (UUID).")
    at: datetime = classified("time", "Arrival time.")


@measurable(at="at", school="school_id", subject="volunteer_id", quantity="hours")
class VolunteerCheckedOut(_VolunteersEvent):
    """A volunteer left a shift; the hours are credited."""

    event_name = "volunteer-checked-out"
    shift_id: str = classified("id", "Shift id (UUID).")
    school_id: str = classified("code", "School of the shift.")
    volunteer_id: str = classified("id", "Volunteer id (UUID).")
    at: datetime = classified("time", "Departure time.")
    hours: float = classified("fact", "Hours credited for this shift.", ge=0)


class EscortShiftFilled(_VolunteersEvent):
    """Every place on a study tour's escort shift is taken: the tour may go ahead."""

    event_name = "escort-shift-filled"
    shift_id: str = classified("id", "Shift id (UUID).")
    booking_id: str = classified("id", "The study tour (resources booking) it escorts.")
    school_id: str = classified("code", "School of the study tour.")
    escorts: int = classified("fact", "Volunteers signed up.", ge=1)


class ShiftClosed(_VolunteersEvent):
    """A shift was closed to sign-ups: the study tour it escorted was released or cancelled."""

    event_name = "shift-closed"
    shift_id: str = classified("id", "Shift id (UUID).")
    booking_id: str | None = classified(
        "id", "The study tour (resources booking) it escorted, if any.", default=None
    )
    reason: str = classified("code", "Why: the booking's cancellation reason.")
