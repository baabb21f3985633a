"""HTTP routes of the courses service: parse, authorise, call the application."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, Field, model_validator

from contracts.courses import (
    Audience,
    HostKind,
    LecturerKind,
    Level,
    Mode,
    Stage,
    TenHave,
    Theme,
    parse_term,
)
from services.courses.application import CoursesApplication
from services.courses.domain import (
    FIVE_STEPS,
    TEN_HAVES,
    Parent,
    ParentSchool,
    Session,
    TrainingBatch,
)
from services.courses.policy import POLICY
from services.courses.responses import (
    Attendance,
    BatchChanged,
    BatchView,
    Cancellation,
    CourseChanged,
    HomeworkCredited,
    Inspected,
    Names,
    ParentChanged,
    ParentSchoolChanged,
    ParentSchoolView,
    ParentView,
    QuotaSet,
    Registration,
    RulesChanged,
    SessionChanged,
    SessionView,
    TeachersEnrolled,
    TrainingAttendance,
    TrainingCompleted,
)
from services.kit.auth import Principal
from services.kit.citytime import city_day
from services.kit.commands import Command, SchoolId
from services.kit.errors import DomainError, ForbiddenError
from services.kit.http import Caller, IdempotencyKey, problems
from services.kit.privacy.audit import AccessRecord, Outcome
from services.kit.privacy.datakeys import ERASED
from services.kit.scope import covers_school

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
PublicText = Annotated[str, Field(min_length=1, max_length=200)]
MAX_NAMES = 100
MAX_BATCH = 180
NAME_FIELDS = ("name",)


class RegisterParentSchool(Command):
    name: PublicText = Field(description="The parent school's public name.")
    level: Level
    host_kind: HostKind
    host_id: Code = Field(description="The host's code (district, school or community).")
    district: Code


class RecordEvidence(Command):
    item: TenHave
    document_ref: Code = Field(description="Reference of the evidence document.")
    dated: date


class Inspect(Command):
    verdicts: dict[TenHave, Annotated[str, Field(pattern="^(verified|rejected)$")]] = Field(
        min_length=1, description="Verdict per item inspected: verified or rejected."
    )
    inspected_on: date


class CourseFields(Command):
    title: PublicText
    problem: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="The typical family problem the course answers."
    )
    stages: list[Stage] = Field(min_length=1, max_length=4)
    themes: list[Theme] = Field(min_length=1, max_length=5)
    steps: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        min_length=len(FIVE_STEPS),
        max_length=len(FIVE_STEPS),
        description="What each of the five steps holds: " + ", ".join(FIVE_STEPS) + ".",
    )

    @model_validator(mode="after")
    def _no_repeats(self) -> CourseFields:
        if len(set(self.stages)) != len(self.stages) or len(set(self.themes)) != len(self.themes):
            raise ValueError("stages and themes are listed once each")
        return self


class ReviseCourse(CourseFields):
    expected_version: int = Field(ge=1, description="The course version the client last saw.")


class RetireCourse(Command):
    expected_version: int = Field(ge=1, description="The course version the client last saw.")


class ScheduleSession(Command):
    course_id: UUID
    mode: Mode
    parent_school_id: UUID | None = Field(default=None, description="Required in person.")
    school_id: SchoolId | None = None
    district: Code
    lecturer_kind: LecturerKind
    lecturer_id: Code = Field(description="A volunteer id (volunteers service) or a staff id.")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(ge=1, le=5000)


class Register(Command):
    parent_id: UUID
    expected_version: int | None = Field(
        default=None, ge=1, description="The session version the client last saw (409 if stale)."
    )


class Attend(Command):
    parent_id: UUID
    at: AwareDatetime | None = Field(default=None, description="Defaults to now.")


class EnrolParent(Command):
    name: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="Shown to the school's staff, and beside a rank only with consent."
    )
    school_id: SchoolId
    class_id: Code
    district: Code
    ranking_opt_in: bool = False


class RankingConsent(Command):
    opted_in: bool


class Homework(Command):
    course_id: UUID


class ChangePointsRules(Command):
    attendance: int = Field(ge=0, le=1000)
    online_completion: int = Field(ge=0, le=1000)
    homework: int = Field(ge=0, le=1000)
    expected_version: int | None = Field(default=None, ge=1, description="Rules version seen.")


class NamesLookup(Command):
    ids: list[str] = Field(min_length=1, max_length=MAX_NAMES, description="Parent ids (UUIDs).")
    purpose: str | None = Field(default=None, min_length=1, max_length=200)


class ScheduleTraining(Command):
    title: PublicText
    audience: Audience = Field(
        description="head-teacher (one day), manager (three), lecturer (two)."
    )
    starts_on: date
    capacity: int = Field(ge=1, le=MAX_BATCH, description="Head teachers: 150 to 180 a batch.")
    quotas: dict[SchoolId, Annotated[int, Field(ge=1, le=MAX_BATCH)]] = Field(
        min_length=1, max_length=MAX_BATCH, description="Places per school (school id -> places)."
    )


class EnrolTeachers(Command):
    school_id: SchoolId
    teacher_ids: list[Code] = Field(
        min_length=1, max_length=MAX_BATCH, description="Staff ids of the school's teachers."
    )
    expected_version: int | None = Field(default=None, ge=1, description="Batch version seen.")


class TrainingPresence(Command):
    day: date
    teacher_ids: list[Code] = Field(min_length=1, max_length=MAX_BATCH)


class CompleteTraining(Command):
    expected_version: int | None = Field(default=None, ge=1, description="Batch version seen.")


class SetLectureQuota(Command):
    min_lectures: int = Field(ge=1, le=200, description="Lectures each school holds at least.")
    schools: list[SchoolId] | None = Field(
        default=None, max_length=2000, description="Schools held to it (default: every school)."
    )
    expected_version: int | None = Field(
        default=None, ge=0, description="The quota version seen (0: none set yet; 409 if stale)."
    )


async def application(request: Request) -> CoursesApplication:
    # A coroutine: a plain function as a dependency would cost a trip through the thread pool.
    return request.app.state.application


App = Annotated[CoursesApplication, Depends(application)]
router = APIRouter(tags=["courses"])
NEW = problems(409)
EXISTING = problems(404, 409)
READ = problems(404)


def _host_school(app: CoursesApplication, parent_school_id: UUID) -> Callable[[], str | None]:
    # A school-level parent school belongs to its school; the others to no one school.
    def find() -> str | None:
        school = app.parent_school(parent_school_id)
        return school.host_id if school.host_kind == "school" else None

    return find


def _session_school(app: CoursesApplication, session_id: UUID) -> Callable[[], str | None]:
    return lambda: app.session(session_id).school_id


def _parent_school_of(app: CoursesApplication, parent_id: UUID) -> Callable[[], str | None]:
    return lambda: app.parent(parent_id).school_id


@router.post("/parent-schools", status_code=201, response_model=ParentSchoolChanged, responses=NEW)
def register_parent_school(
    body: RegisterParentSchool, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    school = body.host_id if body.host_kind == "school" else None
    POLICY.authorize(caller, "register-parent-school", school=school)
    return app.register_parent_school(key, **body.model_dump())


@router.post(
    "/parent-schools/{parent_school_id}/evidence",
    response_model=ParentSchoolChanged,
    responses=EXISTING,
)
def record_evidence(
    parent_school_id: UUID, body: RecordEvidence, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "record-evidence", school=_host_school(app, parent_school_id))
    return app.record_evidence(key, parent_school_id, body.item, body.document_ref, body.dated)


@router.post(
    "/parent-schools/{parent_school_id}/inspections", response_model=Inspected, responses=EXISTING
)
def inspect(
    parent_school_id: UUID, body: Inspect, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "inspect-parent-school", school=_host_school(app, parent_school_id))
    return app.inspect(
        key,
        parent_school_id,
        {str(item): verdict for item, verdict in body.verdicts.items()},
        body.inspected_on,
        caller.department or "",
    )


@router.get("/parent-schools/{parent_school_id}", response_model=ParentSchoolView, responses=READ)
def get_parent_school(parent_school_id: UUID, caller: Caller, app: App) -> Any:
    POLICY.authorize(caller, "record-evidence", school=_host_school(app, parent_school_id))
    return parent_school_view(app.parent_school(parent_school_id), app)


@router.post("/courses", status_code=201, response_model=CourseChanged, responses=NEW)
def publish_course(body: CourseFields, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "publish-course")
    return app.publish_course(key, **body.model_dump())


@router.put("/courses/{course_id}", response_model=CourseChanged, responses=EXISTING)
def revise_course(
    course_id: UUID, body: ReviseCourse, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "publish-course")
    fields = body.model_dump(exclude={"expected_version"})
    return app.revise_course(key, course_id, body.expected_version, **fields)


@router.post("/courses/{course_id}/retirement", response_model=CourseChanged, responses=EXISTING)
def retire_course(
    course_id: UUID, body: RetireCourse, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "publish-course")
    return app.retire_course(key, course_id, body.expected_version)


@router.post("/sessions", status_code=201, response_model=SessionChanged, responses=EXISTING)
def schedule_session(body: ScheduleSession, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "schedule-session", school=body.school_id)
    fields = body.model_dump()
    fields["course_id"] = str(body.course_id)
    fields["parent_school_id"] = str(body.parent_school_id) if body.parent_school_id else None
    return app.schedule_session(key, **fields)


@router.get("/sessions/{session_id}", response_model=SessionView, responses=READ)
def get_session(session_id: UUID, caller: Caller, app: App) -> Any:
    POLICY.authorize(caller, "read-session", school=_session_school(app, session_id))
    return session_view(app.session(session_id))


@router.post(
    "/sessions/{session_id}/registrations", response_model=Registration, responses=EXISTING
)
def register(
    session_id: UUID, body: Register, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(
        caller,
        "register",
        school=_parent_school_of(app, body.parent_id),
        volunteer_id=str(body.parent_id),
    )
    return app.register(key, session_id, body.parent_id, body.expected_version)


@router.post(
    "/sessions/{session_id}/cancellations", response_model=Cancellation, responses=EXISTING
)
def cancel_registration(
    session_id: UUID, body: Register, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(
        caller,
        "cancel-registration",
        school=_parent_school_of(app, body.parent_id),
        volunteer_id=str(body.parent_id),
    )
    return app.cancel_registration(key, session_id, body.parent_id, body.expected_version)


@router.post("/sessions/{session_id}/attendance", response_model=Attendance, responses=EXISTING)
def attend(session_id: UUID, body: Attend, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "attend", school=_session_school(app, session_id))
    return app.attend(key, session_id, body.parent_id, body.at)


@router.post("/parents", status_code=201, response_model=ParentChanged, responses=NEW)
def enrol_parent(body: EnrolParent, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "enrol-parent", school=body.school_id)
    return app.enrol_parent(key, **body.model_dump())


@router.put(
    "/parents/{parent_id}/ranking-consent", response_model=ParentChanged, responses=EXISTING
)
def consent_to_ranking(
    parent_id: UUID, body: RankingConsent, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(
        caller,
        "consent-to-ranking",
        school=_parent_school_of(app, parent_id),
        volunteer_id=str(parent_id),
    )
    return app.consent_to_ranking(key, parent_id, body.opted_in)


@router.post("/parents/{parent_id}/homework", response_model=HomeworkCredited, responses=EXISTING)
def submit_homework(
    parent_id: UUID, body: Homework, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(
        caller,
        "submit-homework",
        school=_parent_school_of(app, parent_id),
        volunteer_id=str(parent_id),
    )
    return app.submit_homework(key, parent_id, body.course_id)


@router.get("/parents/{parent_id}", response_model=ParentView, responses=READ)
def get_parent(parent_id: UUID, caller: Caller, app: App) -> Any:
    person = [str(parent_id)]
    try:
        POLICY.authorize(
            caller, "read-parent", school=_parent_school_of(app, parent_id), volunteer_id=person[0]
        )
    except ForbiddenError:
        _log(app, caller, person, "parent record", "denied")
        raise
    parent = app.parent(parent_id)
    name = app.name_of(parent)
    _log(app, caller, person, "parent record", "allowed")
    return {
        "parent_id": str(parent.id),
        "name": None if name is ERASED else name,
        "school_id": parent.school_id,
        "class_id": parent.class_id,
        "district": parent.district,
        "points": parent.points,
        "ranking_opt_in": parent.ranking_opt_in,
        "erased": parent.erased,
        "version": parent.version,
    }


@router.post("/parents/{parent_id}/erase", response_model=ParentChanged, responses=READ)
def erase_parent(parent_id: UUID, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    """Erase the parent's personal data for good (idempotent); their points stay."""
    try:
        POLICY.authorize(caller, "erase-parent", school=_parent_school_of(app, parent_id))
    except ForbiddenError:
        _log(app, caller, [str(parent_id)], "erasure", "denied")
        raise
    response = app.erase_parent(key, parent_id)
    _log(app, caller, [str(parent_id)], "erasure", "allowed")
    return response


