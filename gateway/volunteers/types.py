"""GraphQL types of the volunteers feature, read from the read model's rows."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry

from gateway import access
from gateway.core import personal
from gateway.core.figures import Count, count_row
from gateway.core.pagination import First, check_first
from gateway.volunteers import state
from gateway.volunteers.policy import READS
from gateway.volunteers.readmodel import (
    UNKNOWN_KIND,
    ChildFacingChecksRow,
    SchoolHoursRow,
    ShiftRow,
    SignUpRow,
    VolunteerRow,
)


@strawberry.enum(description="Kind of volunteer.")
class VolunteerKind(Enum):
    PARENT = "parent"
    FIVE_ELDERS = "five-elders"
    YOUTH = "youth"
    TEACHER = "teacher"
    PROFESSIONAL = "professional"


@strawberry.enum(description="Kind of post a shift staffs.")
class PostKind(Enum):
    SAFETY_POST = "safety-post"
    LIBRARY = "library"
    AFTER_SCHOOL = "after-school"
    LECTURE = "lecture"
    STUDY_TOUR_ESCORT = "study-tour-escort"


@strawberry.enum(description="Where a volunteer's background check stands.")
class CheckStatus(Enum):
    NONE = "none"
    REQUESTED = "requested"
    PASSED = "passed"
    FAILED = "failed"
    EXPIRED = "expired"


@strawberry.enum(description="Where a volunteer's place on a shift stands.")
class SignUpStatus(Enum):
    SIGNED_UP = "signed-up"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked-in"
    CHECKED_OUT = "checked-out"


def _enum(kind: type[Enum], value: str) -> Enum | None:
    try:
        return kind(value)
    except ValueError:
        return None  # A value this gateway does not know yet (tolerant reader).


@strawberry.type(
    description="A person registered as a volunteer: ids and facts from the gateway's read "
    "model; the name from the volunteers service, which decides who reads it and logs each read."
)
class Volunteer:
    id: strawberry.ID = strawberry.field(description="Volunteer id (UUID).")
    kind: VolunteerKind | None = strawberry.field(description="Kind of volunteer.")
    school_id: str | None = strawberry.field(description="Home school, if any.")
    hours: float = strawberry.field(description="Hours credited over all shifts.")
    registered_at: datetime = strawberry.field(
        description="When the volunteer was registered (the order of `volunteers`)."
    )
    personal_data_erased: bool = strawberry.field(
        description="True once the volunteer's personal data was erased for good: the name "
        "reads as null for everyone; hours and places taken stay."
    )
    check: strawberry.Private[tuple[CheckStatus | None, date | None]] = (None, None)
    # The name as a list by name already read it from the service (None: not given).
    given_name: strawberry.Private[tuple[str | None] | None] = None

    @strawberry.field(
        description="Name shown to staff, read from the volunteers service as the caller (one "
        "call per request for every name the query shows; the service logs each read). Null "
        "when the caller may not read it or the data was erased (`personalDataErased`); a "
        "SERVICE_UNAVAILABLE error on this field alone when the service cannot answer."
    )
    async def display_name(self, info: strawberry.Info) -> str | None:
        if self.personal_data_erased:
            return None  # Nothing to read: the service would only say so.
        if self.given_name is not None:
            return self.given_name[0]  # Read (and logged) once already, by the list.
        found = await personal.resolve(info, state.NAMES, str(self.id))
        shown = personal.shown(found)
        return None if shown is None else str(shown)

    @strawberry.field(
        description="Background check: EXPIRED when a pass is past its last valid day. Staff "
        "and the volunteer themself only."
    )
    async def check_status(self, info: strawberry.Info) -> CheckStatus | None:
        await self._may_read_check(info)
        return self.check[0]

    @strawberry.field(
        description="Last day a passed background check is valid. Staff and the volunteer "
        "themself only."
    )
    async def check_expires_on(self, info: strawberry.Info) -> date | None:
        await self._may_read_check(info)
        return self.check[1]

    async def _may_read_check(self, info: strawberry.Info) -> None:
        # Whoever reached this volunteer as staff may see the check (school staff vet the
        # volunteers coming to their shifts); viewers of the pseudonymous list may not.
        principal = await access.caller(info)
        access.admit(READS, principal, "read-check", volunteer_id=str(self.id))

    @strawberry.field(
        description="The volunteer's places on shifts, by shift id. Staff (school staff: "
        "shifts at the schools in their scope) and the volunteer themself only."
    )
    async def sign_ups(self, info: strawberry.Info, first: First = 20) -> list[SignUp]:
        check_first(first)
        principal = await access.caller(info)
        own = access.admit(READS, principal, "read-sign-ups", volunteer_id=str(self.id))
        rows = await state.loaders(info).sign_ups_by_volunteer.load(str(self.id))
        if not own:
            rows = [row for row in rows if access.covers(principal, row.school_id)]
        return [SignUp.from_row(row) for row in rows[:first]]

    @classmethod
    def from_row(cls, row: VolunteerRow, **given: str | None) -> Volunteer:
        """The volunteer of a read model row; `name=` when the name was read already."""
        return cls(
            id=strawberry.ID(row.id),
            kind=_enum(VolunteerKind, row.kind),  # type: ignore[arg-type]
            school_id=row.school_id,
            hours=row.hours,
            registered_at=row.registered_at,
            personal_data_erased=row.erased,
            check=(
                _enum(CheckStatus, row.check_status),  # type: ignore[arg-type]
                row.check_expires_on,
            ),
            given_name=(given["name"],) if "name" in given else None,
        )


@strawberry.type(description="A post or shift at a school, open to volunteers.")
class Shift:
    id: strawberry.ID = strawberry.field(description="Shift id (UUID).")
    school_id: str = strawberry.field(description="School where the shift takes place.")
    post: PostKind | None = strawberry.field(description="Kind of post.")
    title: str = strawberry.field(description="Short title shown to volunteers.")
    starts_at: datetime = strawberry.field(description="Start of the shift (UTC).")
    ends_at: datetime = strawberry.field(description="End of the shift (UTC).")
    capacity: int = strawberry.field(description="Number of places.")
    child_facing: bool = strawberry.field(description="True when volunteers work with children.")
    places_filled: int = strawberry.field(description="Places taken.")
    places_left: int = strawberry.field(description="Places still free.")

    @strawberry.field(
        description="Places taken or given back on this shift, by volunteer id. Staff only "
        "(school staff: shifts at the schools in their scope)."
    )
    async def sign_ups(self, info: strawberry.Info, first: First = 50) -> list[SignUp]:
        check_first(first)
        principal = await access.caller(info)
        access.require(READS, principal, "read-sign-ups", school_id=self.school_id)
        rows = await state.loaders(info).sign_ups_by_shift.load(str(self.id))
        return [SignUp.from_row(row) for row in rows[:first]]

    @classmethod
    def from_row(cls, row: ShiftRow) -> Shift:
        return cls(
            id=strawberry.ID(row.id),
            school_id=row.school_id,
            post=_enum(PostKind, row.post),  # type: ignore[arg-type]
            title=row.title,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            capacity=row.capacity,
            child_facing=row.child_facing,
            places_filled=row.places_filled,
            places_left=row.places_left,
        )


@strawberry.type(description="Places still free on the shifts yet to start.")
class OpenPlaces:
    upcoming_shifts: int = strawberry.field(description="Shifts starting after now.")
    places_left: int = strawberry.field(description="Their places still free, in all.")


@strawberry.type(description="A volunteer's place on a shift.")
class SignUp:
    shift_id: strawberry.ID = strawberry.field(description="Shift id.")
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    status: SignUpStatus | None = strawberry.field(description="Where the place stands.")
    hours: float = strawberry.field(description="Hours credited for this shift.")
    school_id: strawberry.Private[str | None] = None

    @strawberry.field(
        description="The volunteer, if the read model knows them. Staff for the shift's "
        "school and the volunteer themself only."
    )
    async def volunteer(self, info: strawberry.Info) -> Volunteer | None:
        # School staff see who comes to their schools' shifts, wherever the volunteer lives.
        principal = await access.caller(info)
        access.require(
            READS,
            principal,
            "read-volunteer",
            school_id=self.school_id,
            volunteer_id=str(self.volunteer_id),
        )
        row = await state.loaders(info).volunteer.load(str(self.volunteer_id))
        return Volunteer.from_row(row) if row else None

    @strawberry.field(description="The shift, if the read model knows it.")
    async def shift(self, info: strawberry.Info) -> Shift | None:
        row = await state.loaders(info).shift.load(str(self.shift_id))
        return Shift.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: SignUpRow) -> SignUp:
        return cls(
            shift_id=strawberry.ID(row.shift_id),
            volunteer_id=strawberry.ID(row.volunteer_id),
            status=_enum(SignUpStatus, row.status),  # type: ignore[arg-type]
            hours=row.hours,
            school_id=row.school_id,
        )


@strawberry.type(description="How many of a school's credited volunteers are of one kind.")
class KindCount:
    kind: VolunteerKind | None = strawberry.field(
        description="The kind; null for volunteers whose registration the gateway has not seen yet."
    )
    volunteers: Count = strawberry.field(description="Volunteers of this kind.")


@strawberry.type(
    description="Volunteer hours credited at one school, and the volunteers credited: counts "
    "of people, so fewer than five read as suppressed, and the counts by kind are hidden "
    "enough that none can be worked out from the others and the total."
)
class SchoolHours:
    school_id: str = strawberry.field(description="School id.")
    hours: float = strawberry.field(description="Hours credited at the school.")
    volunteers: Count = strawberry.field(description="Volunteers credited with hours there.")
    volunteers_by_kind: list[KindCount] = strawberry.field(
        description="The same volunteers by kind, every kind listed (zero is a small count "
        "too), with complementary suppression against `volunteers`."
    )

    @classmethod
    def from_row(cls, row: SchoolHoursRow) -> SchoolHours:
        cells = {kind.value: row.by_kind.get(kind.value, 0) for kind in VolunteerKind}
        if row.by_kind.get(UNKNOWN_KIND):
            cells[UNKNOWN_KIND] = row.by_kind[UNKNOWN_KIND]
        figures = count_row(cells, total=sum(row.by_kind.values()))
        assert figures.total is not None
        return cls(
            school_id=row.school_id,
            hours=row.hours,
            volunteers=figures.total,
            volunteers_by_kind=[
                KindCount(kind=_enum(VolunteerKind, key), volunteers=value)  # type: ignore[arg-type]
                for key, value in figures.cells.items()
            ],
        )


@strawberry.type(
    description="A school's places on child-facing shifts not over yet, and how many of them "
    "volunteers hold whose passed background check is valid on the shift's day (checked at "
    "sign-up; a check may lapse or fail before the shift). Places, not people: shown as they are."
)
class ChildFacingChecks:
    school_id: str = strawberry.field(description="School id.")
    places_held: int = strawberry.field(description="Places held on child-facing shifts.")
    checked: int = strawberry.field(description="Of them, held by a checked volunteer.")

    @classmethod
    def from_row(cls, row: ChildFacingChecksRow) -> ChildFacingChecks:
        return cls(school_id=row.school_id, places_held=row.places_held, checked=row.checked)
