"""What the volunteers API answers, as documented in its OpenAPI and checked on the way out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.kit.commands import Answer
from services.volunteers.domain import CheckStatus, PostKind, VolunteerKind


class VolunteerRegistered(Answer):
    volunteer_id: str
    version: int


class BackgroundCheckRequested(Answer):
    volunteer_id: str
    check_id: str = Field(description="The id the police result must answer.")
    version: int


class ShiftPublished(Answer):
    shift_id: str
    version: int


class PlaceChanged(Answer):
    shift_id: str
    volunteer_id: str
    places_filled: int
    places_left: int
    version: int = Field(description="The shift's version after the command.")


class Attended(PlaceChanged):
    at: str = Field(description="The check-in or check-out time (ISO 8601).")


class CheckedOut(Attended):
    hours: float = Field(description="Hours credited for this shift.")
    volunteer_hours: float = Field(description="The volunteer's hours in total.")


class CheckView(Answer):
    status: CheckStatus
    check_id: str | None
    expires_on: str | None


class VolunteerChanged(Answer):
    volunteer_id: str
    version: int


class VolunteerErased(Answer):
    volunteer_id: str
    erased_at: str = Field(description="When the personal data was erased (ISO 8601).")
    version: int


class Names(Answer):
    names: dict[str, str] = Field(description="Display name by volunteer id.")
    erased: list[str] = Field(description="Volunteers whose personal data was erased.")
    denied: list[str] = Field(description="Volunteers the caller may not read.")
    unknown: list[str] = Field(description="Ids that name no volunteer.")


class VolunteerView(Answer):
    volunteer_id: str
    display_name: str | None = Field(description="Null once the volunteer is erased.")
    erased: bool = Field(description="True once the volunteer's personal data is erased.")
    kind: VolunteerKind
    school_id: str | None
    check: CheckView
    hours: float
    version: int


class Place(BaseModel):
    """A volunteer's place on a shift; check-in and check-out add their times and hours."""

    model_config = ConfigDict(extra="allow")

    volunteer_id: str
    status: str = Field(description="signed-up, checked-in or checked-out.")


class ShiftView(Answer):
    shift_id: str
    school_id: str
    post: PostKind
    title: str
    starts_at: str
    ends_at: str
    capacity: int
    child_facing: bool
    places_filled: int
    places_left: int
    version: int
    booking_id: str | None = Field(
        default=None, description="The study tour (resources booking) the shift escorts."
    )
    closed: str | None = Field(default=None, description="Why the shift is closed, if it is.")
    places: list[Place] | None = Field(
        default=None, description="Who holds the places; for staff only."
    )


class AccessLogEntry(Answer):
    seq: int = Field(description="The entry's position in the service's access log.")
    at: str = Field(description="When the data was read or refused (ISO 8601, UTC).")
    subject: str = Field(description="Who read it: the caller's subject.")
    role: str
    department: str | None
    fields: list[str] = Field(description="The personal fields read.")
    purpose: str = Field(description="Why: the purpose given or the operation's own.")
    outcome: Literal["allowed", "denied"]


class AccessLogPage(Answer):
    volunteer_id: str
    entries: list[AccessLogEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for older entries; none left.")


class NamedVolunteer(Answer):
    volunteer_id: str
    display_name: str | None = Field(description="Null once the volunteer is erased.")
    erased: bool = Field(description="True once the volunteer's personal data is erased.")


class VolunteersByName(Answer):
    school_id: str
    volunteers: list[NamedVolunteer] = Field(
        description="By name (case-insensitive, then exact, then id); erased ones last."
    )
    next_cursor: str | None = Field(description="Pass as `after` for the next page; none left.")