@router.put("/points-rules", response_model=RulesChanged, responses=NEW)
def change_points_rules(
    body: ChangePointsRules, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "change-points-rules")
    terms = body.model_dump(exclude={"expected_version"})
    return app.change_points_rules(key, body.expected_version, **terms)


@router.post(
    "/training-batches", status_code=201, response_model=BatchChanged, responses=problems(409)
)
def schedule_training(body: ScheduleTraining, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "schedule-training")
    return app.schedule_training(key, **body.model_dump())


@router.post(
    "/training-batches/{batch_id}/enrolments", response_model=TeachersEnrolled, responses=EXISTING
)
def enrol_teachers(
    batch_id: UUID, body: EnrolTeachers, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "enrol-teachers", school=body.school_id)
    return app.enrol_teachers(
        key, batch_id, body.school_id, body.teacher_ids, body.expected_version
    )


@router.post(
    "/training-batches/{batch_id}/attendance",
    response_model=TrainingAttendance,
    responses=EXISTING,
)
def record_training_attendance(
    batch_id: UUID, body: TrainingPresence, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "record-training-attendance")
    return app.record_training_attendance(key, batch_id, body.day, body.teacher_ids)


@router.post(
    "/training-batches/{batch_id}/completion",
    response_model=TrainingCompleted,
    responses=EXISTING,
)
def complete_training(
    batch_id: UUID, body: CompleteTraining, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "complete-training")
    return app.complete_training(key, batch_id, body.expected_version)


