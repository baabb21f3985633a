"""Domain events -> published contract events (one function per event).

The plan's events carry whole definitions; what is published is the contract's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from contracts import alliance as published
from contracts.events import ContractEvent


def _task(e: Any) -> ContractEvent:
    return published.TaskDefined(**e.task)


def _milestone(e: Any) -> ContractEvent:
    return published.MilestoneScheduled(**e.milestone)


def _reached(e: Any) -> ContractEvent:
    return published.MilestoneReached(
        task_id=e.task_id,
        milestone_id=e.milestone_id,
        reached_on=e.reached_on,
        on_time=e.on_time,
    )


def _selection(value: dict[str, Any] | None) -> tuple[list[str], dict[str, str]]:
    if value is None:
        return [], {}
    return list(value["event_types"]), dict(value.get("where") or {})


def _target(e: Any) -> ContractEvent:
    d = e.definition
    numerator, numerator_where = _selection(d["numerator"])
    denominator, denominator_where = _selection(d["denominator"])
    return published.TargetDefined(
        target_id=d["target_id"],
        task_id=d["task_id"],
        title=d["title"],
        metric=d["metric"],
        numerator=numerator,
        numerator_where=numerator_where,
        denominator=denominator,
        denominator_where=denominator_where,
        group_by=d["group_by"],
        threshold=d["threshold"],
        period=d["period"],
        about_children=d["about_children"],
    )


def _campaign(e: Any) -> ContractEvent:
    d = e.definition
    counts, counts_where = _selection(d["counts"])
    return published.CampaignLaunched(
        campaign_id=d["campaign_id"],
        task_id=d["task_id"],
        title=d["title"],
        counts=counts,
        counts_where=counts_where,
        unit=d["unit"],
        units=list(d["units"]),
        quota=d["quota"],
        period=d["period"],
    )


def _moved(e: Any) -> ContractEvent:
    return published.TargetMoved(
        target_id=e.target_id,
        period=e.period,
        value=e.value,
        groups=e.groups,
        groups_met=e.groups_met,
        moved_at=e.at,
    )


def _closed(e: Any) -> ContractEvent:
    return published.AssessmentClosed(
        assessment_id=str(e.originator_id),
        period=e.period,
        starts_on=_day(e.starts_on),
        ends_on=_day(e.ends_on),
        scorecards=[published.Scorecard(**card) for card in e.scorecards],
        closed_at=e.closed_at,
    )


def _corrected(e: Any) -> ContractEvent:
    return published.AssessmentCorrected(
        assessment_id=str(e.originator_id),
        correction=e.correction,
        scorecards=[published.Scorecard(**card) for card in e.scorecards],
        reason=e.reason,
        corrected_at=e.at,
    )


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# Keyed by the domain event's qualified name: the @event decorator defines the classes.
TRANSLATIONS: dict[str, Callable[[Any], ContractEvent | None]] = {
    "Plan.TaskDefined": _task,
    "Plan.MilestoneScheduled": _milestone,
    "Plan.MilestoneReached": _reached,
    "Plan.TargetDefined": _target,
    "Plan.CampaignLaunched": _campaign,
    "TargetFigure.Moved": _moved,
    "Assessment.Closed": _closed,
    "Assessment.Corrected": _corrected,
}


def translate(domain_event: Any) -> ContractEvent | None:
    """The contract event to publish for a domain event, or None (not published)."""
    translation = TRANSLATIONS.get(type(domain_event).__qualname__)
    return translation(domain_event) if translation else None
