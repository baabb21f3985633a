"""Queries of the courses feature: reads of the read model, paginated by keyset."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from contracts.courses import parse_term, term_of
from gateway import access
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
)
from gateway.courses import state
from gateway.courses.policy import READS
from gateway.courses.readmodel import period_key
from gateway.courses.types import (
    ChildStage,
    Course,
    CourseTheme,
    LectureQuota,
    ParentPoints,
    ParentSchool,
    ParentSchoolLevel,
    Participation,
    PointsPeriod,
    Rank,
    RankingEntry,
    RankScope,
    Session,
    StandardFigure,
    TermParticipation,
    TrainedFigure,
    TrainingBatch,
)
from gateway.errors import bad_input
from services.kit.citytime import city_day
from services.kit.deadlines import default_clock
from services.kit.errors import ForbiddenError

authenticated: list[type[BasePermission]] = [Authenticated]
On = Annotated[
    date | None,
    strawberry.argument(description="A day in the week or month wanted (default: today)."),
]
DistrictFilter = Annotated[str | None, strawberry.argument(description="Only this district.")]
TermArgument = Annotated[
    str | None,
    strawberry.argument(description="A term, e.g. 2026-2027-term-1 (default: the current one)."),
]


def _term(label: str | None) -> str:
    if label is None:
        return term_of(_today()).label
    try:
        return parse_term(label).label
    except ValueError as exc:
        raise bad_input(str(exc)) from None


def _now() -> datetime:
    # The kit's clock: the wall clock, or the one a test moves (TONGXIN_CLOCK_FILE).
    return default_clock().now()


def _today() -> date:
    return city_day(_now())


@strawberry.type
class CoursesQuery:
    @strawberry.field(
        description="Parent schools by district, level and id, with their ten-haves status.",
        permission_classes=authenticated,
    )
    async def parent_schools(
        self,
        info: strawberry.Info,
        first: First = 20,
        after: After = None,
        district: DistrictFilter = None,
        level: ParentSchoolLevel | None = None,
    ) -> Connection[ParentSchool]:
        access.require(READS, await access.caller(info), "read-catalogue")
        try:
            page = await asyncio.to_thread(
                state.readmodel(info).parent_schools,
                first=check_first(first),
                after=after,
                district=district,
                level=level.value if level else None,
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, ParentSchool)

    @strawberry.field(
        description="Share of parent schools meeting the ten haves today, per district and level.",
        permission_classes=authenticated,
    )
    async def parent_school_standard(self, info: strawberry.Info) -> list[StandardFigure]:
        access.require(READS, await access.caller(info), "read-figures")
        rows = await asyncio.to_thread(state.readmodel(info).standard)
        return [StandardFigure.from_row(row) for row in rows]

    @strawberry.field(
        description="The course catalogue by title, searched by child stage and theme; retired "
        "courses are left out.",
        permission_classes=authenticated,
    )
    async def courses(
        self,
        info: strawberry.Info,
        first: First = 20,
        after: After = None,
        stage: ChildStage | None = None,
        theme: CourseTheme | None = None,
    ) -> Connection[Course]:
        access.require(READS, await access.caller(info), "read-catalogue")
        try:
            page = await asyncio.to_thread(
                state.readmodel(info).courses,
                first=check_first(first),
                after=after,
                stage=stage.value if stage else None,
                theme=theme.value if theme else None,
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, Course)

    @strawberry.field(
        description="Sessions by start time; by default only those not over yet.",
        permission_classes=authenticated,
    )
    async def sessions(
        self,
        info: strawberry.Info,
        first: First = 20,
        after: After = None,
        upcoming: Annotated[
            bool, strawberry.argument(description="Only sessions not over yet.")
        ] = True,
        school_id: Annotated[
            str | None, strawberry.argument(description="Only this school's.")
        ] = None,
    ) -> Connection[Session]:
        access.require(READS, await access.caller(info), "read-catalogue")
        try:
            page = await asyncio.to_thread(
                state.readmodel(info).sessions,
                first=check_first(first),
                after=after,
                upcoming_from=_now() if upcoming else None,
                school_id=school_id,
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, Session)

    @strawberry.field(
        description="One session, or null if unknown.", permission_classes=authenticated
    )
    async def session(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Session id.")],
    ) -> Session | None:
        access.require(READS, await access.caller(info), "read-catalogue")
        row = await asyncio.to_thread(state.readmodel(info).session, str(id))
        return Session.from_row(row) if row else None

    @strawberry.field(
        description="A parent's points and rank in their class, school, district and the city. "
        "For the parent themself and for staff covering the parent's school.",
        permission_classes=authenticated,
    )
    async def parent_points(
        self,
        info: strawberry.Info,
        parent_id: Annotated[strawberry.ID, strawberry.argument(description="Parent id.")],
        period: PointsPeriod = PointsPeriod.MONTH,
        on: On = None,
    ) -> ParentPoints | None:
        principal = await access.caller(info)
        own = access.admit(READS, principal, "read-points", volunteer_id=str(parent_id))
        readmodel = state.readmodel(info)
        parent = await asyncio.to_thread(readmodel.parent, str(parent_id))
        if parent is None:
            return None
        if not own:
            access.require(READS, principal, "read-points", school_id=parent.school_id)
        key = period_key(period.value, on or _today())
        standings = await asyncio.to_thread(readmodel.standings, parent, key)
        scopes = (RankScope.CLASS, RankScope.SCHOOL, RankScope.DISTRICT, RankScope.CITY)
        return ParentPoints(
            parent_id=strawberry.ID(parent.id),
            period=key,
            points=standings[0].points,
            ranks=[
                Rank(scope=scope, rank=s.rank, parents_ranked=s.parents)
                for scope, s in zip(scopes, standings, strict=True)
            ],
        )

    @strawberry.field(
        description="A ranking of parents by points in one period: ranks and points for all; "
        "names only of parents who opted in (or for the bureau's staff in scope); ids for staff "
        "covering the school. `schoolId` for SCHOOL and CLASS, `classId` for CLASS, `district` "
        "for DISTRICT.",
        permission_classes=authenticated,
    )
    async def ranking(
        self,
        info: strawberry.Info,
        scope: RankScope,
        period: PointsPeriod = PointsPeriod.MONTH,
        on: On = None,
        district: str | None = None,
        school_id: str | None = None,
        class_id: str | None = None,
        first: First = 20,
        after: After = None,
    ) -> Connection[RankingEntry]:
        principal = await access.caller(info)
        access.require(READS, principal, "read-figures")
        needed = {
            RankScope.CITY: (),
            RankScope.DISTRICT: (("district", district),),
            RankScope.SCHOOL: (("schoolId", school_id),),
            RankScope.CLASS: (("schoolId", school_id), ("classId", class_id)),
        }[scope]
        missing = [name for name, value in needed if not value]
        if missing:
            raise bad_input(f"a {scope.value} ranking needs {' and '.join(missing)}")
        try:
            page = await asyncio.to_thread(
                state.readmodel(info).ranking,
                scope=scope.value,
                period=period_key(period.value, on or _today()),
                first=check_first(first),
                after=after,
                district=district or "",
                school_id=school_id or "",
                class_id=class_id or "",
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        try:
            as_staff = not READS.admit(principal, "read-ranking-ids")
        except ForbiddenError:
            as_staff = False
        edges = []
        for row, cursor in zip(page.rows, page.cursors, strict=True):
            staff_here = as_staff and access.covers(principal, row.school_id)
            entry = RankingEntry(
                rank=row.rank,
                points=row.points,
                parent_id=strawberry.ID(row.parent_id) if staff_here else None,
                lookup_id=row.parent_id if staff_here or row.opted_in else None,
            )
            edges.append(Edge(cursor=cursor, node=entry))
        return Connection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field(
        description="Parents enrolled and taking part, per school, against the 90% target.",
        permission_classes=authenticated,
    )
    async def participation(
        self,
        info: strawberry.Info,
        first: First = 20,
        after: After = None,
        district: DistrictFilter = None,
    ) -> Connection[Participation]:
        access.require(READS, await access.caller(info), "read-figures")
        try:
            page = await asyncio.to_thread(
                state.readmodel(info).participation,
                first=check_first(first),
                after=after,
                district=district,
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, Participation)

    @strawberry.field(
        description="Participation in one term against the 80% floor and the 90% target: per "
        "school, or per class with `schoolId`.",
        permission_classes=authenticated,
    )
    async def term_participation(
        self,
        info: strawberry.Info,
        term: TermArgument = None,
        school_id: Annotated[
            str | None, strawberry.argument(description="Per class of this school.")
        ] = None,
        district: DistrictFilter = None,
    ) -> list[TermParticipation]:
        access.require(READS, await access.caller(info), "read-figures")
        rows = await asyncio.to_thread(
            state.readmodel(info).term_participation,
            _term(term),
            school_id=school_id,
            district=district,
        )
        return [TermParticipation.from_row(row) for row in rows]

    @strawberry.field(
        description="A term's lecture quota with each school's lectures and the schools "
        "lagging; null when no quota is set for the term.",
        permission_classes=authenticated,
    )
    async def lecture_quota(
        self, info: strawberry.Info, term: TermArgument = None
    ) -> LectureQuota | None:
        access.require(READS, await access.caller(info), "read-figures")
        row = await asyncio.to_thread(state.readmodel(info).lecture_quota, _term(term), now=_now())
        return LectureQuota.from_row(row) if row else None

    @strawberry.field(
        description="Teacher-training batches by first day.", permission_classes=authenticated
    )
    async def training_batches(
        self, info: strawberry.Info, first: First = 20, after: After = None
    ) -> Connection[TrainingBatch]:
        access.require(READS, await access.caller(info), "read-catalogue")
        try:
            page = await asyncio.to_thread(
                state.readmodel(info).training_batches, first=check_first(first), after=after
            )
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
        return connection(page, TrainingBatch)

    @strawberry.field(
        description="Teachers certified by training per district, or per school with `perSchool`.",
        permission_classes=authenticated,
    )
    async def trained_teachers(
        self,
        info: strawberry.Info,
        per_school: Annotated[
            bool, strawberry.argument(description="One figure per school.")
        ] = False,
    ) -> list[TrainedFigure]:
        access.require(READS, await access.caller(info), "read-figures")
        rows = await asyncio.to_thread(state.readmodel(info).trained, per_school=per_school)
        return [TrainedFigure.from_row(row) for row in rows]