@router.get("/training-batches/{batch_id}", response_model=BatchView, responses=READ)
def get_training_batch(batch_id: UUID, caller: Caller, app: App) -> Any:
    POLICY.authorize(caller, "read-training")
    return batch_view(app, app.training_batch(batch_id))


@router.put("/lecture-quotas/{term}", response_model=QuotaSet, responses=NEW)
def set_lecture_quota(
    term: str, body: SetLectureQuota, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "set-lecture-quota")
    try:
        parsed = parse_term(term)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    return app.set_lecture_quota(
        key, parsed, body.min_lectures, body.schools, body.expected_version
    )


@router.post("/parents/names", response_model=Names, responses=problems())
def parent_names(body: NamesLookup, caller: Caller, app: App) -> dict[str, Any]:
    """Names of up to 100 parents, each read authorised and logged on its own.

    The bureau's staff read the names of the parents of the schools in their scope; any
    other caller (a ranking shown to a class, the dashboard) reads only the names of
    parents who opted in to be named in rankings. Everything else is denied, and every
    allowed and denied read goes to the access log in one append.
    """
    purpose = body.purpose or "ranking"
    try:
        as_staff = not POLICY.admit(caller, "read-names")
    except ForbiddenError:
        as_staff = False
    wanted = {raw: _uuid(raw) for raw in dict.fromkeys(body.ids)}
    found = app.parents([pid for pid in wanted.values() if pid is not None])
    allowed: dict[str, Parent] = {}
    denied: list[str] = []
    unknown: list[str] = []
    for raw, pid in wanted.items():
        parent = found.get(pid) if pid is not None else None
        if parent is None:
            unknown.append(raw)
        elif (as_staff and covers_school(caller.scope, parent.school_id)) or parent.ranking_opt_in:
            allowed[raw] = parent
        else:
            denied.append(raw)
    names: dict[str, str] = {}
    erased: list[str] = []
    for raw, name in zip(allowed, app.names(allowed.values()), strict=True):
        if name is ERASED:
            erased.append(raw)
        else:
            names[raw] = name
    app.privacy.log.append(
        [
            *_records(caller, [*names, *erased], purpose, "allowed"),
            *_records(caller, denied, purpose, "denied"),
        ]
    )
    return {"names": names, "erased": erased, "denied": denied, "unknown": unknown}


