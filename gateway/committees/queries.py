"""Queries of the committees feature: committees of a school, suggestions, figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from gateway import access
from gateway.committees import state
from gateway.committees.policy import READS
from gateway.committees.types import ActionItem, Committee, CommitteeFigures, Suggestion
from gateway.context import Authenticated
from gateway.core.pagination import (
    After,
    Connection,
    First,
    InvalidCursorError,
    check_first,
    connection,
)
from gateway.errors import bad_input, forbidden

authenticated: list[type[BasePermission]] = [Authenticated]
STATUSES = ("assigned", "answered", "closed")
LEVELS = ("city", "district", "community", "village")


@strawberry.type
class CommitteesQuery:
    @strawberry.field(
        description="A school's committees (school, grade, class), with their members.",
        permission_classes=authenticated,
    )
    async def committees(
        self,
        info: strawberry.Info,
        school_id: Annotated[str, strawberry.argument(description="The school.")],
    ) -> list[Committee]:
        access.require(READS, await access.caller(info), "read-committees")
        rows = await asyncio.to_thread(state.readmodel(info).committees, school_id)
        return [Committee.from_row(row) for row in rows]

    @strawberry.field(
        description="Committees above or beside the schools: city, district, community, "
        "village (grandparent committees).",
        permission_classes=authenticated,
    )
    async def committees_of_level(
        self,
        info: strawberry.Info,
        level: Annotated[
            str, strawberry.argument(description="city, district, community, village.")
        ],
    ) -> list[Committee]:
        access.require(READS, await access.caller(info), "read-committees")
        if level not in LEVELS:
            raise bad_input(f"level is one of {', '.join(LEVELS)}")
        rows = await asyncio.to_thread(state.readmodel(info).committees_of_level, level)
        return [Committee.from_row(row) for row in rows]

    @strawberry.field(
        description="Suggestions by submission time. School staff: their schools'; another "
        "department: those assigned to it; the Education Bureau's city staff and viewers: all.",
        permission_classes=authenticated,
    )
    async def suggestions(
        self,
        info: strawberry.Info,
        first: First = 20,
        after: After = None,
        school_id: Annotated[str | None, strawberry.argument(description="Of this school.")] = None,
        status: Annotated[
            str | None, strawberry.argument(description="assigned, answered or closed.")
        ] = None,
        department: Annotated[
            str | None, strawberry.argument(description="Assigned to this department.")
        ] = None,
    ) -> Connection[Suggestion]:
        principal = await access.caller(info)
        anyone = access.admit(READS, principal, "list-suggestions")
        if status is not None and status not in STATUSES:
            raise bad_input(f"status is one of {', '.join(STATUSES)}")
        schools = None
        if not anyone:
            if principal.department != READS.owner:
                # A department sees its own list.
                if department not in (None, principal.department):
                    raise forbidden("a department reads its own assignments")
                department = principal.department
            elif school_id is not None:
                access.require(READS, principal, "list-suggestions", school_id=school_id)
            else:
                schools = access.schools(principal)
        try:
            page = await asyncio.to_thread(
                state.readmodel(info).suggestions,
                first=check_first(first),
                after=after,
                school_id=school_id,
                school_ids=schools,
                department=department,
                status=status,
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, Suggestion)

    @strawberry.field(
        description="Joint meetings' action items by due time. A department other than the "
        "Education Bureau sees its own list (items it leads or supports); edu's staff and "
        "viewers any department's, or all.",
        permission_classes=authenticated,
    )
    async def action_items(
        self,
        info: strawberry.Info,
        department: Annotated[
            str | None, strawberry.argument(description="Led or supported by this department.")
        ] = None,
        open_only: Annotated[bool, strawberry.argument(description="Not done yet.")] = False,
    ) -> list[ActionItem]:
        principal = await access.caller(info)
        anyone = access.admit(READS, principal, "list-suggestions")
        if not anyone and principal.department != READS.owner:
            if department not in (None, principal.department):
                raise forbidden("a department reads its own action items")
            department = principal.department
        rows = await asyncio.to_thread(
            state.readmodel(info).action_items, department=department, open_only=open_only
        )
        return [ActionItem.from_row(row) for row in rows]

    @strawberry.field(
        description="Suggestions by status, time to answer, on-time rates per school and "
        "department, satisfaction, and committees by level.",
        permission_classes=authenticated,
    )
    async def committee_figures(
        self,
        info: strawberry.Info,
        district: Annotated[str | None, strawberry.argument(description="Of one district.")] = None,
    ) -> CommitteeFigures:
        access.require(READS, await access.caller(info), "read-figures")
        figures = await asyncio.to_thread(
            state.readmodel(info).figures, datetime.now(UTC), district
        )
        return CommitteeFigures.from_figures(figures)
