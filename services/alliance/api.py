"""HTTP routes of the alliance service: parse, authorise, call the application."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field, model_validator

from contracts.alliance import GroupBy, Metric, PeriodKind
from services.alliance import clock
from services.alliance.application import AllianceApplication
from services.alliance.domain import Selection
from services.alliance.figures import evaluate_campaign, evaluate_target, scorecards
from services.alliance.periods import parse_label, period_of
from services.alliance.policy import POLICY
from services.alliance.responses import (
    AssessmentClosed,
    AssessmentCorrected,
    CampaignFigures,
    CampaignLaunched,
    Contributions,
    LedgerTotals,
    MilestoneReached,
    MilestoneScheduled,
    Scorecards,
    TargetDefined,
    TargetFigures,
    TaskDefined,
)
from services.kit.commands import Command
from services.kit.errors import DomainError, ForbiddenError, NotFoundError
from services.kit.http import Caller, IdempotencyKey, problems

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
EventType = Annotated[str, Field(min_length=1, max_length=200)]
Facets = Annotated[dict[Code, Code], Field(max_length=8)]
Title = Annotated[str, Field(min_length=1, max_length=300)]


class DefineTask(Command):
    code: Code = Field(description="The task's code in the city's list (T01 …).")
    title: Title
    action: Code = Field(description="Which of the six actions it belongs to.")
    lead: Code = Field(description="Lead department (code).")
    supporting: list[Code] = Field(default_factory=list, max_length=13)
    starts_on: date
    ends_on: date


class ScheduleMilestone(Command):
    title: Title
    answerable: Code = Field(description="The department answerable for it.")
    due_on: date


class ReachMilestone(Command):
    reached_on: date | None = Field(default=None, description="Defaults to today.")


class SelectionInput(Command):
    event_types: list[EventType] = Field(min_length=1, max_length=10)
    where: Facets = Field(default_factory=dict, description="Facet values events must have.")

    def selection(self) -> Selection:
        return Selection(tuple(self.event_types), dict(self.where))


class DefineTarget(Command):
    task_id: str = Field(min_length=1, max_length=64)
    title: Title
    metric: Metric
    numerator: SelectionInput
    denominator: SelectionInput | None = None
    group_by: GroupBy = "city"
    threshold: float = Field(ge=-1e12, le=1e12)
    period: PeriodKind
    about_children: bool = False


class LaunchCampaign(Command):
    task_id: str = Field(min_length=1, max_length=64)
    title: Title
    counts: SelectionInput
    unit: Literal["school", "district", "unit", "department"]
    units: list[Code] = Field(default_factory=list, max_length=2000)
    quota: float = Field(gt=0, le=1e9)
    period: PeriodKind


class CloseAssessment(Command):
    period: str = Field(min_length=4, max_length=40, description="e.g. 2025-2026-term-2")


class CorrectAssessment(CloseAssessment):
    reason: Title


class AsOf(Command):
    as_of: date | None = Field(default=None, description="Defaults to today.")
    trend: bool = False


class ContributionsQuery(Command):
    target_id: str = Field(min_length=1, max_length=64)
    as_of: date | None = None
    limit: int = Field(default=50, ge=1, le=500)
    after: str | None = Field(
        default=None, max_length=300, description="The event key the page before ended with."
    )


class ScorecardsQuery(Command):
    period: str | None = Field(default=None, max_length=40, description="Default: as_of's term.")
    as_of: date | None = None

    @model_validator(mode="after")
    def _known_period(self) -> ScorecardsQuery:
        if self.period is not None:
            parse_label(self.period)
        return self


class UnknownPeriodError(DomainError):
    """The period label names no term, school year or calendar year."""

    code = "unknown-period"


async def application(request: Request) -> AllianceApplication:
    # A coroutine: a plain function as a dependency would cost a trip through the thread pool.
    return request.app.state.application


App = Annotated[AllianceApplication, Depends(application)]
router = APIRouter(tags=["alliance"])
NEW = problems(409)
EXISTING = problems(404, 409)
READ = problems(404)


def _period(label: str) -> Any:
    try:
        return parse_label(label)
    except ValueError:
        raise UnknownPeriodError(f"not a period: {label!r}") from None


@router.post("/tasks", status_code=201, response_model=TaskDefined, responses=NEW)
def define_task(body: DefineTask, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "keep-plan")
    return app.define_task(key, **body.model_dump())


@router.post(
    "/tasks/{task_id}/milestones",
    status_code=201,
    response_model=MilestoneScheduled,
    responses=EXISTING,
)
def schedule_milestone(
    task_id: str, body: ScheduleMilestone, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "keep-plan")
    return app.schedule_milestone(key, task_id, **body.model_dump())


@router.post(
    "/milestones/{milestone_id}/reached", response_model=MilestoneReached, responses=EXISTING
)
def reach_milestone(
    milestone_id: str, body: ReachMilestone, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "reach-milestone")
    milestone = app.plan().milestones.get(milestone_id)
    if milestone is None:
        raise NotFoundError(f"milestone {milestone_id} not found")
    if caller.department not in (POLICY.owner, milestone["answerable"]):
        raise ForbiddenError("a department reports its own milestones")
    return app.reach_milestone(key, milestone_id, reached_on=body.reached_on or clock.today())


@router.post("/targets", status_code=201, response_model=TargetDefined, responses=EXISTING)
def define_target(body: DefineTarget, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "keep-plan")
    fields = body.model_dump(exclude={"numerator", "denominator"})
    return app.define_target(
        key,
        **fields,
        numerator=body.numerator.selection(),
        denominator=body.denominator.selection() if body.denominator else None,
    )


@router.post("/campaigns", status_code=201, response_model=CampaignLaunched, responses=EXISTING)
def launch_campaign(body: LaunchCampaign, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "keep-plan")
    fields = body.model_dump(exclude={"counts", "units"})
    return app.launch_campaign(
        key, **fields, counts=body.counts.selection(), units=tuple(body.units)
    )


@router.post("/assessments", status_code=201, response_model=AssessmentClosed, responses=NEW)
def close_assessment(body: CloseAssessment, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "close-assessment")
    return app.close_assessment(key, _period(body.period))


@router.post("/assessments/corrections", response_model=AssessmentCorrected, responses=EXISTING)
def correct_assessment(
    body: CorrectAssessment, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "correct-assessment")
    return app.correct_assessment(key, _period(body.period), reason=body.reason)


# Queries are POSTs with a body (the gateway's service client posts as the caller).
@router.post("/figures/targets", response_model=TargetFigures)
def target_figures(body: AsOf, caller: Caller, app: App) -> Any:
    POLICY.authorize(caller, "read-figures")
    as_of = body.as_of or clock.today()
    out = []
    figures = app.figures()
    for target in app.plan().targets.values():
        value = evaluate_target(figures, target, as_of, trend=body.trend)
        out.append(
            {
                "target_id": target.target_id,
                "period": value.period.label,
                "period_starts_on": value.period.starts_on.isoformat(),
                "as_of": as_of.isoformat(),
                "value": value.value,
                "threshold": target.threshold,
                "met": value.met,
                "groups_met": value.groups_met,
                "groups": [vars(g) for g in value.groups],
                "trend": [{"day": d.isoformat(), "value": v} for d, v in value.trend],
            }
        )
    return {"as_of": as_of.isoformat(), "targets": out}


@router.post("/figures/campaigns", response_model=CampaignFigures)
def campaign_figures(body: AsOf, caller: Caller, app: App) -> Any:
    POLICY.authorize(caller, "read-figures")
    as_of = body.as_of or clock.today()
    out = []
    figures = app.figures()
    for campaign in app.plan().campaigns.values():
        progress = evaluate_campaign(figures, campaign, as_of)
        out.append(
            {
                "campaign_id": campaign.campaign_id,
                "period": progress.period.label,
                "as_of": as_of.isoformat(),
                "quota": campaign.quota,
                "units": [
                    {"unit": u, "done": done, "percent_of_quota": pct}
                    for u, done, pct in progress.units
                ],
                "lagging": progress.lagging,
            }
        )
    return {"as_of": as_of.isoformat(), "campaigns": out}


@router.post("/figures/scorecards", response_model=Scorecards)
def live_scorecards(body: ScorecardsQuery, caller: Caller, app: App) -> Any:
    POLICY.authorize(caller, "read-figures")
    as_of = body.as_of or clock.today()
    period = _period(body.period) if body.period else period_of("term", as_of)
    cards = scorecards(app.plan(), app.figures(), period, as_of)
    return {"period": period.label, "as_of": as_of.isoformat(), "scorecards": cards}


@router.post("/figures/contributions", response_model=Contributions, responses=READ)
def contributions(body: ContributionsQuery, caller: Caller, app: App) -> Any:
    POLICY.authorize(caller, "read-contributions")
    target = app.plan().targets.get(body.target_id)
    if target is None:
        raise NotFoundError(f"target {body.target_id} not found")
    as_of = body.as_of or clock.today()
    period = period_of(target.period, as_of)  # type: ignore[arg-type]
    types = list(target.numerator.event_types)
    found = app.ledger.contributions(
        types, period.starts_on, as_of, body.limit, target.numerator.where, body.after
    )
    events = [vars(c) for c in found]
    return {"target_id": target.target_id, "as_of": as_of.isoformat(), "events": events}


@router.post("/figures/ledger", response_model=LedgerTotals)
def ledger_totals(body: AsOf, caller: Caller, app: App) -> Any:
    POLICY.authorize(caller, "read-figures")
    as_of = body.as_of or clock.today()
    return {"as_of": as_of.isoformat(), "events": app.ledger.totals(as_of)}
