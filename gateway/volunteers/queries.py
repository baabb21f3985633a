"""Queries of the volunteers feature: reads of the read model, paginated by keyset."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from gateway import access
from gateway.context import Authenticated
from gateway.core.pagination import (
    After,
    Connection,
    First,
    InvalidCursorError,
    check_first,
    connection,
)
from gateway.errors import bad_input
from gateway.volunteers import state
from gateway.volunteers.by_name import volunteers_by_name
from gateway.volunteers.policy import READS
from gateway.volunteers.types import (
    ChildFacingChecks,
    OpenPlaces,
    SchoolHours,
    Shift,
    Volunteer,
)

SchoolFilter = Annotated[str | None, strawberry.argument(description="Only those of this school.")]


@strawberry.enum(description="The order of a list of volunteers.")
class VolunteerOrder(Enum):
    REGISTRATION = strawberry.enum_value(
        "registration", description="By registration time, oldest first (then by id)."
    )
    NAME = strawberry.enum_value(
        "name",
        description="By name, for one school (`schoolId`), from the volunteers service; "
        "erased volunteers last. Staff of that school only: viewers may not read names, nor "
        "their order.",
    )


authenticated: list[type[BasePermission]] = [Authenticated]


@strawberry.type
class VolunteersQuery:
    @strawberry.field(
        description="Volunteers by registration time, oldest first (then by id), for staff "
        "(school staff: the volunteers of the schools in their scope) and viewers, who see "
        "every name as null. `orderBy: NAME` lists one school's volunteers by name, as the "
        "volunteers service gives them (it logs the page's reads); staff of that school only.",
        permission_classes=authenticated,
    )
    async def volunteers(
        self,
        info: strawberry.Info,
        first: First = 20,
        after: After = None,
        school_id: SchoolFilter = None,
        order_by: Annotated[
            VolunteerOrder, strawberry.argument(description="REGISTRATION, or NAME for a school.")
        ] = VolunteerOrder.REGISTRATION,
    ) -> Connection[Volunteer]:
        principal = await access.caller(info)
        if order_by is VolunteerOrder.NAME:
            if school_id is None:
                raise bad_input("orderBy NAME lists one school: give schoolId")
            return await volunteers_by_name(info, principal, school_id, check_first(first), after)
        if school_id is None:
            anyone = access.admit(READS, principal, "list-volunteers")
            schools = None if anyone else access.schools(principal)
        else:
            access.require(READS, principal, "list-volunteers", school_id=school_id)
            schools = None
        readmodel = state.readmodel(info)
        try:
            page = await asyncio.to_thread(
                readmodel.volunteers,
                first=check_first(first),
                after=after,
                school_id=school_id,
                school_ids=schools,
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, Volunteer)

    @strawberry.field(
        description="One volunteer, or null if unknown. Staff (school staff: volunteers of "
        "the schools in their scope), viewers (without the name) and the volunteer themself.",
        permission_classes=authenticated,
    )
    async def volunteer(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Volunteer id.")],
    ) -> Volunteer | None:
        principal = await access.caller(info)
        # Role and department first: a refused caller never learns whether the id exists.
        access.admit(READS, principal, "read-volunteer", volunteer_id=str(id))
        row = await state.loaders(info).volunteer.load(str(id))
        if row is None:
            return None
        access.require(
            READS, principal, "read-volunteer", school_id=row.school_id, volunteer_id=row.id
        )
        return Volunteer.from_row(row)

    @strawberry.field(description="Shifts by start time.", permission_classes=authenticated)
    async def shifts(
        self,
        info: strawberry.Info,
        first: First = 20,
        after: After = None,
        school_id: SchoolFilter = None,
    ) -> Connection[Shift]:
        access.require(READS, await access.caller(info), "read-shift")
        readmodel = state.readmodel(info)
        try:
            page = await asyncio.to_thread(
                readmodel.shifts, first=check_first(first), after=after, school_id=school_id
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, Shift)

    @strawberry.field(
        description="Shifts yet to start and their places still free, over every school.",
        permission_classes=authenticated,
    )
    async def open_places(self, info: strawberry.Info) -> OpenPlaces:
        access.require(READS, await access.caller(info), "read-shift")
        shifts, places = await asyncio.to_thread(
            state.readmodel(info).open_places, datetime.now(UTC)
        )
        return OpenPlaces(upcoming_shifts=shifts, places_left=places)

    @strawberry.field(
        description="One shift, or null if unknown.", permission_classes=authenticated
    )
    async def shift(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Shift id.")],
    ) -> Shift | None:
        access.require(READS, await access.caller(info), "read-shift")
        row = await state.loaders(info).shift.load(str(id))
        return Shift.from_row(row) if row else None

    @strawberry.field(
        description="Hours credited per school, most first.", permission_classes=authenticated
    )
    async def school_hours(
        self, info: strawberry.Info, first: First = 20, after: After = None
    ) -> Connection[SchoolHours]:
        access.require(READS, await access.caller(info), "read-school-hours")
        readmodel = state.readmodel(info)
        try:
            page = await asyncio.to_thread(
                readmodel.school_hours, first=check_first(first), after=after
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, SchoolHours)

    @strawberry.field(
        description="Per school, places on child-facing shifts not over yet and those held by "
        "volunteers whose background check is valid on the shift's day.",
        permission_classes=authenticated,
    )
    async def child_facing_checks(self, info: strawberry.Info) -> list[ChildFacingChecks]:
        access.require(READS, await access.caller(info), "read-school-hours")
        rows = await asyncio.to_thread(state.readmodel(info).child_facing_checks, datetime.now(UTC))
        return [ChildFacingChecks.from_row(row) for row in rows]
