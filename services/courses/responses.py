"""What the courses API answers, as documented in its OpenAPI and checked on the way out."""

from __future__ import annotations

from pydantic import Field

from services.kit.commands import Answer


class ParentSchoolChanged(Answer):
    parent_school_id: str
    meets_standard: bool = Field(description="All ten items verified and none expired today.")
    version: int


class Inspected(ParentSchoolChanged):
    inspection_id: str


class ItemView(Answer):
    item: str
    document_ref: str | None
    dated: str | None
    verdict: str | None = Field(description="verified, rejected, or none yet.")
    inspected_on: str | None


class ParentSchoolView(Answer):
    parent_school_id: str
    name: str
    level: str
    host_kind: str
    host_id: str
    district: str
    meets_standard: bool
    items: list[ItemView] = Field(description="The ten haves, in the standard's order.")
    version: int


class CourseChanged(Answer):
    course_id: str
    revision: int
    retired: bool
    version: int


class SessionChanged(Answer):
    session_id: str
    places_filled: int
    places_left: int
    waitlisted: int
    version: int = Field(description="The session's version after the command.")


class Registration(SessionChanged):
    parent_id: str
    status: str = Field(description="registered or waitlisted.")
    waitlist_position: int | None


class Cancellation(SessionChanged):
    parent_id: str
    status: str
    promoted_parent_id: str | None = Field(description="Who took the place from the waitlist.")


class Attendance(SessionChanged):
    parent_id: str
    status: str
    points: int = Field(description="Points earned by this attendance.")
    parent_points: int = Field(description="The parent's points in total.")


class SessionView(SessionChanged):
    course_id: str
    mode: str
    parent_school_id: str | None
    school_id: str | None
    district: str
    starts_at: str
    ends_at: str
    capacity: int
    registered: list[str] = Field(description="Parents holding a place, in the order taken.")
    waitlist: list[str] = Field(description="Parents waiting, next in first.")


class ParentChanged(Answer):
    parent_id: str
    points: int
    ranking_opt_in: bool
    erased: bool
    version: int


class HomeworkCredited(ParentChanged):
    points_earned: int = Field(description="Points earned by this homework.")


class ParentView(ParentChanged):
    name: str | None = Field(description="Null once erased.")
    school_id: str
    class_id: str
    district: str


class RulesChanged(Answer):
    rules_version: int


class Names(Answer):
    names: dict[str, str] = Field(description="Name by parent id.")
    erased: list[str] = Field(description="Parents whose personal data was erased.")
    denied: list[str] = Field(description="Parents whose name the caller may not read.")
    unknown: list[str] = Field(description="Ids that name no parent.")


class BatchChanged(Answer):
    batch_id: str
    starts_on: str
    ends_on: str = Field(description="Last day of training (one day, or three for managers).")
    enrolled: int = Field(description="Teachers enrolled in the batch.")
    completed: bool
    version: int


class TeachersEnrolled(BatchChanged):
    school_id: str
    school_enrolled: int = Field(description="The school's teachers enrolled so far.")
    school_quota: int = Field(description="The school's places in the batch.")


class TrainingAttendance(BatchChanged):
    day: str
    present: int = Field(description="Teachers marked present that day.")


class TrainingCompleted(BatchChanged):
    certified: int = Field(description="Certificates issued (teachers present every day).")


class CertificateView(Answer):
    certificate_no: str
    teacher_id: str
    school_id: str
    issued_on: str


class BatchView(BatchChanged):
    title: str
    audience: str
    capacity: int
    quotas: dict[str, int] = Field(description="Places per school.")
    teachers: dict[str, str] = Field(description="School of each teacher enrolled.")
    present: dict[str, list[str]] = Field(description="Teachers present, per day.")
    certificates: list[CertificateView]


class QuotaSet(Answer):
    term: str
    min_lectures: int
    schools: list[str]
    version: int
