"""Domain events -> published contract events (one function per event).

A suggestion's text and answer, and who submitted it, are never published; nor are the
notes departments write on their progress with an action item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import committees as published
from contracts.events import ContractEvent
from services.kit.privacy.suppression import is_small


def _formed(e: Any) -> ContractEvent:
    return published.CommitteeFormed(
        committee_id=str(e.originator_id),
        level=e.level,
        scope_id=e.scope_id,
        school_id=e.school_id,
        district=e.district,
        title=e.title,
        grandparents=e.grandparents,
        term_ends_on=e.term_ends_on,
        formed_at=e.formed_at,
    )


def _joined(e: Any) -> ContractEvent:
    return published.CommitteeMemberJoined(
        committee_id=str(e.originator_id),
        member_id=e.member_id,
        role=e.role,
        grandparent=e.grandparent,
        joined_at=e.at,
    )


def _left(e: Any) -> ContractEvent:
    return published.CommitteeMemberLeft(
        committee_id=str(e.originator_id), member_id=e.member_id, left_at=e.at
    )


def _scheduled(e: Any) -> ContractEvent:
    return published.MeetingScheduled(
        meeting_id=str(e.originator_id),
        committee_id=str(e.committee_id),
        school_id=e.school_id,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
    )


def _held(e: Any) -> ContractEvent:
    return published.MeetingHeld(
        meeting_id=str(e.originator_id),
        attended=e.attended,
        resolutions=e.resolutions,
        held_at=e.at,
    )


def _submitted(e: Any) -> ContractEvent:
    return published.SuggestionSubmitted(
        suggestion_id=str(e.originator_id),
        committee_id=str(e.committee_id),
        school_id=e.school_id,
        district=e.district,
        topic=e.topic,
        anonymous=e.anonymous,
        received_on=e.received_on,
        submitted_at=e.submitted_at,
    )


def _assigned(e: Any) -> ContractEvent:
    return published.SuggestionAssigned(
        suggestion_id=str(e.originator_id),
        level=e.level,
        assigned_department=e.department,
        due_at=e.due_at,
        assigned_at=e.at,
    )


def _escalated(e: Any) -> ContractEvent:
    return published.SuggestionEscalated(
        suggestion_id=str(e.originator_id),
        from_level=e.from_level,
        to_level=e.to_level,
        due_at=e.due_at,
        escalated_at=e.at,
    )


def _answered(e: Any) -> ContractEvent:
    return published.SuggestionAnswered(
        suggestion_id=str(e.originator_id), answered_by=e.by, on_time=e.on_time, answered_at=e.at
    )


def _closed(e: Any) -> ContractEvent:
    return published.SuggestionClosed(
        suggestion_id=str(e.originator_id), rating=e.rating, satisfied=e.satisfied, closed_at=e.at
    )


def _reopened(e: Any) -> ContractEvent:
    return published.SuggestionReopened(
        suggestion_id=str(e.originator_id), due_at=e.due_at, reopened_at=e.at
    )


def _convened(e: Any) -> ContractEvent:
    return published.JointMeetingConvened(
        joint_meeting_id=str(e.originator_id),
        convened_by=e.convened_by,
        district=e.district,
        title=e.title,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        departments=list(e.departments),
        schools=list(e.schools),
        committees=list(e.committees),
    )


def _item_assigned(e: Any) -> ContractEvent:
    return published.ActionItemAssigned(
        action_item_id=str(e.originator_id),
        joint_meeting_id=str(e.joint_meeting_id),
        convened_by=e.convened_by,
        district=e.district,
        title=e.title,
        lead_department=e.lead,
        supporting_departments=list(e.supporters),
        due_at=e.due_at,
        assigned_at=e.at,
    )


def _item_progressed(e: Any) -> ContractEvent:
    return published.ActionItemProgressed(
        action_item_id=str(e.originator_id),
        reporting_department=e.department,
        percent=e.percent,
        via=e.via,
        reported_at=e.at,
        # Reports stored before statuses were kept have none.
        status=getattr(e, "status", None),
    )


def _item_completed(e: Any) -> ContractEvent:
    return published.ActionItemCompleted(
        action_item_id=str(e.originator_id),
        lead_department=e.department,
        on_time=e.on_time,
        completed_at=e.at,
    )


def _item_escalated(e: Any) -> ContractEvent:
    return published.ActionItemEscalated(
        action_item_id=str(e.originator_id), to_level=e.to_level, escalated_at=e.at
    )


def _survey_opened(e: Any) -> ContractEvent:
    return published.SurveyOpened(
        survey_id=str(e.originator_id),
        school_id=e.school_id,
        district=e.district,
        term=e.term,
        closes_at=e.closes_at,
    )


def _survey_closed(e: Any) -> ContractEvent:
    # Fewer than five answers: publishing the count could single parents out (the means
    # are withheld below 20 answers already, domain.py).
    small = is_small(e.responses)
    return published.SurveyResultsPublished(
        survey_id=str(e.originator_id),
        school_id=e.school_id,
        term=e.term,
        responses=None if small else e.responses,
        mean_scores={} if small else dict(e.means),
        closed_at=e.at,
    )


TRANSLATIONS: dict[str, Callable[[Any], ContractEvent]] = {
    "Committee.Formed": _formed,
    "Committee.MemberJoined": _joined,
    "Committee.MemberLeft": _left,
    "Meeting.Scheduled": _scheduled,
    "Meeting.Held": _held,
    "Suggestion.Submitted": _submitted,
    "Suggestion.Assigned": _assigned,
    "Suggestion.Escalated": _escalated,
    "Suggestion.Answered": _answered,
    "Suggestion.Closed": _closed,
    "Suggestion.Reopened": _reopened,
    "JointMeeting.Convened": _convened,
    "ActionItem.Assigned": _item_assigned,
    "ActionItem.Progressed": _item_progressed,
    "ActionItem.Completed": _item_completed,
    "ActionItem.Escalated": _item_escalated,
    "Survey.Opened": _survey_opened,
    "Survey.Closed": _survey_closed,
}


def translate(domain_event: Any) -> ContractEvent | None:
    """The contract event to publish for a domain event, or None (not published)."""
    translation = TRANSLATIONS.get(type(domain_event).__qualname__)
    return translation(domain_event) if translation else None
