"""What the alliance API answers, as documented in its OpenAPI and checked on the way out."""

from __future__ import annotations

from pydantic import Field

from services.kit.commands import Answer


class TaskDefined(Answer):
    task_id: str
    version: int


class MilestoneScheduled(Answer):
    task_id: str
    milestone_id: str
    version: int


class MilestoneReached(Answer):
    milestone_id: str
    on_time: bool
    version: int


class TargetDefined(Answer):
    target_id: str
    version: int


class CampaignLaunched(Answer):
    campaign_id: str
    version: int


class ScorecardView(Answer):
    department: str
    tasks_led: int
    tasks_supported: int
    milestones_due: int
    milestones_on_time: int
    targets: int
    targets_met: int


class AssessmentClosed(Answer):
    assessment_id: str
    period: str
    scorecards: list[ScorecardView]


class AssessmentCorrected(Answer):
    assessment_id: str
    period: str
    corrected: bool = Field(description="False when the scorecards had not changed.")
    correction: int = Field(description="How many corrections the assessment has.")
    scorecards: list[ScorecardView]


class GroupFigure(Answer):
    group: str
    value: float | None = Field(description="Null when suppressed or not computable.")
    basis: int | None = Field(description="Events or subjects the value rests on.")
    met: bool | None
    suppressed: str | None = Field(description='"<5", "[c]" or "[x]" when hidden.')


class TrendPoint(Answer):
    day: str
    value: float | None


class TargetFigure(Answer):
    target_id: str
    period: str
    period_starts_on: str
    as_of: str
    value: float | None
    threshold: float
    met: bool
    groups_met: int
    groups: list[GroupFigure]
    trend: list[TrendPoint]


class TargetFigures(Answer):
    as_of: str
    targets: list[TargetFigure]


class UnitProgress(Answer):
    unit: str
    done: float
    percent_of_quota: float


class CampaignFigure(Answer):
    campaign_id: str
    period: str
    as_of: str
    quota: float
    units: list[UnitProgress]
    lagging: list[str]


class CampaignFigures(Answer):
    as_of: str
    campaigns: list[CampaignFigure]


class Scorecards(Answer):
    period: str
    as_of: str
    scorecards: list[ScorecardView]


class ContributionView(Answer):
    event_key: str = Field(description="<source>/<CloudEvent id> of the event.")
    event_type: str
    department: str
    day: str
    school: str
    district: str
    unit: str
    quantity: float


class Contributions(Answer):
    target_id: str
    as_of: str
    events: list[ContributionView]


class LedgerTotals(Answer):
    as_of: str
    events: dict[str, int] = Field(description="Measured events kept, per event type.")
