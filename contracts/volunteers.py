"""Events published by the volunteers service (owned by the Youth League, `cyl`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from contracts.events import ContractEvent

VolunteerKind = Literal["parent", "five-elders", "youth", "teacher", "professional"]
PostKind = Literal["safety-post", "library", "after-school", "lecture"]
CheckOutcome = Literal["passed", "failed"]


class _VolunteersEvent(ContractEvent):
    boundary = "volunteers"


class VolunteerRegistered(_VolunteersEvent):
    """A person was registered as a volunteer."""

    event_name = "volunteer-registered"
    volunteer_id: str = Field(description="Volunteer id (UUID).")
    display_name: str = Field(description="Name shown to coordinators.")
    kind: VolunteerKind = Field(description="Kind of volunteer.")
    school_id: str | None = Field(default=None, description="Home school, if any.")
    registered_at: datetime = Field(description="When the volunteer was registered.")


class BackgroundCheckRequested(_VolunteersEvent):
    """A background check was requested from public security for a volunteer."""

    event_name = "background-check-requested"
    volunteer_id: str = Field(description="Volunteer id (UUID).")
    check_id: str = Field(description="Id the public-security system answers with.")
    requested_at: datetime = Field(description="When the check was requested.")


class BackgroundCheckRecorded(_VolunteersEvent):
    """The result of a public-security background check was recorded on a volunteer."""

    event_name = "background-check-recorded"
    volunteer_id: str = Field(description="Volunteer id (UUID).")
    check_id: str = Field(description="The check this result answers.")
    outcome: CheckOutcome = Field(description="passed or failed.")
    expires_on: date | None = Field(default=None, description="Last day a pass is valid.")


class ShiftPublished(_VolunteersEvent):
    """A post or shift at a school was opened for volunteers."""

    event_name = "shift-published"
    shift_id: str = Field(description="Shift id (UUID).")
    school_id: str = Field(description="School where the shift takes place.")
    post: PostKind = Field(description="Kind of post.")
    title: str = Field(description="Short title shown to volunteers.")
    starts_at: datetime = Field(description="Start of the shift.")
    ends_at: datetime = Field(description="End of the shift.")
    capacity: int = Field(ge=1, description="Number of places.")
    child_facing: bool = Field(description="True when volunteers work with children.")


class VolunteerSignedUp(_VolunteersEvent):
    """A volunteer took a place on a shift."""

    event_name = "volunteer-signed-up"
    shift_id: str = Field(description="Shift id (UUID).")
    volunteer_id: str = Field(description="Volunteer id (UUID).")
    places_filled: int = Field(ge=0, description="Places filled after this sign-up.")


class SignUpCancelled(_VolunteersEvent):
    """A volunteer gave back a place on a shift."""

    event_name = "sign-up-cancelled"
    shift_id: str = Field(description="Shift id (UUID).")
    volunteer_id: str = Field(description="Volunteer id (UUID).")
    places_filled: int = Field(ge=0, description="Places filled after the cancellation.")


class VolunteerCheckedIn(_VolunteersEvent):
    """A volunteer arrived for a shift."""

    event_name = "volunteer-checked-in"
    shift_id: str = Field(description="Shift id (UUID).")
    volunteer_id: str = Field(description="Volunteer id (UUID).")
    at: datetime = Field(description="Arrival time.")


class VolunteerCheckedOut(_VolunteersEvent):
    """A volunteer left a shift; the hours are credited."""

    event_name = "volunteer-checked-out"
    shift_id: str = Field(description="Shift id (UUID).")
    school_id: str = Field(description="School of the shift.")
    volunteer_id: str = Field(description="Volunteer id (UUID).")
    at: datetime = Field(description="Departure time.")
    hours: float = Field(ge=0, description="Hours credited for this shift.")
