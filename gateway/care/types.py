"""GraphQL types of the care feature: facts about files, never about a child."""

from __future__ import annotations

from datetime import date
from enum import Enum

import strawberry

from gateway.care.readmodel import CoverageRow, FileRow, TimelineRow
from gateway.core.figures import Count, count_row


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
    review_overdue: bool = strawberry.field(description="The review date has passed.")
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
            last_visit_on=row.last_visit_on,
            next_visit_on=row.next_visit_on,
            visit_due=row.visit_due(today),
        )


@strawberry.type(description="One entry of a file's history: what happened, never notes.")
class TimelineEntry:
    at: str = strawberry.field(description="When (a date or a time).")
    kind: str = strawberry.field(
        description="opened, status, lead-assigned, review-due, visit or break-glass."
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
