"""Domain events -> published contract events (one function per event).

Only facts the city's figures and worklists need leave the service: which school, class
and district a file counts towards, its status, its next review date (and that it passed
unreviewed), its visits, follow-ups and home-teaching sessions by date and size.
Nothing names the child or says why the file exists: categories, evidence, screening
results, notes, reasons, goals, the home teacher, team members other than the lead,
consents and intakes' details stay here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from contracts import care as published
from contracts.events import ContractEvent


def _care_lead(e: Any) -> ContractEvent:
    return published.CareLeadNamed(school_id=e.school_id, lead_id=e.account)


def _care_lead_renamed(e: Any) -> ContractEvent:
    return published.CareLeadNamed(school_id=e.school_id, lead_id=e.account)


def _opened(e: Any) -> ContractEvent:
    return published.FileOpened(
        file_id=str(e.originator_id),
        school_id=e.school_id,
        class_id=e.class_id,
        district_id=e.district_id,
        source=e.source,
        opened_at=e.opened_at,
    )


def _intake(e: Any) -> ContractEvent:
    return published.IntakeReceived(
        intake_id=str(e.originator_id),
        file_id=str(e.file_id),
        school_id=e.school_id,
        source=e.source,
        received_at=e.received_at,
    )


def _status(e: Any) -> ContractEvent:
    return published.FileStatusChanged(
        file_id=str(e.originator_id), status=e.status, changed_at=e.at
    )


def _assigned(e: Any) -> ContractEvent | None:
    if e.role != "lead":
        return None
    return published.LeadAssigned(file_id=str(e.originator_id), lead_id=e.account, assigned_at=e.at)


def _review(e: Any) -> ContractEvent:
    if e.review_on is None:
        return published.ReviewsCleared(file_id=str(e.originator_id))
    return published.ReviewScheduled(
        file_id=str(e.originator_id), review_on=date.fromisoformat(e.review_on)
    )


def _visited(e: Any) -> ContractEvent:
    return published.HomeVisitRecorded(
        file_id=str(e.originator_id),
        visit_id=e.visit_id,
        visited_on=date.fromisoformat(e.visited_on),
        mode=e.mode,
        visitors=len(e.visitors),
        head_teacher_went="head-teacher" in e.visitors,
        next_visit_on=date.fromisoformat(e.next_visit_on) if e.next_visit_on else None,
    )


def _break_glass(e: Any) -> ContractEvent:
    return published.BreakGlassOpened(
        file_id=str(e.originator_id),
        school_id=e.school_id,
        opened_by=e.account,
        until=e.until,
    )


def _erased(e: Any) -> ContractEvent:
    return published.FileErased(file_id=str(e.originator_id), erased_at=e.at)


def _referral_sent(e: Any) -> ContractEvent:
    return published.ReferralChanged(
        referral_id=str(e.originator_id),
        to_department=e.department,
        status="sent",
        changed_at=e.sent_at,
    )


def _referral_answered(e: Any) -> ContractEvent:
    return published.ReferralChanged(
        referral_id=str(e.originator_id),
        to_department=e.department,
        status=e.status,
        changed_at=e.at,
    )


def _review_overdue(e: Any) -> ContractEvent:
    return published.ReviewOverdue(
        file_id=str(e.originator_id),
        school_id=e.school_id,
        district_id=e.district_id,
        review_on=date.fromisoformat(e.review_on),
    )


def _followed_up(e: Any) -> ContractEvent:
    return published.FollowUpRecorded(
        file_id=str(e.originator_id),
        follow_up_id=e.follow_up_id,
        followed_up_on=date.fromisoformat(e.on),
        mode=e.mode,
    )


def _home_teaching(e: Any) -> ContractEvent:
    return published.HomeTeachingScheduled(
        file_id=str(e.originator_id),
        sessions_per_week=e.sessions_per_week,
        starts_on=date.fromisoformat(e.starts_on),
        ends_on=date.fromisoformat(e.ends_on),
    )


def _session(e: Any) -> ContractEvent:
    return published.HomeTeachingSessionDelivered(
        file_id=str(e.originator_id),
        session_id=e.session_id,
        delivered_on=date.fromisoformat(e.delivered_on),
        hours=e.hours,
    )


TRANSLATIONS: dict[str, Callable[[Any], ContractEvent | None]] = {
    "SchoolCareLead.Named": _care_lead,
    "SchoolCareLead.Renamed": _care_lead_renamed,
    "CareFile.Opened": _opened,
    "Intake.Received": _intake,
    "CareFile.StatusChanged": _status,
    "CareFile.MemberAssigned": _assigned,
    "CareFile.ReviewScheduled": _review,
    "CareFile.VisitRecorded": _visited,
    "CareFile.BreakGlassOpened": _break_glass,
    "CareFile.Erased": _erased,
    "CareFile.ReviewOverdue": _review_overdue,
    "CareFile.FollowedUp": _followed_up,
    "CareFile.HomeTeachingScheduled": _home_teaching,
    "CareFile.SessionDelivered": _session,
    "Referral.Sent": _referral_sent,
    "Referral.Answered": _referral_answered,
}


def translate(domain_event: Any) -> ContractEvent | None:
    """The contract event to publish for a domain event, or None (not published)."""
    translation = TRANSLATIONS.get(type(domain_event).__qualname__)
    return translation(domain_event) if translation else None
