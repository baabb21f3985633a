"""Queries of the care feature: a care lead's worklist, a file's timeline, coverage."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from gateway import access
from gateway.care import state
from gateway.care.policy import READS, SUPERVISORS
from gateway.care.readmodel import CareReadModel, FileRow
from gateway.care.types import (
    BreakGlassAlert,
    CoverageFigure,
    CoverageLevel,
    FileAccess,
    HomeTeachingFigure,
    IntakesWaiting,
    TimelineEntry,
    WorklistItem,
)
from gateway.context import Authenticated
from gateway.core.pagination import (
    After,
    Connection,
    Edge,
    First,
    InvalidCursorError,
    PageInfo,
    check_first,
    connection,
    decode_cursor,
    encode_cursor,
)
from gateway.core.service import segment
from gateway.errors import SERVICE_UNAVAILABLE, bad_input, coded, forbidden
from services.kit.auth import Principal
from services.kit.citytime import CITY_TIME
from services.kit.deadlines import default_clock

authenticated: list[type[BasePermission]] = [Authenticated]


def city_today() -> datetime:
    # The deadlines' clock: the wall clock, or the one a test moves (TONGXIN_CLOCK_FILE).
    return default_clock().now().astimezone(CITY_TIME)


ACCESS_LOG_CURSOR = "care-access-log"


def reach(
    readmodel: CareReadModel, principal: Principal
) -> tuple[tuple[str, ...] | None, str | None]:
    """The schools whose files a caller works (None: all), and the lead id to add."""
    in_scope = access.schools(principal)
    if principal.role in SUPERVISORS:
        return in_scope, None
    led = readmodel.led_schools(principal.subject)
    schools = tuple(s for s in led if access.covers(principal, s))
    return schools, principal.subject


def may_see(readmodel: CareReadModel, principal: Principal, row: FileRow) -> bool:
    if not access.covers(principal, row.school_id):
        return False  # a teacher who moved school loses its files with the old scope
    if principal.role in SUPERVISORS:
        return True
    return row.lead_id == principal.subject or (
        readmodel.care_lead(row.school_id) == principal.subject
    )


@strawberry.type
class CareQuery:
    @strawberry.field(
        description="Care files needing attention (review overdue, home visit due), by school "
        "then id: for the district's care officer (edu coordinators and admins, schools in "
        "scope), a school's care lead and a file's lead. Due is computed when read.",
        permission_classes=authenticated,
    )
    async def care_worklist(
        self, info: strawberry.Info, first: First = 20, after: After = None
    ) -> Connection[WorklistItem]:
        principal = await access.caller(info)
        access.admit(READS, principal, "read-worklist")
        readmodel = state.readmodel(info)
        today = city_today().date()
        schools, lead = await asyncio.to_thread(reach, readmodel, principal)
        try:
            page = await asyncio.to_thread(
                readmodel.worklist,
                today=today,
                first=check_first(first),
                after=after,
                school_ids=schools,
                lead_id=lead,
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        edges = [
            Edge(cursor=cursor, node=WorklistItem.of(row, today))
            for row, cursor in zip(page.rows, page.cursors, strict=True)
            if access.covers(principal, row.school_id)
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field(
        description="Children referred by civil affairs or found by screening, waiting for "
        "their school to open a file, per school the caller works.",
        permission_classes=authenticated,
    )
    async def care_intakes(self, info: strawberry.Info) -> list[IntakesWaiting]:
        principal = await access.caller(info)
        access.admit(READS, principal, "read-worklist")
        readmodel = state.readmodel(info)
        schools, _ = await asyncio.to_thread(reach, readmodel, principal)
        waiting = await asyncio.to_thread(readmodel.intakes_waiting, schools)
        return [
            IntakesWaiting(
                school_id=school,
                intake_ids=[
                    strawberry.ID(i) for i in await asyncio.to_thread(readmodel.intake_ids, school)
                ],
            )
            for school in waiting
        ]

    @strawberry.field(
        description="A file's history (opened, status, lead, reviews, visits, emergency "
        "access), oldest first; facts only. Null when unknown or erased.",
        permission_classes=authenticated,
    )
    async def care_file_timeline(
        self,
        info: strawberry.Info,
        file_id: Annotated[strawberry.ID, strawberry.argument(description="Care file id.")],
        first: First = 50,
        after: After = None,
    ) -> Connection[TimelineEntry] | None:
        principal = await access.caller(info)
        access.admit(READS, principal, "read-timeline")
        readmodel = state.readmodel(info)
        row = await asyncio.to_thread(readmodel.file, str(file_id))
        if row is None:
            return None
        if not await asyncio.to_thread(may_see, readmodel, principal, row):
            raise forbidden("only the file's lead, its school's care lead and the district read it")
        try:
            page = await asyncio.to_thread(
                readmodel.timeline, str(file_id), first=check_first(first), after=after
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, TimelineEntry)

    @strawberry.field(
        description="Home-visit coverage of families in care this school year, per class, "
        "school or district (the seeds' target: 100%). Open to every caller: counts under "
        "five are suppressed, with complementary suppression against each row's total.",
        permission_classes=authenticated,
    )
    async def care_coverage(
        self,
        info: strawberry.Info,
        level: Annotated[
            CoverageLevel, strawberry.argument(description="Class, school or district.")
        ] = CoverageLevel.SCHOOL,
        first: First = 20,
        after: After = None,
    ) -> Connection[CoverageFigure]:
        access.require(READS, await access.caller(info), "read-coverage")
        readmodel = state.readmodel(info)
        try:
            page = await asyncio.to_thread(
                readmodel.coverage,
                level.value,
                today=city_today().date(),
                first=check_first(first),
                after=after,
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, CoverageFigure)

    @strawberry.field(
        description="Home-delivered teaching (送教上门) this school year per class, school or "
        "district: children taught at home (suppressed under five) and sessions delivered. "
        "Open to every caller, like coverage.",
        permission_classes=authenticated,
    )
    async def care_home_teaching(
        self,
        info: strawberry.Info,
        level: Annotated[
            CoverageLevel, strawberry.argument(description="Class, school or district.")
        ] = CoverageLevel.DISTRICT,
        first: First = 20,
        after: After = None,
    ) -> Connection[HomeTeachingFigure]:
        access.require(READS, await access.caller(info), "read-coverage")
        readmodel = state.readmodel(info)
        try:
            page = await asyncio.to_thread(
                readmodel.home_teaching,
                level.value,
                today=city_today().date(),
                first=check_first(first),
                after=after,
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, HomeTeachingFigure)

    @strawberry.field(
        description="A school's emergency (break-glass) accesses to care files, open and of "
        "the last seven days, newest first, with reason and expiry: for the school's care "
        "lead and the district's care officer. Asked of the care service as the caller, "
        "which logs the read of each reason.",
        permission_classes=authenticated,
    )
    async def care_break_glass_alerts(
        self,
        info: strawberry.Info,
        school_id: Annotated[str, strawberry.argument(description="The school.")],
    ) -> list[BreakGlassAlert]:
        principal = await access.caller(info)
        access.admit(READS, principal, "read-worklist")
        body = await state.ask(info, f"/schools/{segment(school_id)}/break-glass", {})
        try:
            return [
                BreakGlassAlert(
                    file_id=strawberry.ID(str(a["file_id"])),
                    account=str(a["account"]),
                    reason=a.get("reason"),
                    opened_at=str(a["opened_at"]),
                    until=str(a["until"]),
                    open=bool(a["open"]),
                )
                for a in body["alerts"]
            ]
        except (KeyError, TypeError) as exc:
            raise coded(f"the care service answered oddly ({exc})", SERVICE_UNAVAILABLE) from None

    @strawberry.field(
        description="Who viewed this child: the file's access-log entries (reads and "
        "refusals), newest first, for the district's care officer and the school's care "
        "lead. Asked of the care service as the caller; the look is itself logged.",
        permission_classes=authenticated,
    )
    async def care_file_access_log(
        self,
        info: strawberry.Info,
        file_id: Annotated[strawberry.ID, strawberry.argument(description="Care file id.")],
        first: First = 20,
        after: After = None,
    ) -> Connection[FileAccess]:
        principal = await access.caller(info)
        access.admit(READS, principal, "read-timeline")
        params = {"limit": str(max(1, check_first(first)))}
        if after is not None:
            try:
                (before,) = decode_cursor(ACCESS_LOG_CURSOR, after, 1)
            except InvalidCursorError as exc:
                raise bad_input(str(exc)) from None
            params["before"] = str(before)
        body = await state.ask(info, f"/files/{segment(str(file_id))}/access-log", params)
        try:
            entries = [
                FileAccess(
                    seq=int(e["seq"]),
                    at=str(e["at"]),
                    subject=str(e["subject"]),
                    role=str(e["role"]),
                    department=e.get("department"),
                    fields=[str(f) for f in e["fields"]],
                    purpose=str(e["purpose"]),
                    outcome=str(e["outcome"]),
                )
                for e in body["entries"]
            ][:first]
            more = body.get("next_before") is not None
        except (KeyError, TypeError, ValueError) as exc:
            raise coded(f"the care service answered oddly ({exc})", SERVICE_UNAVAILABLE) from None
        edges = [Edge(cursor=encode_cursor(ACCESS_LOG_CURSOR, e.seq), node=e) for e in entries]
        return Connection(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        )
