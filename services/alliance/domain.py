"""The alliance's plan (key tasks, milestones, targets, campaigns), the figures' movements
and the assessments. Aggregates and their rules; no I/O here.

A target is a definition, not a counter: the figures are computed from the ledger of
measured events (`services.alliance.figures`), so defining one never migrates history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from contracts.departments import load_ownership_map
from contracts.measures import measure_of
from contracts.registry import BY_TYPE
from services.kit.errors import ConflictError, DomainError, NotFoundError

PLAN_ID = uuid5(NAMESPACE_URL, "tongxin:alliance:plan")
PERCENT_METRICS = ("share", "coverage")
RATIO_METRICS = ("share", "coverage", "rate")


class UnknownEventTypeError(DomainError):
    """A target or campaign names an event type the published language does not have."""

    code = "unknown-event-type"


class NotMeasurableError(DomainError):
    """The event type exists but its contract does not declare what can be measured."""

    code = "not-measurable"


class UnknownFacetError(DomainError):
    """A filter names a field the event type's measure does not offer as a facet."""

    code = "unknown-facet"


class ThresholdOutOfRangeError(DomainError):
    """A share or a coverage is a percentage: its threshold lies between 0 and 100."""

    code = "threshold-out-of-range"


class DenominatorRequiredError(DomainError):
    """A share, coverage or rate is taken of something: name its event types."""

    code = "denominator-required"


class MilestoneBeforeStartError(DomainError):
    """A milestone cannot fall due before its task starts (or after it ends)."""

    code = "milestone-outside-task"


class UnknownDepartmentError(DomainError):
    """A department code that is not in the ownership map."""

    code = "unknown-department"


class DuplicateCodeError(ConflictError):
    """Another task already has this code."""

    code = "duplicate-code"


class PeriodNotOverError(DomainError):
    """A period is assessed once it has ended."""

    code = "period-not-over"


class AlreadyClosedError(ConflictError):
    """This period's assessment is already closed: correct it instead."""

    code = "already-closed"


@dataclass(frozen=True)
class Selection:
    """Event types and a facet filter: what a figure counts."""

    event_types: tuple[str, ...]
    where: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        for event_type in self.event_types:
            cls = BY_TYPE.get(event_type)
            if cls is None or not cls.published:
                raise UnknownEventTypeError(f"no published event type {event_type!r}")
            measure = measure_of(cls)
            if measure is None:
                raise NotMeasurableError(
                    f"{event_type} declares no measure (contracts.measures.measurable)"
                )
            unknown = set(self.where) - set(measure.facets)
            if unknown:
                raise UnknownFacetError(
                    f"{event_type} offers facets {sorted(measure.facets)}, not {sorted(unknown)}"
                )


@dataclass(frozen=True)
class TargetDefinition:
    target_id: str
    task_id: str
    title: str
    metric: str
    numerator: Selection
    denominator: Selection | None
    group_by: str
    threshold: float
    period: str
    about_children: bool

    def check(self) -> None:
        self.numerator.check()
        if self.metric in RATIO_METRICS:
            if self.denominator is None or not self.denominator.event_types:
                raise DenominatorRequiredError(f"a {self.metric} needs a denominator")
            self.denominator.check()
        if self.metric in PERCENT_METRICS and not 0 <= self.threshold <= 100:
            raise ThresholdOutOfRangeError(
                f"a {self.metric} is a percentage: its threshold lies between 0 and 100"
            )
        if self.threshold < 0:
            raise ThresholdOutOfRangeError("a threshold is not negative")


@dataclass(frozen=True)
class CampaignDefinition:
    campaign_id: str
    task_id: str
    title: str
    counts: Selection
    unit: str
    units: tuple[str, ...]
    quota: float
    period: str


def known_departments(*codes: str) -> None:
    ownership = load_ownership_map()
    for code in codes:
        try:
            ownership.department(code)
        except Exception:
            raise UnknownDepartmentError(f"no department {code!r}") from None


