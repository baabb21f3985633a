"""Mutations of the alliance feature: the leading group's commands forwarded to the alliance
service as the caller, with their idempotency key (see `gateway.core.commands`). The
service decides and refuses (a target over an event type that does not exist, a share's
threshold outside 0–100, a milestone outside its task): the refusal comes back as the
mutation's error with the service's problem code, and nothing is appended."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated, Any

import strawberry

from gateway.alliance.state import NAME
from gateway.context import Authenticated
from gateway.core.commands import CommandError, IdempotencyKey, forward, int_field
from gateway.core.service import Problem, segment


@strawberry.enum(description="How a target's figure is computed from its events.")
class TargetMetric(Enum):
    COUNT = "count"
    SUM = "sum"
    SHARE = "share"
    COVERAGE = "coverage"
    RATE = "rate"


@strawberry.enum(description="What a target's figure is given per.")
class TargetGroupBy(Enum):
    CITY = "city"
    DISTRICT = "district"
    SCHOOL = "school"
    UNIT = "unit"
    DEPARTMENT = "department"


@strawberry.enum(description="The period a figure runs over.")
class TargetPeriod(Enum):
    TERM = "term"
    SCHOOL_YEAR = "school-year"
    CALENDAR_YEAR = "calendar-year"


@strawberry.input(description="A facet value the counted events must have.")
class FacetValue:
    name: str = strawberry.field(description="A facet the event types' measure offers.")
    value: str = strawberry.field(description="The value events must have.")


@strawberry.input(description="Event types and a facet filter: what a figure counts.")
class SelectionInput:
    event_types: list[str] = strawberry.field(
        description="CloudEvent types (org.tongxin.<boundary>.<event>.v<major>), 1 to 10."
    )
    where: list[FacetValue] = strawberry.field(
        default_factory=list, description="Facet values the events must have."
    )

    def body(self) -> dict[str, Any]:
        return {"event_types": self.event_types, "where": {f.name: f.value for f in self.where}}


@strawberry.type(description="Why the alliance service refused a command.")
class AllianceCommandError(CommandError):
    pass


# -- defineAllianceTask ---------------------------------------------------------------------


@strawberry.input(description="A key task on the city's list.")
class DefineAllianceTaskInput:
    code: str = strawberry.field(description="The task's code in the city's list (T01 …).")
    title: str = strawberry.field(description="What the task is.")
    action: str = strawberry.field(description="Which of the six actions it belongs to.")
    lead: str = strawberry.field(description="The lead department's code.")
    supporting: list[str] = strawberry.field(
        default_factory=list, description="Supporting departments' codes."
    )
    starts_on: date = strawberry.field(description="First day of the task.")
    ends_on: date = strawberry.field(description="Last day of the task.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The task is on the city's list.")
class DefineAllianceTaskSuccess:
    task_id: strawberry.ID = strawberry.field(description="The new task's id.")
    version: int = strawberry.field(description="Version of the plan after the command.")


DefineAllianceTaskResult = Annotated[
    DefineAllianceTaskSuccess | AllianceCommandError,
    strawberry.union("DefineAllianceTaskResult", description="Outcome of defineAllianceTask."),
]

# -- scheduleAllianceMilestone --------------------------------------------------------------


@strawberry.input(description="A milestone of a key task.")
class ScheduleAllianceMilestoneInput:
    task_id: strawberry.ID = strawberry.field(description="The task.")
    title: str = strawberry.field(description="What is to be reached.")
    answerable: str = strawberry.field(description="The department answerable for it.")
    due_on: date = strawberry.field(description="Due date, inside the task's days.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The milestone is scheduled.")
class ScheduleAllianceMilestoneSuccess:
    task_id: strawberry.ID = strawberry.field(description="The task.")
    milestone_id: strawberry.ID = strawberry.field(description="The new milestone's id.")
    version: int = strawberry.field(description="Version of the plan after the command.")


ScheduleAllianceMilestoneResult = Annotated[
    ScheduleAllianceMilestoneSuccess | AllianceCommandError,
    strawberry.union(
        "ScheduleAllianceMilestoneResult", description="Outcome of scheduleAllianceMilestone."
    ),
]

# -- defineAllianceTarget -------------------------------------------------------------------


@strawberry.input(description="A target of a key task: a definition evaluated from events.")
class DefineAllianceTargetInput:
    task_id: strawberry.ID = strawberry.field(description="The task it measures.")
    title: str = strawberry.field(description="What the target says.")
    metric: TargetMetric = strawberry.field(description="How the figure is computed.")
    numerator: SelectionInput = strawberry.field(description="What is counted.")
    denominator: SelectionInput | None = strawberry.field(
        default=None, description="What a share, coverage or rate is taken of."
    )
    group_by: TargetGroupBy = strawberry.field(
        default=TargetGroupBy.CITY, description="What each figure is per."
    )
    threshold: float = strawberry.field(
        description="The value each group must reach (0–100 for a share or a coverage)."
    )
    period: TargetPeriod = strawberry.field(description="The period the figure runs over.")
    about_children: bool = strawberry.field(
        default=False, description="Suppress groups resting on fewer than five."
    )
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The target is defined; its figure is computed from the events.")
class DefineAllianceTargetSuccess:
    target_id: strawberry.ID = strawberry.field(description="The new target's id.")
    version: int = strawberry.field(description="Version of the plan after the command.")


DefineAllianceTargetResult = Annotated[
    DefineAllianceTargetSuccess | AllianceCommandError,
    strawberry.union("DefineAllianceTargetResult", description="Outcome of defineAllianceTarget."),
]

# -- closeAlliancePeriod --------------------------------------------------------------------


@strawberry.input(description="A period to assess, once it has ended.")
class CloseAlliancePeriodInput:
    period: str = strawberry.field(description="e.g. 2025-2026-term-2, 2025-2026-school-year.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The period is closed: its scorecards are frozen.")
class CloseAlliancePeriodSuccess:
    assessment_id: strawberry.ID = strawberry.field(description="The assessment's id.")
    period: str = strawberry.field(description="The period closed.")
    departments: int = strawberry.field(description="Departments with a frozen scorecard.")


CloseAlliancePeriodResult = Annotated[
    CloseAlliancePeriodSuccess | AllianceCommandError,
    strawberry.union("CloseAlliancePeriodResult", description="Outcome of closeAlliancePeriod."),
]


@strawberry.type
class AllianceMutation:
    @strawberry.mutation(
        description="Put a key task on the city's list.", permission_classes=[Authenticated]
    )
    async def define_alliance_task(
        self, info: strawberry.Info, input: DefineAllianceTaskInput
    ) -> DefineAllianceTaskResult:
        body = {
            "code": input.code,
            "title": input.title,
            "action": input.action,
            "lead": input.lead,
            "supporting": input.supporting,
            "starts_on": input.starts_on.isoformat(),
            "ends_on": input.ends_on.isoformat(),
        }
        answer = await forward(info, NAME, "/tasks", body, input.idempotency_key)
        if isinstance(answer, Problem):
            return AllianceCommandError.from_problem(answer)
        return DefineAllianceTaskSuccess(
            task_id=strawberry.ID(str(answer.body.get("task_id", ""))),
            version=int_field(answer.body, "version"),
        )

    @strawberry.mutation(
        description="Schedule a milestone of a key task.", permission_classes=[Authenticated]
    )
    async def schedule_alliance_milestone(
        self, info: strawberry.Info, input: ScheduleAllianceMilestoneInput
    ) -> ScheduleAllianceMilestoneResult:
        body = {
            "title": input.title,
            "answerable": input.answerable,
            "due_on": input.due_on.isoformat(),
        }
        path = f"/tasks/{segment(input.task_id)}/milestones"
        answer = await forward(info, NAME, path, body, input.idempotency_key)
        if isinstance(answer, Problem):
            return AllianceCommandError.from_problem(answer)
        return ScheduleAllianceMilestoneSuccess(
            task_id=strawberry.ID(str(answer.body.get("task_id", input.task_id))),
            milestone_id=strawberry.ID(str(answer.body.get("milestone_id", ""))),
            version=int_field(answer.body, "version"),
        )

    @strawberry.mutation(
        description="Define a target of a key task over named event types.",
        permission_classes=[Authenticated],
    )
    async def define_alliance_target(
        self, info: strawberry.Info, input: DefineAllianceTargetInput
    ) -> DefineAllianceTargetResult:
        body: dict[str, Any] = {
            "task_id": str(input.task_id),
            "title": input.title,
            "metric": input.metric.value,
            "numerator": input.numerator.body(),
            "group_by": input.group_by.value,
            "threshold": input.threshold,
            "period": input.period.value,
            "about_children": input.about_children,
        }
        if input.denominator is not None:
            body["denominator"] = input.denominator.body()
        answer = await forward(info, NAME, "/targets", body, input.idempotency_key)
        if isinstance(answer, Problem):
            return AllianceCommandError.from_problem(answer)
        return DefineAllianceTargetSuccess(
            target_id=strawberry.ID(str(answer.body.get("target_id", ""))),
            version=int_field(answer.body, "version"),
        )

    @strawberry.mutation(
        description="Close a period's assessment: each department's scorecard is frozen.",
        permission_classes=[Authenticated],
    )
    async def close_alliance_period(
        self, info: strawberry.Info, input: CloseAlliancePeriodInput
    ) -> CloseAlliancePeriodResult:
        body = {"period": input.period}
        answer = await forward(info, NAME, "/assessments", body, input.idempotency_key)
        if isinstance(answer, Problem):
            return AllianceCommandError.from_problem(answer)
        return CloseAlliancePeriodSuccess(
            assessment_id=strawberry.ID(str(answer.body.get("assessment_id", ""))),
            period=str(answer.body.get("period", input.period)),
            departments=len(answer.body.get("scorecards") or []),
        )
