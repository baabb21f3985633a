"""Events published by the courses service (owned by the Education Bureau, `edu`).

Parent schools, the course supermarket, lectures and points. A parent's name is personal
data: it stays in the courses service (encrypted per person) and is read through its API
(`POST /parents/names`), never from the bus. Points carry the parent's id and the class,
school and district they count for, so rankings can be built without a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from contracts.events import ContractEvent, classified
from contracts.measures import measurable

Level = Literal["city-county", "school", "community", "online"]
HostKind = Literal["district", "school", "community", "platform"]
TenHave = Literal[
    "organisation",
    "signage",
    "teaching-plan",
    "management-rules",
    "work-ledger",
    "teachers",
    "materials",
    "activities",
    "inspection",
    "funding",
]
Stage = Literal["preschool", "primary", "middle", "high"]
Theme = Literal[
    "mental-health",
    "parent-child-communication",
    "study-guidance",
    "life-education",
    "emotion-management",
    "double-reduction",
    "safety",
    "rule-of-law",
    "family-values",
]
Mode = Literal["in-person", "online"]
LecturerKind = Literal["volunteer", "teacher"]
Activity = Literal["attendance", "online-completion", "homework"]
Audience = Literal["head-teacher", "manager", "lecturer"]


@dataclass(frozen=True)
class Term:
    """A school term, labelled as the alliance labels its periods (`2026-2027-term-1`).

    A school year runs from 1 September; its first term to 31 January, its second from
    1 February to 31 August. Quotas and participation per term use these labels, so the
    alliance's term targets and the courses service's figures name the same days.
    """

    label: str
    starts_on: date
    ends_on: date

    def holds(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


def term_of(day: date) -> Term:
    """The term `day` falls in."""
    first = day.year if day.month >= 9 else day.year - 1
    year = f"{first}-{first + 1}"
    if day.month >= 9 or day.month == 1:
        return Term(f"{year}-term-1", date(first, 9, 1), date(first + 1, 1, 31))
    return Term(f"{year}-term-2", date(first + 1, 2, 1), date(first + 1, 8, 31))


def parse_term(label: str) -> Term:
    """The term a label names; ValueError for anything else."""
    parts = label.split("-")
    if len(parts) != 4 or parts[2] != "term" or parts[3] not in ("1", "2"):
        raise ValueError(f"not a term label: {label!r} (e.g. 2026-2027-term-1)")
    first, second = int(parts[0]), int(parts[1])
    if second != first + 1 or not 2000 <= first <= 2100:
        raise ValueError(f"not a term label: {label!r} (e.g. 2026-2027-term-1)")
    return term_of(date(first, 10, 1) if parts[3] == "1" else date(second, 3, 1))


class _CoursesEvent(ContractEvent):
    boundary = "courses"


class ParentSchoolRegistered(_CoursesEvent):
    """A parent school was registered at one of the three levels, or online."""

    event_name = "parent-school-registered"
    parent_school_id: str = classified("id", "Parent school id (UUID).")
    name: str = classified("public-text", "The parent school's public name.")
    level: Level = classified("code", "city-county, school, community or online.")
    host_kind: HostKind = classified(
        "code", "What hosts it: district, school, community, platform."
    )
    host_id: str = classified("code", "The host's code (a district, school or community code).")
    district: str = classified("code", "District or county-level unit it belongs to.")
    registered_at: datetime = classified("time", "When it was registered.")


class TenHaveEvidenceRecorded(_CoursesEvent):
    """Evidence for one item of a parent school's "ten haves" checklist was put on file."""

    event_name = "ten-have-evidence-recorded"
    parent_school_id: str = classified("id", "Parent school id (UUID).")
    item: TenHave = classified("code", "The checklist item.")
    document_ref: str = classified("id", "Reference of the evidence document.")
    dated: date = classified("time", "Date of the evidence document.")


class ParentSchoolInspected(_CoursesEvent):
    """An inspector gave verdicts on items of a parent school's "ten haves" checklist."""

    event_name = "parent-school-inspected"
    parent_school_id: str = classified("id", "Parent school id (UUID).")
    inspection_id: str = classified("id", "The inspection's id.")
    by_department: str = classified("code", "Department whose inspector gave the verdicts.")
    inspected_on: date = classified("time", "Day of the inspection.")
    verified: list[TenHave] = classified("code", "Items verified by this inspection.")
    rejected: list[TenHave] = classified("code", "Items found wanting by this inspection.")
    meets_standard: bool = classified(
        "fact", "After this inspection, all ten items are verified and none has expired."
    )
    valid_until: date | None = classified(
        "time", "Last day the standard holds without a new inspection (none: not met)."
    )


