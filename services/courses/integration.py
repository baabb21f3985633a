"""Domain events -> published contract events (one function per event).

Personal data (a parent's name) is never published: `Parent.Enrolled` goes out without it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from contracts import courses as published
from contracts.events import ContractEvent


def _school_registered(e: Any) -> ContractEvent:
    return published.ParentSchoolRegistered(
        parent_school_id=str(e.originator_id),
        name=e.name,
        level=e.level,
        host_kind=e.host_kind,
        host_id=e.host_id,
        district=e.district,
        registered_at=e.registered_at,
    )


def _evidence(e: Any) -> ContractEvent:
    return published.TenHaveEvidenceRecorded(
        parent_school_id=str(e.originator_id),
        item=e.item,
        document_ref=e.document_ref,
        dated=date.fromisoformat(e.dated),
    )


def _inspected(e: Any) -> ContractEvent:
    return published.ParentSchoolInspected(
        parent_school_id=str(e.originator_id),
        inspection_id=e.inspection_id,
        by_department=e.by_department,
        inspected_on=date.fromisoformat(e.inspected_on),
        verified=[i for i, v in e.verdicts.items() if v == "verified"],
        rejected=[i for i, v in e.verdicts.items() if v == "rejected"],
        meets_standard=e.meets_standard,
        valid_until=date.fromisoformat(e.valid_until) if e.valid_until else None,
    )


def _course_published(e: Any) -> ContractEvent:
    # The first publication has no revision field: it is revision 1. A revision carries its own.
    return published.CoursePublished(
        course_id=str(e.originator_id),
        revision=getattr(e, "revision", 1),
        title=e.title,
        problem=e.problem,
        stages=e.stages,
        themes=e.themes,
        steps=e.steps,
        published_at=e.published_at,
    )


def _retired(e: Any) -> ContractEvent:
    return published.CourseRetired(course_id=str(e.originator_id), retired_at=e.retired_at)


def _scheduled(e: Any) -> ContractEvent:
    return published.SessionScheduled(
        session_id=str(e.originator_id),
        course_id=e.course_id,
        parent_school_id=e.parent_school_id,
        school_id=e.school_id,
        district=e.district,
        mode=e.mode,
        lecturer_kind=e.lecturer_kind,
        lecturer_id=e.lecturer_id,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        capacity=e.capacity,
    )


def _enrolled(e: Any) -> ContractEvent:
    # The name stays here: readers ask the service for it (POST /parents/names).
    return published.ParentEnrolled(
        parent_id=str(e.originator_id),
        school_id=e.school_id,
        class_id=e.class_id,
        district=e.district,
        enrolled_at=e.enrolled_at,
    )


def _consent(e: Any) -> ContractEvent:
    return published.RankingConsentChanged(parent_id=str(e.originator_id), opted_in=e.opted_in)


def _parent_erased(e: Any) -> ContractEvent:
    return published.ParentErased(parent_id=str(e.originator_id), erased_at=e.erased_at)


def _awarded(e: Any) -> ContractEvent:
    return published.PointsAwarded(
        parent_id=str(e.originator_id),
        school_id=e.school_id,
        class_id=e.class_id,
        district=e.district,
        activity=e.activity,
        source_id=e.source_id,
        points=e.points,
        rule_version=e.rule_version,
        earned_at=e.earned_at,
    )


def _rules(e: Any) -> ContractEvent:
    return published.PointsRulesChanged(
        version=e.version,
        attendance=e.attendance,
        online_completion=e.online_completion,
        homework=e.homework,
        changed_at=e.changed_at,
    )


def _place_taken(e: Any) -> ContractEvent:
    return published.SessionPlaceTaken(
        session_id=str(e.originator_id),
        parent_id=e.parent_id,
        promoted=e.promoted,
        places_filled=e.places_filled,
        waitlisted=e.waitlisted,
    )


def _waitlisted(e: Any) -> ContractEvent:
    return published.SessionWaitlisted(
        session_id=str(e.originator_id),
        parent_id=e.parent_id,
        position=e.position,
        waitlisted=e.position,
    )


def _cancelled(e: Any) -> ContractEvent:
    return published.SessionRegistrationCancelled(
        session_id=str(e.originator_id),
        parent_id=e.parent_id,
        from_waitlist=e.from_waitlist,
        places_filled=e.places_filled,
        waitlisted=e.waitlisted,
    )


def _attended(e: Any) -> ContractEvent:
    # Attendances stored before the parent's school went with them publish without it.
    return published.SessionAttended(
        session_id=str(e.originator_id),
        parent_id=e.parent_id,
        at=e.at,
        school_id=getattr(e, "school_id", None),
        district=getattr(e, "district", None),
    )


def _batch_scheduled(e: Any) -> ContractEvent:
    starts_on = date.fromisoformat(e.starts_on)
    return published.TrainingBatchScheduled(
        batch_id=str(e.originator_id),
        title=e.title,
        audience=e.audience,
        starts_on=starts_on,
        ends_on=starts_on + timedelta(days=e.days - 1),
        capacity=e.capacity,
        quotas=e.quotas,
    )


def _training_enrolled(e: Any) -> ContractEvent:
    return published.TrainingEnrolled(
        batch_id=str(e.originator_id),
        school_id=e.school_id,
        teacher_ids=e.teacher_ids,
        school_enrolled=e.school_enrolled,
        enrolled=e.enrolled,
    )


def _training_attended(e: Any) -> ContractEvent:
    return published.TrainingAttendanceRecorded(
        batch_id=str(e.originator_id), day=date.fromisoformat(e.day), teacher_ids=e.teacher_ids
    )


def _certificate(e: Any) -> ContractEvent:
    return published.TrainingCertificateIssued(
        batch_id=str(e.originator_id),
        certificate_no=e.certificate_no,
        teacher_id=e.teacher_id,
        school_id=e.school_id,
        district=e.district,
        audience=e.audience,
        issued_on=date.fromisoformat(e.issued_on),
    )


def _training_completed(e: Any) -> ContractEvent:
    return published.TrainingBatchCompleted(
        batch_id=str(e.originator_id),
        enrolled=e.enrolled,
        certified=e.certified,
        completed_on=date.fromisoformat(e.completed_on),
    )


def _quota(e: Any) -> ContractEvent:
    return published.LectureQuotaSet(
        term=e.term,
        starts_on=date.fromisoformat(e.starts_on),
        ends_on=date.fromisoformat(e.ends_on),
        min_lectures=e.min_lectures,
        schools=e.schools,
        version=e.originator_version,
    )


# Keyed by the domain event's qualified name: the @event decorator defines the classes.
TRANSLATIONS: dict[str, Callable[[Any], ContractEvent]] = {
    "ParentSchool.Registered": _school_registered,
    "ParentSchool.EvidenceRecorded": _evidence,
    "ParentSchool.Inspected": _inspected,
    "Course.Published": _course_published,
    "Course.Revised": _course_published,
    "Course.Retired": _retired,
    "Session.Scheduled": _scheduled,
    "Session.PlaceTaken": _place_taken,
    "Session.Waitlisted": _waitlisted,
    "Session.RegistrationCancelled": _cancelled,
    "Session.Attended": _attended,
    "Parent.Enrolled": _enrolled,
    "Parent.RankingConsentChanged": _consent,
    "Parent.Erased": _parent_erased,
    "Parent.PointsAwarded": _awarded,
    "PointsRules.Started": _rules,
    "PointsRules.Changed": _rules,
    "TrainingBatch.Scheduled": _batch_scheduled,
    "TrainingBatch.Enrolled": _training_enrolled,
    "TrainingBatch.AttendanceRecorded": _training_attended,
    "TrainingBatch.CertificateIssued": _certificate,
    "TrainingBatch.Completed": _training_completed,
    "LectureQuota.Set": _quota,
    "LectureQuota.Changed": _quota,
}


def translate(domain_event: Any) -> ContractEvent | None:
    """The contract event to publish for a domain event, or None (not published)."""
    translation = TRANSLATIONS.get(type(domain_event).__qualname__)
    return translation(domain_event) if translation else None
