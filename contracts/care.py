"""Events published by the care service (owned by the Education Bureau, `edu`).

A care file is about a child in need, and that a child has one is itself sensitive. So
nothing here names a child or says why a file exists: a file is an opaque id with the
school, class and district it counts towards, and the facts the city's figures need
(opened, visited, its status, when it is next reviewed). Categories, screening results,
evidence, notes and the child's identity stay in the care service, encrypted per child.
Referrals name the department and their state, never the file they came from.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from contracts.events import ContractEvent, classified
from contracts.measures import measurable

FileSource = Literal["school", "civ", "hlth"]
FileStatus = Literal["open", "monitoring", "closed", "reopened"]
VisitMode = Literal["home", "phone", "school"]
ReferralStatus = Literal["sent", "accepted", "rejected", "done", "revoked"]


class _CareEvent(ContractEvent):
    boundary = "care"


class CareLeadNamed(_CareEvent):
    """A staff member was named care lead of a school: they get its worklist and alerts."""

    event_name = "care-lead-named"
    school_id: str = classified("code", "The school.")
    lead_id: str = classified("id", "The care lead's account id (the token subject).")


@measurable(
    at="opened_at",
    school="school_id",
    district="district_id",
    subject="file_id",
    facets=("source",),
)
class FileOpened(_CareEvent):
    """A care file was opened for a child (who, and why, stay in the care service)."""

    event_name = "file-opened"
    file_id: str = classified("id", "Care file id (UUID).")
    school_id: str = classified("code", "The child's school.")
    class_id: str = classified("code", "The child's class, as the school codes it.")
    district_id: str = classified("code", "The district or county the school belongs to.")
    source: FileSource = classified(
        "code", "Who identified the child: the school, civil affairs or health."
    )
    opened_at: datetime = classified("time", "When the file was opened.")


class IntakeReceived(_CareEvent):
    """A department referred a child to a school's care (details sealed, kept in care)."""

    event_name = "intake-received"
    intake_id: str = classified("id", "Intake id (UUID), to open the file from.")
    file_id: str = classified("id", "The id the file opened from it will have (UUID).")
    school_id: str = classified("code", "The school asked to open a file.")
    source: FileSource = classified("code", "civ or hlth.")
    received_at: datetime = classified("time", "When care received it.")


class FileStatusChanged(_CareEvent):
    """A file's status changed (the reason stays in the care service)."""

    event_name = "file-status-changed"
    file_id: str = classified("id", "Care file id (UUID).")
    status: FileStatus = classified("code", "The new status.")
    changed_at: datetime = classified("time", "When it changed.")


class LeadAssigned(_CareEvent):
    """A staff member became the lead of a file's support team (a care lead's worklist)."""

    event_name = "lead-assigned"
    file_id: str = classified("id", "Care file id (UUID).")
    lead_id: str = classified("id", "The lead's account id (the token subject).")
    assigned_at: datetime = classified("time", "When.")


class ReviewScheduled(_CareEvent):
    """The file's next review is due on this day (what is reviewed stays in the service)."""

    event_name = "review-scheduled"
    file_id: str = classified("id", "Care file id (UUID).")
    review_on: date = classified("time", "The earliest review date of the file's open items.")


@measurable(at="visited_on", subject="file_id", facets=("mode", "head_teacher_went"))
class HomeVisitRecorded(_CareEvent):
    """A home visit (家访) to a child's family was recorded: who went by role, not by name."""

    event_name = "home-visit-recorded"
    file_id: str = classified("id", "Care file id (UUID).")
    visit_id: str = classified("id", "Visit id (UUID).")
    visited_on: date = classified("time", "The day of the visit.")
    mode: VisitMode = classified("code", "home, phone or school.")
    visitors: int = classified("fact", "How many people went (1+N: the lead plus N).")
    head_teacher_went: bool = classified("fact", "Whether the head teacher was one of them.")
    next_visit_on: date | None = classified("time", "When the next visit is due.", default=None)


class BreakGlassOpened(_CareEvent):
    """Someone not assigned to a file opened it in an emergency: an alert to supervisors."""

    event_name = "break-glass-opened"
    file_id: str = classified("id", "Care file id (UUID).")
    school_id: str = classified("code", "The file's school (whose care lead is alerted).")
    opened_by: str = classified("id", "The account that broke the glass (token subject).")
    until: datetime = classified("time", "When the emergency access ends.")


class FileErased(_CareEvent):
    """A child's personal data was erased; the file still counts in figures."""

    event_name = "file-erased"
    file_id: str = classified("id", "Care file id (UUID).")
    erased_at: datetime = classified("time", "When.")


class ReferralChanged(_CareEvent):
    """A referral between care and a department was sent, answered or revoked."""

    event_name = "referral-changed"
    referral_id: str = classified("id", "Referral id (UUID).")
    to_department: str = classified("code", "The receiving department's code.")
    status: ReferralStatus = classified("code", "The referral's new state.")
    changed_at: datetime = classified("time", "When.")


class ReviewsCleared(_CareEvent):
    """Nothing on the file is due for review any more (its goals achieved or dropped)."""

    event_name = "reviews-cleared"
    file_id: str = classified("id", "Care file id (UUID).")


class ReviewOverdue(_CareEvent):
    """A file's review date passed without a review (the care service's durable deadline):
    the school's care lead and the district's care officer have it on their worklists."""

    event_name = "review-overdue"
    file_id: str = classified("id", "Care file id (UUID).")
    school_id: str = classified("code", "The file's school (whose care lead is told).")
    district_id: str = classified("code", "The school's district (whose care officer is told).")
    review_on: date = classified("time", "The review date that passed.")


class FollowUpRecorded(_CareEvent):
    """A follow-up was recorded on a file (what was said stays in the care service)."""

    event_name = "follow-up-recorded"
    file_id: str = classified("id", "Care file id (UUID).")
    follow_up_id: str = classified("id", "Follow-up id (UUID).")
    followed_up_on: date = classified("time", "The day of the follow-up.")
    mode: Literal["talk", "call", "home", "class", "meeting"] = classified(
        "code", "How: a talk, a call, at home, in class or at a meeting."
    )


class HomeTeachingScheduled(_CareEvent):
    """Home-delivered teaching (送教上门) was scheduled for a file (why stays in care)."""

    event_name = "home-teaching-scheduled"
    file_id: str = classified("id", "Care file id (UUID).")
    sessions_per_week: int = classified("fact", "Sessions a week (1 to 5).")
    starts_on: date = classified("time", "First day of the schedule.")
    ends_on: date = classified("time", "Last day of the schedule.")


class HomeTeachingSessionDelivered(_CareEvent):
    """A home-teaching session was given (the teacher and the notes stay in care)."""

    event_name = "home-teaching-session-delivered"
    file_id: str = classified("id", "Care file id (UUID).")
    session_id: str = classified("id", "Session id (UUID).")
    delivered_on: date = classified("time", "The day of the session.")
    hours: float = classified("fact", "How long it lasted, in hours.")
