"""Events published by the alliance service (owned by the Education Bureau, `edu`, for the
city's leading group): key tasks, their milestones and targets, campaigns, the figures'
movements and the assessment of each period.

Figures are about groups (a school, a district, a department), never about a person.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts.events import ContractEvent, classified

Metric = Literal["count", "sum", "share", "coverage", "rate"]
GroupBy = Literal["city", "district", "school", "unit", "department"]
PeriodKind = Literal["term", "school-year", "calendar-year"]


class _AllianceEvent(ContractEvent):
    boundary = "alliance"


class TaskDefined(_AllianceEvent):
    """The city put a key task on its list, with its lead and supporting departments."""

    event_name = "task-defined"
    task_id: str = classified("id", "Task id (UUID).")
    code: str = classified("code", "The task's short code in the city's list (e.g. T01).")
    title: str = classified("public-text", "The task as the city's list names it.")
    action: str = classified("code", "Which of the six actions it belongs to.")
    lead: str = classified("code", "Lead department (code).")
    supporting: list[str] = classified("code", "Supporting departments (codes).")
    starts_on: date = classified("time", "First day of the task.")
    ends_on: date = classified("time", "Last day of the task.")


class MilestoneScheduled(_AllianceEvent):
    """A milestone with its due date was added to a key task."""

    event_name = "milestone-scheduled"
    task_id: str = classified("id", "Task id (UUID).")
    milestone_id: str = classified("id", "Milestone id (UUID).")
    title: str = classified("public-text", "What is to be done by the due date.")
    answerable: str = classified("code", "The department answerable for it (code).")
    due_on: date = classified("time", "Due date.")


class MilestoneReached(_AllianceEvent):
    """The department answerable for a milestone reported it done."""

    event_name = "milestone-reached"
    task_id: str = classified("id", "Task id (UUID).")
    milestone_id: str = classified("id", "Milestone id (UUID).")
    reached_on: date = classified("time", "The day it was done.")
    on_time: bool = classified("fact", "Done by its due date.")


class TargetDefined(_AllianceEvent):
    """A target of a key task: a metric over named event types, a threshold and a period."""

    event_name = "target-defined"
    target_id: str = classified("id", "Target id (UUID).")
    task_id: str = classified("id", "The key task it measures.")
    title: str = classified("public-text", "What the target says, as the city writes it.")
    metric: Metric = classified("fact", "count, sum, share, coverage or rate.")
    numerator: list[str] = classified("code", "Event types counted (CloudEvents types).")
    numerator_where: dict[str, str] = classified("code", "Facet filter on the numerator.")
    denominator: list[str] = classified("code", "Event types the share is taken of.")
    denominator_where: dict[str, str] = classified("code", "Facet filter on the denominator.")
    group_by: GroupBy = classified("code", "What each figure is per.")
    threshold: float = classified("fact", "Each group's value must reach this.")
    period: PeriodKind = classified("code", "The period the figure runs over.")
    about_children: bool = classified("fact", "Small cells are suppressed (under 5).")


class TargetMoved(_AllianceEvent):
    """A target's figure for the current period changed (after the events that moved it)."""

    event_name = "target-moved"
    target_id: str = classified("id", "Target id (UUID).")
    period: str = classified("code", "The period (e.g. 2026-2027-term-1).")
    value: float | None = classified("fact", "The value over all groups (None: nothing yet).")
    groups: int = classified("fact", "Groups with a figure.", ge=0)
    groups_met: int = classified("fact", "Groups at or above the threshold.", ge=0)
    moved_at: datetime = classified("time", "When the movement was recorded.")


class CampaignLaunched(_AllianceEvent):
    """A campaign with a quota per unit (each school at least N lectures a term)."""

    event_name = "campaign-launched"
    campaign_id: str = classified("id", "Campaign id (UUID).")
    task_id: str = classified("id", "The key task it serves.")
    title: str = classified("public-text", "The campaign's name.")
    counts: list[str] = classified("code", "Event types counted toward the quota.")
    counts_where: dict[str, str] = classified("code", "Facet filter on what counts.")
    unit: GroupBy = classified("code", "What a quota is per (school, district, unit).")
    units: list[str] = classified("code", "The units held to the quota.")
    quota: float = classified("fact", "Each unit's quota for the period.", gt=0)
    period: PeriodKind = classified("code", "The period the quota runs over.")


class Scorecard(BaseModel):
    """One department's results over an assessment period."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str = classified("code", "Department code.")
    tasks_led: int = classified("fact", "Key tasks it leads.", ge=0)
    tasks_supported: int = classified("fact", "Key tasks it supports.", ge=0)
    milestones_due: int = classified("fact", "Its milestones due in the period.", ge=0)
    milestones_on_time: int = classified("fact", "Of those, done by the due date.", ge=0)
    targets: int = classified("fact", "Targets of the tasks it leads.", ge=0)
    targets_met: int = classified("fact", "Of those, met at the period's end.", ge=0)


class AssessmentClosed(_AllianceEvent):
    """A period was assessed: each department's scorecard, frozen as it stood."""

    event_name = "assessment-closed"
    assessment_id: str = classified("id", "Assessment id (UUID).")
    period: str = classified("code", "The period assessed (e.g. 2025-2026-school-year).")
    starts_on: date = classified("time", "First day of the period.")
    ends_on: date = classified("time", "Last day of the period.")
    scorecards: list[Scorecard] = classified("fact", "One scorecard per department.")
    closed_at: datetime = classified("time", "When it was closed.")


class AssessmentCorrected(_AllianceEvent):
    """A closed assessment was corrected (late reports counted): the new scorecards, beside
    the frozen ones, which stay as they were."""

    event_name = "assessment-corrected"
    assessment_id: str = classified("id", "Assessment id (UUID).")
    correction: int = classified("fact", "1 for the first correction, and so on.", ge=1)
    scorecards: list[Scorecard] = classified("fact", "The scorecards as corrected.")
    reason: str = classified("public-text", "Why it was corrected.")
    corrected_at: datetime = classified("time", "When it was corrected.")


ALLIANCE_EVENTS: tuple[type[ContractEvent], ...] = (
    TaskDefined,
    MilestoneScheduled,
    MilestoneReached,
    TargetDefined,
    TargetMoved,
    CampaignLaunched,
    AssessmentClosed,
    AssessmentCorrected,
)