class Plan(Aggregate):
    """The city's key tasks with their milestones, targets and campaigns (one per city)."""

    @event("Started")
    def __init__(self, plan_id: UUID) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.milestones: dict[str, dict[str, Any]] = {}
        self.targets: dict[str, TargetDefinition] = {}
        self.campaigns: dict[str, CampaignDefinition] = {}

    @staticmethod
    def create_id(plan_id: UUID) -> UUID:
        return plan_id

    def task(self, task_id: str) -> dict[str, Any]:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise NotFoundError(f"task {task_id} not found") from None

    def define_task(
        self,
        *,
        task_id: str,
        code: str,
        title: str,
        action: str,
        lead: str,
        supporting: list[str],
        starts_on: date,
        ends_on: date,
    ) -> None:
        known_departments(lead, *supporting)
        if lead in supporting:
            raise DomainError("the lead department does not also support its own task")
        if ends_on < starts_on:
            raise DomainError("a task ends on or after the day it starts")
        if any(t["code"] == code for t in self.tasks.values()):
            raise DuplicateCodeError(f"a task {code!r} exists already")
        self._task_defined(
            task={
                "task_id": task_id,
                "code": code,
                "title": title,
                "action": action,
                "lead": lead,
                "supporting": list(supporting),
                "starts_on": starts_on,
                "ends_on": ends_on,
            }
        )

    @event("TaskDefined")
    def _task_defined(self, task: dict[str, Any]) -> None:
        self.tasks[task["task_id"]] = dict(task)

    def schedule_milestone(
        self, *, task_id: str, milestone_id: str, title: str, answerable: str, due_on: date
    ) -> None:
        task = self.task(task_id)
        known_departments(answerable)
        if not task["starts_on"] <= due_on <= task["ends_on"]:
            raise MilestoneBeforeStartError(
                f"the task runs from {task['starts_on']} to {task['ends_on']}: "
                f"a milestone due on {due_on} is outside it"
            )
        self._milestone_scheduled(
            milestone={
                "task_id": task_id,
                "milestone_id": milestone_id,
                "title": title,
                "answerable": answerable,
                "due_on": due_on,
            }
        )

    @event("MilestoneScheduled")
    def _milestone_scheduled(self, milestone: dict[str, Any]) -> None:
        self.milestones[milestone["milestone_id"]] = {**milestone, "reached_on": None}

    def reach_milestone(self, *, milestone_id: str, reached_on: date) -> dict[str, Any]:
        milestone = self.milestones.get(milestone_id)
        if milestone is None:
            raise NotFoundError(f"milestone {milestone_id} not found")
        if milestone["reached_on"] is not None:
            raise ConflictError("this milestone was reported done already")
        self._milestone_reached(
            task_id=milestone["task_id"],
            milestone_id=milestone_id,
            reached_on=reached_on,
            on_time=reached_on <= milestone["due_on"],
        )
        return self.milestones[milestone_id]

    @event("MilestoneReached")
    def _milestone_reached(
        self, task_id: str, milestone_id: str, reached_on: date, on_time: bool
    ) -> None:
        self.milestones[milestone_id] = {
            **self.milestones[milestone_id],
            "reached_on": reached_on,
            "on_time": on_time,
        }

    def define_target(self, definition: TargetDefinition) -> None:
        self.task(definition.task_id)
        definition.check()
        self._target_defined(definition=asdict(definition))

    @event("TargetDefined")
    def _target_defined(self, definition: dict[str, Any]) -> None:
        target = target_from_dict(definition)
        self.targets[target.target_id] = target

    def launch_campaign(self, definition: CampaignDefinition) -> None:
        self.task(definition.task_id)
        definition.counts.check()
        self._campaign_launched(definition=asdict(definition))

    @event("CampaignLaunched")
    def _campaign_launched(self, definition: dict[str, Any]) -> None:
        campaign = campaign_from_dict(definition)
        self.campaigns[campaign.campaign_id] = campaign


def _selection(value: dict[str, Any] | None) -> Selection | None:
    if value is None:
        return None
    return Selection(tuple(value["event_types"]), dict(value.get("where") or {}))


def target_from_dict(value: dict[str, Any]) -> TargetDefinition:
    numerator = _selection(value["numerator"])
    assert numerator is not None
    return TargetDefinition(
        **{**value, "numerator": numerator, "denominator": _selection(value["denominator"])}
    )


def campaign_from_dict(value: dict[str, Any]) -> CampaignDefinition:
    counts = _selection(value["counts"])
    assert counts is not None
    return CampaignDefinition(**{**value, "counts": counts, "units": tuple(value["units"])})


class TargetFigure(Aggregate):
    """The last published figure of one target for its current period."""

    @event("Started")
    def __init__(self, figure_id: UUID, target_id: str) -> None:
        self.target_id = target_id
        self.last: tuple[str, float | None, int, int] | None = None

    @staticmethod
    def create_id(figure_id: UUID, **_: Any) -> UUID:
        return figure_id

    @staticmethod
    def id_for(target_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"tongxin:alliance:figure:{target_id}")

    def move(
        self, *, period: str, value: float | None, groups: int, groups_met: int, at: datetime
    ) -> bool:
        """Record the figure when it differs from the last one; whether it moved."""
        if self.last == (period, value, groups, groups_met):
            return False
        self._moved(
            target_id=self.target_id,
            period=period,
            value=value,
            groups=groups,
            groups_met=groups_met,
            at=at,
        )
        return True

    @event("Moved")
    def _moved(
        self,
        target_id: str,
        period: str,
        value: float | None,
        groups: int,
        groups_met: int,
        at: datetime,
    ) -> None:
        self.last = (period, value, groups, groups_met)


class Assessment(Aggregate):
    """One period's assessment: scorecards frozen when closed, corrections beside them."""

    @event("Closed")
    def __init__(
        self,
        assessment_id: UUID,
        period: str,
        starts_on: date,
        ends_on: date,
        scorecards: list[dict[str, Any]],
        closed_at: datetime,
    ) -> None:
        self.period = period
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.scorecards = scorecards
        self.closed_at = closed_at
        self.corrections: list[dict[str, Any]] = []

    @staticmethod
    def create_id(assessment_id: UUID, **_: Any) -> UUID:
        return assessment_id

    @staticmethod
    def id_for(period: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"tongxin:alliance:assessment:{period}")

    @property
    def current(self) -> list[dict[str, Any]]:
        return self.corrections[-1]["scorecards"] if self.corrections else self.scorecards

    def correct(self, scorecards: list[dict[str, Any]], reason: str, at: datetime) -> bool:
        """Record corrected scorecards when they differ from the current ones."""
        if scorecards == self.current:
            return False
        self._corrected(
            correction=len(self.corrections) + 1, scorecards=scorecards, reason=reason, at=at
        )
        return True

    @event("Corrected")
    def _corrected(
        self, correction: int, scorecards: list[dict[str, Any]], reason: str, at: datetime
    ) -> None:
        self.corrections.append(
            {"correction": correction, "scorecards": scorecards, "reason": reason, "at": at}
        )