def _uuid(raw: str) -> UUID | None:
    try:
        return UUID(raw)
    except ValueError:
        return None


def _records(
    caller: Principal, person_ids: list[str], purpose: str, outcome: Outcome
) -> list[AccessRecord]:
    return [
        AccessRecord(
            caller.subject, caller.role, caller.department, pid, NAME_FIELDS, purpose, outcome
        )
        for pid in person_ids
    ]


def _log(
    app: CoursesApplication, caller: Principal, person_ids: list[str], purpose: str,
    outcome: Outcome,
) -> None:  # fmt: skip
    app.privacy.log.append(_records(caller, person_ids, purpose, outcome))


def parent_school_view(school: ParentSchool, app: CoursesApplication) -> dict[str, Any]:
    items = []
    for item in TEN_HAVES:
        evidence = school.evidence.get(item, {})
        verdict = school.verdicts.get(item, {})
        items.append(
            {
                "item": item,
                "document_ref": evidence.get("document_ref"),
                "dated": evidence.get("dated"),
                "verdict": verdict.get("verdict"),
                "inspected_on": verdict.get("inspected_on"),
            }
        )
    return {
        "parent_school_id": str(school.id),
        "name": school.name,
        "level": school.level,
        "host_kind": school.host_kind,
        "host_id": school.host_id,
        "district": school.district,
        "meets_standard": school.meets_standard_on(city_day(app.clock())),
        "items": items,
        "version": school.version,
    }


def session_view(session: Session) -> dict[str, Any]:
    return {
        "session_id": str(session.id),
        "course_id": session.course_id,
        "mode": session.mode,
        "parent_school_id": session.parent_school_id,
        "school_id": session.school_id,
        "district": session.district,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "capacity": session.capacity,
        "places_filled": session.places_filled,
        "places_left": session.places_left,
        "waitlisted": len(session.waitlist),
        "registered": list(session.places),
        "waitlist": list(session.waitlist),
        "version": session.version,
    }


def batch_view(app: CoursesApplication, batch: TrainingBatch) -> dict[str, Any]:
    return app.batch_summary(batch) | {
        "title": batch.title,
        "audience": batch.audience,
        "capacity": batch.capacity,
        "quotas": batch.quotas,
        "teachers": batch.teachers,
        "present": batch.present,
        "certificates": batch.certificates,
    }
