"""GraphQL types of the alliance feature."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from gateway.alliance.readmodel import AssessmentRow, MilestoneRow, TargetRow, TaskRow


@strawberry.type(description="A milestone of a key task, with its due date.")
class Milestone:
    id: strawberry.ID
    title: str
    answerable: str = strawberry.field(description="The department answerable for it.")
    due_on: date
    reached_on: date | None
    on_time: bool | None = strawberry.field(
        description="Done by its due date; null while not done."
    )
    overdue: bool = strawberry.field(description="Not done and its due date has passed.")

    @classmethod
    def from_row(cls, row: MilestoneRow, today: date) -> Milestone:
        return cls(
            id=strawberry.ID(row.id),
            title=row.title,
            answerable=row.answerable,
            due_on=row.due_on,
            reached_on=row.reached_on,
            on_time=row.on_time,
            overdue=row.reached_on is None and row.due_on < today,
        )


@strawberry.type(description="A figure of one group (school, district, unit, department).")
class GroupFigure:
    group: str
    value: float | None = strawberry.field(description="Null when suppressed or not computable.")
    basis: int | None = strawberry.field(description="Events or people the value rests on.")
    met: bool | None
    suppressed: str | None = strawberry.field(
        description='"<5", "[c]" or "[x]" when hidden so that no child is singled out.'
    )


@strawberry.type(description="The value of a target on a day.")
class TrendPoint:
    day: date
    value: float | None


@strawberry.type(description="A target: its definition, and its value as of a day.")
class Target:
    id: strawberry.ID
    task_id: strawberry.ID
    title: str
    metric: str = strawberry.field(description="count, sum, share, coverage or rate.")
    event_types: list[str] = strawberry.field(description="The event types it counts.")
    denominator_types: list[str] = strawberry.field(description="What a ratio is taken of.")
    group_by: str
    period_kind: str = strawberry.field(description="term, school-year or calendar-year.")
    threshold: float
    about_children: bool
    period: str | None = strawberry.field(description="The period the value runs over.")
    as_of: date | None
    value: float | None = strawberry.field(description="The value over all groups.")
    met: bool | None = strawberry.field(description="Every group at or above the threshold.")
    groups_met: int | None
    groups: list[GroupFigure]
    trend: list[TrendPoint] = strawberry.field(
        description="The value at weekly steps up to the day asked about."
    )

    @classmethod
    def of(cls, row: TargetRow, figure: dict[str, Any] | None) -> Target:
        d = row.definition
        figure = figure or {}
        return cls(
            id=strawberry.ID(row.id),
            task_id=strawberry.ID(row.task_id),
            title=d.get("title", ""),
            metric=d.get("metric", ""),
            event_types=list(d.get("numerator", [])),
            denominator_types=list(d.get("denominator", [])),
            group_by=d.get("group_by", "city"),
            period_kind=d.get("period", ""),
            threshold=float(d.get("threshold", 0)),
            about_children=bool(d.get("about_children", False)),
            period=figure.get("period", row.period),
            as_of=date.fromisoformat(figure["as_of"]) if "as_of" in figure else None,
            value=figure.get("value", row.value),
            met=figure.get("met"),
            groups_met=figure.get("groups_met", row.groups_met),
            groups=[GroupFigure(**g) for g in figure.get("groups", [])],
            trend=[
                TrendPoint(day=date.fromisoformat(p["day"]), value=p["value"])
                for p in figure.get("trend", [])
            ],
        )


@strawberry.type(description="A key task: lead and supporting departments, milestones, targets.")
class Task:
    id: strawberry.ID
    code: str
    title: str
    action: str = strawberry.field(description="Which of the six actions it belongs to.")
    lead: str = strawberry.field(description="Lead department (code).")
    supporting: list[str] = strawberry.field(description="Supporting departments (codes).")
    starts_on: date
    ends_on: date
    milestones: list[Milestone]
    targets: list[Target]

    @classmethod
    def of(cls, row: TaskRow, milestones: list[Milestone], targets: list[Target]) -> Task:
        return cls(
            id=strawberry.ID(row.id),
            code=row.code,
            title=row.title,
            action=row.action,
            lead=row.lead,
            supporting=row.supporting,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            milestones=milestones,
            targets=targets,
        )


@strawberry.type(description="A unit's progress against its campaign quota.")
class UnitProgress:
    unit: str
    done: float
    percent_of_quota: float


@strawberry.type(description="A campaign with a quota per unit, as of a day.")
class Campaign:
    id: strawberry.ID
    task_id: strawberry.ID
    title: str
    unit: str = strawberry.field(description="What a quota is per: school, district, unit.")
    quota: float
    period: str
    as_of: date
    units: list[UnitProgress]
    lagging: list[str] = strawberry.field(description="Units below their quota.")


@strawberry.type(description="One department's results over a period.")
class Scorecard:
    department: str
    tasks_led: int
    tasks_supported: int
    milestones_due: int
    milestones_on_time: int
    targets: int
    targets_met: int


@strawberry.type(description="Department scorecards over a period, as of a day.")
class Scorecards:
    period: str
    as_of: date
    scorecards: list[Scorecard]


@strawberry.type(description="A closed assessment: the frozen scorecards and the corrected ones.")
class Assessment:
    id: strawberry.ID
    period: str
    starts_on: date
    ends_on: date
    closed_at: str
    frozen: list[Scorecard] = strawberry.field(description="As closed; never rewritten.")
    current: list[Scorecard] = strawberry.field(description="After the latest correction.")
    corrections: int
    last_reason: str | None

    @classmethod
    def from_row(cls, row: AssessmentRow) -> Assessment:
        return cls(
            id=strawberry.ID(row.id),
            period=row.period,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            closed_at=row.closed_at,
            frozen=[Scorecard(**c) for c in row.frozen],
            current=[Scorecard(**c) for c in row.current],
            corrections=row.corrections,
            last_reason=row.last_reason,
        )


@strawberry.type(description="An event behind a figure: ids, day and groups, no person.")
class Contribution:
    event_key: str = strawberry.field(description="<source>/<CloudEvent id>.")
    event_type: str
    department: str
    day: date
    school: str
    district: str
    unit: str
    quantity: float


@strawberry.type(description="A target's figure moved (pushed live).")
class TargetMove:
    target_id: strawberry.ID
    period: str | None
    value: float | None
    groups: int | None
    groups_met: int | None
    moved_at: str | None