class CoursePublished(_CoursesEvent):
    """A course was put in the course supermarket, or a revision of it published."""

    event_name = "course-published"
    course_id: str = classified("id", "Course id (UUID).")
    revision: int = classified("fact", "1 for the first publication, then one more per revision.")
    title: str = classified("public-text", "Title shown in the catalogue.")
    problem: str = classified("public-text", "The typical family problem the course answers.")
    stages: list[Stage] = classified("code", "Child stages the course is for.")
    themes: list[Theme] = classified("code", "Themes of the course.")
    steps: list[str] = classified(
        "public-text",
        "The five-step method: video intro, discussion, problem summary, homework, micro-lesson.",
    )
    published_at: datetime = classified("time", "When this revision was published.")


class CourseRetired(_CoursesEvent):
    """A course was taken out of the course supermarket; its sessions held stay on record."""

    event_name = "course-retired"
    course_id: str = classified("id", "Course id (UUID).")
    retired_at: datetime = classified("time", "When it was retired.")


@measurable(
    at="starts_at", school="school_id", district="district", facets=("mode", "lecturer_kind")
)
class SessionScheduled(_CoursesEvent):
    """A lecture session of a course was scheduled at a parent school or online."""

    event_name = "session-scheduled"
    session_id: str = classified("id", "Session id (UUID).")
    course_id: str = classified("id", "The course taught.")
    parent_school_id: str | None = classified("id", "Where it is held (none: online only).")
    school_id: str | None = classified("code", "The school it is for, if any.")
    district: str = classified("code", "District it counts for.")
    mode: Mode = classified("code", "in-person or online.")
    lecturer_kind: LecturerKind = classified("code", "volunteer (volunteers service) or teacher.")
    lecturer_id: str = classified("id", "The lecturer's id (a volunteer id or a staff id).")
    starts_at: datetime = classified("time", "Start.")
    ends_at: datetime = classified("time", "End (online: the last moment to complete it).")
    capacity: int = classified("fact", "Number of places.", ge=1)


class SessionPlaceTaken(_CoursesEvent):
    """A parent took a place on a session (registered, or promoted from the waitlist)."""

    event_name = "session-place-taken"
    session_id: str = classified("id", "Session id (UUID).")
    parent_id: str = classified("id", "Parent id (UUID).")
    promoted: bool = classified("fact", "True when the place came from the waitlist.")
    places_filled: int = classified("fact", "Places filled after this.", ge=0)
    waitlisted: int = classified("fact", "Parents on the waitlist after this.", ge=0)


class SessionWaitlisted(_CoursesEvent):
    """A parent registered for a full session and was put on its waitlist."""

    event_name = "session-waitlisted"
    session_id: str = classified("id", "Session id (UUID).")
    parent_id: str = classified("id", "Parent id (UUID).")
    position: int = classified("fact", "Position on the waitlist (1: next in).", ge=1)
    waitlisted: int = classified("fact", "Parents on the waitlist after this.", ge=1)


class SessionRegistrationCancelled(_CoursesEvent):
    """A parent gave back a place, or left the waitlist."""

    event_name = "session-registration-cancelled"
    session_id: str = classified("id", "Session id (UUID).")
    parent_id: str = classified("id", "Parent id (UUID).")
    from_waitlist: bool = classified("fact", "True when the parent only left the waitlist.")
    places_filled: int = classified("fact", "Places filled after this.", ge=0)
    waitlisted: int = classified("fact", "Parents on the waitlist after this.", ge=0)


@measurable(at="at", school="school_id", district="district", subject="parent_id")
class SessionAttended(_CoursesEvent):
    """A parent attended a session (checked in by the host, or completed it online).

    The school and district are the parent's (their child's school), so attendances
    count per school wherever the session was held. Added within v1 (optional): an
    attendance published before carries neither, and counts for no school.
    """

    event_name = "session-attended"
    session_id: str = classified("id", "Session id (UUID).")
    parent_id: str = classified("id", "Parent id (UUID).")
    at: datetime = classified("time", "Check-in or completion time.")
    school_id: str | None = classified(
        "code", "The parent's school (their child's); absent on older events.", default=None
    )
    district: str | None = classified(
        "code", "The parent's school's district; absent on older events.", default=None
    )


class ParentEnrolled(_CoursesEvent):
    """A parent was enrolled in the parent school of their child's class (name not here)."""

    event_name = "parent-enrolled"
    parent_id: str = classified("id", "Parent id (UUID).")
    school_id: str = classified("code", "The child's school.")
    class_id: str = classified("code", "The child's class, as the school codes it.")
    district: str = classified("code", "The school's district.")
    enrolled_at: datetime = classified("time", "When the parent was enrolled.")


class RankingConsentChanged(_CoursesEvent):
    """A parent chose whether their name may be shown in rankings."""

    event_name = "ranking-consent-changed"
    parent_id: str = classified("id", "Parent id (UUID).")
    opted_in: bool = classified("fact", "True: the name may be shown beside their rank.")


class ParentErased(_CoursesEvent):
    """A parent's personal data was erased; their points and attendance stay as figures."""

    event_name = "parent-erased"
    parent_id: str = classified("id", "Parent id (UUID).")
    erased_at: datetime = classified("time", "When the personal data was erased.")


