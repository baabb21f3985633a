"""GraphQL types of the alliance feature."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from gateway.alliance.readmodel import AssessmentRow, MilestoneRow, TargetRow, TaskRow


@strawberry.type(description="A milestone of a key task, with its due date.")
class Milestone:
    id: strawberry.ID = strawberry.field(description="Its id.")
    title: str = strawberry.field(description="As the city's plan words it.")
    answerable: str = strawberry.field(description="The department answerable for it.")
    due_on: date = strawberry.field(description="Due date.")
    reached_on: date | None = strawberry.field(
        description="When it was reported done; null while not done."
    )
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
    group: str = strawberry.field(
        description="The school, district, unit or department code ('city' for the whole city)."
    )
    value: float | None = strawberry.field(description="Null when suppressed or not computable.")
    basis: int | None = strawberry.field(description="Events or people the value rests on.")
    met: bool | None = strawberry.field(description="At or above the threshold.")
    suppressed: str | None = strawberry.field(
        description='"<5", "[c]" or "[x]" when hidden so that no child is singled out.'
    )


@strawberry.type(description="The value of a target on a day.")
class TrendPoint:
    day: date = strawberry.field(description="The day.")
    value: float | None = strawberry.field(description="The value.")


@strawberry.type(description="A target: its definition, and its value as of a day.")
class Target:
    id: strawberry.ID = strawberry.field(description="Its id.")
    task_id: strawberry.ID = strawberry.field(description="The key task it belongs to.")
    title: str = strawberry.field(description="As the city's plan words it.")
    metric: str = strawberry.field(description="count, sum, share, coverage or rate.")
    event_types: list[str] = strawberry.field(description="The event types it counts.")
    denominator_types: list[str] = strawberry.field(description="What a ratio is taken of.")
    group_by: str = strawberry.field(
        description="What each group figure is per: city, district, school, unit, department."
    )
    period_kind: str = strawberry.field(description="term, school-year or calendar-year.")
    threshold: float = strawberry.field(description="The value each group must reach.")
    about_children: bool = strawberry.field(
        description="Small cells are suppressed (fewer than five)."
    )
    period: str | None = strawberry.field(description="The period the value runs over.")
    as_of: date | None = strawberry.field(description="The day the figure is as of.")
    value: float | None = strawberry.field(description="The value over all groups.")
    met: bool | None = strawberry.field(description="Every group at or above the threshold.")
    groups_met: int | None = strawberry.field(description="Groups at or above the threshold.")
    groups: list[GroupFigure] = strawberry.field(description="The figure per group.")
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
    id: strawberry.ID = strawberry.field(description="Its id.")
    code: str = strawberry.field(description="The task's code in the city's list.")
    title: str = strawberry.field(description="As the city's plan words it.")
    action: str = strawberry.field(description="Which of the six actions it belongs to.")
    lead: str = strawberry.field(description="Lead department (code).")
    supporting: list[str] = strawberry.field(description="Supporting departments (codes).")
    starts_on: date = strawberry.field(description="First day.")
    ends_on: date = strawberry.field(description="Last day.")
    milestones: list[Milestone] = strawberry.field(description="Milestones, by due date.")
    targets: list[Target] = strawberry.field(
        description="Targets of the tasks it leads (scorecard) or of this task."
    )

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
    unit: str = strawberry.field(description="The unit.")
    done: float = strawberry.field(description="Events counted so far in the period.")
    percent_of_quota: float = strawberry.field(description="Done as a percentage of the quota.")


@strawberry.type(description="A campaign with a quota per unit, as of a day.")
class Campaign:
    id: strawberry.ID = strawberry.field(description="Its id.")
    task_id: strawberry.ID = strawberry.field(description="The key task it belongs to.")
    title: str = strawberry.field(description="As the city's plan words it.")
    unit: str = strawberry.field(description="What a quota is per: school, district, unit.")
    quota: float = strawberry.field(description="Each unit's quota for the period.")
    period: str = strawberry.field(description="The period (e.g. 2026-2027-term-1).")
    as_of: date = strawberry.field(description="The day the figure is as of.")
    units: list[UnitProgress] = strawberry.field(description="Each unit's progress.")
    lagging: list[str] = strawberry.field(description="Units below their quota.")


@strawberry.type(description="One department's results over a period.")
class Scorecard:
    department: str = strawberry.field(description="Department code.")
    tasks_led: int = strawberry.field(description="Key tasks it leads.")
    tasks_supported: int = strawberry.field(description="Key tasks it supports.")
    milestones_due: int = strawberry.field(description="Its milestones due in the period.")
    milestones_on_time: int = strawberry.field(description="Of those, done by the due date.")
    targets: int = strawberry.field(
        description="Targets of the tasks it leads (scorecard) or of this task."
    )
    targets_met: int = strawberry.field(description="Of those, met.")


@strawberry.type(description="Department scorecards over a period, as of a day.")
class Scorecards:
    period: str = strawberry.field(description="The period (e.g. 2026-2027-term-1).")
    as_of: date = strawberry.field(description="The day the figure is as of.")
    scorecards: list[Scorecard] = strawberry.field(description="One per department.")


@strawberry.type(description="A closed assessment: the frozen scorecards and the corrected ones.")
class Assessment:
    id: strawberry.ID = strawberry.field(description="Its id.")
    period: str = strawberry.field(description="The period (e.g. 2026-2027-term-1).")
    starts_on: date = strawberry.field(description="First day.")
    ends_on: date = strawberry.field(description="Last day.")
    closed_at: str = strawberry.field(description="When it was closed.")
    frozen: list[Scorecard] = strawberry.field(description="As closed; never rewritten.")
    current: list[Scorecard] = strawberry.field(description="After the latest correction.")
    corrections: int = strawberry.field(description="How many corrections followed.")
    last_reason: str | None = strawberry.field(description="Why it was last corrected.")

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
    event_type: str = strawberry.field(description="The CloudEvents type.")
    department: str = strawberry.field(description="Department code.")
    day: date = strawberry.field(description="The day.")
    school: str = strawberry.field(description="School code ('' if none).")
    district: str = strawberry.field(description="District code ('' if none).")
    unit: str = strawberry.field(description="The unit.")
    quantity: float = strawberry.field(description="What it adds to a sum (1 for a count).")


@strawberry.type(description="A target's figure moved (pushed live).")
class TargetMove:
    target_id: strawberry.ID = strawberry.field(description="The target.")
    period: str | None = strawberry.field(description="The period (e.g. 2026-2027-term-1).")
    value: float | None = strawberry.field(description="The value.")
    groups: int | None = strawberry.field(description="The figure per group.")
    groups_met: int | None = strawberry.field(description="Groups at or above the threshold.")
    moved_at: str | None = strawberry.field(description="When the movement was recorded.")
