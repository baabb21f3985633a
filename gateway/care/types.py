"""GraphQL types of the care feature: facts about files, never about a child."""

from __future__ import annotations

from datetime import date
from enum import Enum

import strawberry

from gateway.care.readmodel import CoverageRow, FileRow, HomeTeachingRow, TimelineRow
from gateway.core.figures import Count, count, count_row


@strawberry.enum(description="How far coverage is broken down.")
class CoverageLevel(Enum):
    CLASS = "class"
    SCHOOL = "school"
    DISTRICT = "district"


@strawberry.type(
    description="A care file on a worklist: an opaque id, where it counts and what is due. "
    "Who the child is and why the file exists are read in the care service, by the people "
    "assigned."
)
class WorklistItem:
    file_id: strawberry.ID = strawberry.field(description="Care file id.")
    school_id: str = strawberry.field(description="The child's school.")
    class_id: str = strawberry.field(description="The child's class.")
    status: str = strawberry.field(description="open, monitoring or reopened.")
    lead_id: str | None = strawberry.field(description="The team lead's account, if any.")
    review_on: date | None = strawberry.field(description="The next review date.")
    review_overdue: bool = strawberry.field(
        description="The review date has passed (or the care service flagged it overdue)."
    )
    review_flagged_on: date | None = strawberry.field(
        description="The review date the care service's deadline found passed, if it did."
    )
    last_visit_on: date | None = strawberry.field(description="The last home visit.")
    next_visit_on: date | None = strawberry.field(description="When the next visit is due.")
    visit_due: bool = strawberry.field(
        description="A visit is due: its date has come, or none this school year."
    )

    @classmethod
    def of(cls, row: FileRow, today: date) -> WorklistItem:
        return cls(
            file_id=strawberry.ID(row.id),
            school_id=row.school_id,
            class_id=row.class_id,
            status=row.status,
            lead_id=row.lead_id,
            review_on=row.review_on,
            review_overdue=row.review_overdue(today),
            review_flagged_on=row.review_overdue_on,
            last_visit_on=row.last_visit_on,
            next_visit_on=row.next_visit_on,
            visit_due=row.visit_due(today),
        )


@strawberry.type(description="One entry of a file's history: what happened, never notes.")
class TimelineEntry:
    at: str = strawberry.field(description="When (a date or a time).")
    kind: str = strawberry.field(
        description="opened, status, lead-assigned, review-due, review-overdue, visit, "
        "follow-up, home-teaching, home-session or break-glass."
    )
    detail: str = strawberry.field(description="The facts: a status, a visit's mode and size.")

    @classmethod
    def from_row(cls, row: TimelineRow) -> TimelineEntry:
        return cls(at=row.at, kind=row.kind, detail=row.detail)


@strawberry.type(
    description="Home-visit coverage of families in care this school year, for one class, "
    "school or district; every count of children is suppressed under five."
)
class CoverageFigure:
    key: str = strawberry.field(
        description="The class (`school/class`), school or district the figure is for."
    )
    files_in_care: Count = strawberry.field(description="Families in care.")
    visited: Count = strawberry.field(description="Of those, visited this school year.")
    not_visited: Count = strawberry.field(description="Of those, not visited yet.")
    share_visited: float | None = strawberry.field(
        description="visited / files in care (0–1); null when either is suppressed."
    )

    @classmethod
    def from_row(cls, row: CoverageRow) -> CoverageFigure:
        figures = count_row(
            {"visited": row.visited, "not_visited": row.files - row.visited}, total=row.files
        )
        assert figures.total is not None
        visited, total = figures.cells["visited"], figures.total
        share = (
            round(visited.value / total.value, 4)
            if visited.value is not None and total.value
            else None
        )
        return cls(
            key=row.key,
            files_in_care=total,
            visited=visited,
            not_visited=figures.cells["not_visited"],
            share_visited=share,
        )


@strawberry.type(description="Children referred by a department, waiting for a file.")
class IntakesWaiting:
    school_id: str = strawberry.field(description="The school asked to open the files.")
    intake_ids: list[strawberry.ID] = strawberry.field(
        description="Their ids, to open each file in the care service (a worklist "
        "for staff in scope, not a published figure)."
    )


@strawberry.type(
    description="Home-delivered teaching (送教上门) this school year for one class, school or "
    "district: children taught at home (suppressed under five) and the sessions given, "
    "shown only with a count of children that is."
)
class HomeTeachingFigure:
    key: str = strawberry.field(
        description="The class (`school/class`), school or district the figure is for."
    )
    children: Count = strawberry.field(description="Children taught at home.")
    sessions_delivered: int | None = strawberry.field(
        description="Sessions delivered; null when the children's count is suppressed."
    )
    hours_delivered: float | None = strawberry.field(
        description="Hours of teaching delivered; null when the children's count is suppressed."
    )

    @classmethod
    def from_row(cls, row: HomeTeachingRow) -> HomeTeachingFigure:
        children = count(row.children)
        shown = children.value is not None
        return cls(
            key=row.key,
            children=children,
            sessions_delivered=row.sessions if shown else None,
            hours_delivered=round(row.hours, 1) if shown else None,
        )


@strawberry.type(
    description="An emergency access to a child's file at a school, as the care service "
    "answers it to the school's care lead and the district (the reason is personal data, "
    "read in the service and logged there)."
)
class BreakGlassAlert:
    file_id: strawberry.ID = strawberry.field(description="Care file id.")
    account: str = strawberry.field(description="Who broke the glass (account id).")
    reason: str | None = strawberry.field(description="Why; null once the child is erased.")
    opened_at: str = strawberry.field(description="When the access began.")
    until: str = strawberry.field(description="When it ends (or ended).")
    open: bool = strawberry.field(description="Whether it is still running.")


@strawberry.type(description="One access to a child's file: who, as what, which fields, why.")
class FileAccess:
    seq: int = strawberry.field(description="Place in the service's hash-chained access log.")
    at: str = strawberry.field(description="When (UTC).")
    subject: str = strawberry.field(description="The account.")
    role: str = strawberry.field(description="Its role.")
    department: str | None = strawberry.field(description="Its department.")
    fields: list[str] = strawberry.field(description="The fields read or asked for.")
    purpose: str = strawberry.field(description="Why, as declared or as the relation allowed.")
    outcome: str = strawberry.field(description="allowed or denied.")