@measurable(
    at="earned_at",
    school="school_id",
    district="district",
    subject="parent_id",
    quantity="points",
    facets=("activity",),
)
class PointsAwarded(_CoursesEvent):
    """A parent earned points, by the rule version in force when they earned them."""

    event_name = "points-awarded"
    parent_id: str = classified("id", "Parent id (UUID).")
    school_id: str = classified("code", "School the points count for.")
    class_id: str = classified("code", "Class the points count for.")
    district: str = classified("code", "District the points count for.")
    activity: Activity = classified("code", "attendance, online-completion or homework.")
    source_id: str = classified("id", "The session or course the points are for.")
    points: int = classified("fact", "Points earned.", ge=0)
    rule_version: int = classified("fact", "Version of the points rules applied.", ge=1)
    earned_at: datetime = classified("time", "When the points were earned.")


class PointsRulesChanged(_CoursesEvent):
    """The points rules changed; points already earned keep the version they were earned by."""

    event_name = "points-rules-changed"
    version: int = classified("fact", "The new version.", ge=2)
    attendance: int = classified("fact", "Points for attending a session in person.", ge=0)
    online_completion: int = classified("fact", "Points for completing an online session.", ge=0)
    homework: int = classified("fact", "Points for a course's homework.", ge=0)
    changed_at: datetime = classified("time", "From when the new rules apply.")


@measurable(at="starts_on", facets=("audience",))
class TrainingBatchScheduled(_CoursesEvent):
    """A teacher-training batch was scheduled, with each school's quota of places."""

    event_name = "training-batch-scheduled"
    batch_id: str = classified("id", "Training batch id (UUID).")
    title: str = classified("public-text", "The batch's title.")
    audience: Audience = classified("code", "head-teacher (one day), manager (three), lecturer.")
    starts_on: date = classified("time", "First day of training.")
    ends_on: date = classified("time", "Last day of training.")
    capacity: int = classified("fact", "Places in the batch.", ge=1)
    quotas: dict[str, int] = classified("fact", "Places per school (school id -> places).")


class TrainingEnrolled(_CoursesEvent):
    """A school enrolled teachers in a training batch, within its quota."""

    event_name = "training-enrolled"
    batch_id: str = classified("id", "Training batch id (UUID).")
    school_id: str = classified("code", "The school that enrolled them.")
    teacher_ids: list[str] = classified("id", "Staff ids of the teachers enrolled.")
    school_enrolled: int = classified("fact", "The school's teachers enrolled after this.", ge=1)
    enrolled: int = classified("fact", "Teachers enrolled in the batch after this.", ge=1)


class TrainingAttendanceRecorded(_CoursesEvent):
    """Teachers were present on one day of a training batch."""

    event_name = "training-attendance-recorded"
    batch_id: str = classified("id", "Training batch id (UUID).")
    day: date = classified("time", "The day of training.")
    teacher_ids: list[str] = classified("id", "Staff ids of the teachers present (new ones).")


@measurable(
    at="issued_on", school="school_id", district="district", subject="teacher_id",
    facets=("audience",),
)  # fmt: skip
class TrainingCertificateIssued(_CoursesEvent):
    """A teacher completed a training batch (present every day): the certificate, as a record."""

    event_name = "training-certificate-issued"
    batch_id: str = classified("id", "Training batch id (UUID).")
    certificate_no: str = classified("id", "The certificate's number.")
    teacher_id: str = classified("id", "Staff id of the teacher trained.")
    school_id: str = classified("code", "The teacher's school.")
    district: str = classified("code", "The school's district (contracts/city.json).")
    audience: Audience = classified("code", "head-teacher, manager or lecturer.")
    issued_on: date = classified("time", "Day the certificate was issued.")


class TrainingBatchCompleted(_CoursesEvent):
    """A training batch was closed: certificates went to the teachers present every day."""

    event_name = "training-batch-completed"
    batch_id: str = classified("id", "Training batch id (UUID).")
    enrolled: int = classified("fact", "Teachers enrolled.", ge=0)
    certified: int = classified("fact", "Teachers certified (present every day).", ge=0)
    completed_on: date = classified("time", "Day it was closed.")


class LectureQuotaSet(_CoursesEvent):
    """The lecture quota of a term: each school listed holds at least this many lectures.

    Sessions count toward it by `session-scheduled` (school_id, starts_at in the term).
    """

    event_name = "lecture-quota-set"
    term: str = classified("code", "The term, labelled as the alliance does (2026-2027-term-1).")
    starts_on: date = classified("time", "First day of the term.")
    ends_on: date = classified("time", "Last day of the term.")
    min_lectures: int = classified("fact", "Lectures each school holds at least.", ge=1)
    schools: list[str] = classified("code", "The schools held to the quota.")
    version: int = classified("fact", "1 when first set, one more per change.", ge=1)
