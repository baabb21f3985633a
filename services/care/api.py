"""HTTP routes of the care service: parse, authorise (and audit), call the application.

Every read of a file and every refusal on one is an entry in the service's hash-chained
access log: who, role, department, which child (the file id), which fields, why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, model_validator

from contracts.city import load_city
from services.care.application import REFERRAL_DEPARTMENTS, CareApplication
from services.care.domain import (
    MAX_SESSIONS_PER_WEEK,
    SESSION_HOURS,
    CareFile,
    Category,
    FollowUpMode,
    GoalOutcome,
    MemberKind,
    TeamRole,
    VisitMode,
    VisitorRole,
)
from services.care.policy import (
    FIELDS,
    POLICY,
    Relation,
    may_open,
    may_supervise,
    relation,
    require,
)
from services.care.views import file_view
from services.kit.application import CommandKey
from services.kit.auth import Principal
from services.kit.commands import Command, SchoolId
from services.kit.errors import DomainError, ForbiddenError
from services.kit.http import Caller, IdempotencyKey, problems
from services.kit.privacy.audit import Outcome
from services.kit.routes import CommandRoutes

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Account = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Purpose = Literal["psychological-support", "protection", "legal-aid"]
DEFAULT_PURPOSE = "care work"


class NameCareLead(Command):
    account: Account = Field(description="The account (token subject) leading care here.")


class OpenFile(Command):
    school_id: SchoolId = Field(description="One of the city's schools (its district follows).")
    class_id: Code
    name: str = Field(min_length=1, max_length=100, description="The child's name.")
    category: Category | None = Field(
        default=None, description="The category identified at enrolment (with evidence)."
    )
    evidence: Text | None = None
    review_on: date | None = None
    lead: Account | None = Field(default=None, description="The team lead (head teacher).")

    @model_validator(mode="after")
    def _a_category_comes_with_evidence(self) -> OpenFile:
        if self.category is not None and (self.evidence is None or self.review_on is None):
            raise ValueError("a category needs its evidence and a review date")
        return self


class OpenFromIntake(Command):
    pass


class TagCategory(Command):
    category: Category
    evidence: Text
    review_on: date
    expected_version: int | None = Field(default=None, ge=1)


class Review(Command):
    category: Category
    next_review_on: date


class Assign(Command):
    account: Account
    role: TeamRole
    kind: MemberKind = Field(description="teacher, party-member or volunteer (a volunteer id).")


class RecordVisit(Command):
    visited_on: date
    mode: VisitMode
    visitors: list[VisitorRole] = Field(min_length=1, max_length=10)
    notes: Text
    next_visit_on: date | None = None


class SetGoal(Command):
    goal: Text = Field(description="What the plan aims at for the child (kept encrypted).")
    review_on: date = Field(description="When the goal is reviewed (a durable deadline).")
    set_on: date | None = Field(
        default=None,
        description="The day it was agreed, for a plan entered from the paper file (up to a "
        "year back); today if omitted. A review already passed is overdue at once.",
    )


class ReviewGoal(Command):
    outcome: GoalOutcome
    next_review_on: date | None = Field(
        default=None, description="For a continued goal: its next review."
    )
    note: Text


class RecordFollowUp(Command):
    on: date
    mode: FollowUpMode
    goal_id: UUID | None = Field(default=None, description="The plan's goal it follows up.")
    notes: Text


class ScheduleHomeTeaching(Command):
    teacher: Account = Field(description="A teacher of the child's team.")
    sessions_per_week: int = Field(ge=1, le=MAX_SESSIONS_PER_WEEK)
    starts_on: date
    ends_on: date
    reason: Text = Field(description="Why the child cannot attend (kept encrypted).")


class DeliverSession(Command):
    delivered_on: date
    hours: float = Field(ge=SESSION_HOURS[0], le=SESSION_HOURS[1])
    subject: Code = Field(description="The subject taught, e.g. chinese, maths.")
    teacher: Account | None = Field(
        default=None, description="Who taught (a teacher of the team); the caller if omitted."
    )
    notes: Text


class ChangeStatus(Command):
    status: Literal["open", "monitoring", "closed", "reopened"]
    reason: Text
    expected_version: int | None = Field(default=None, ge=1)


class BreakGlass(Command):
    reason: Text


class EraseFile(Command):
    pass


class GrantConsent(Command):
    purpose: Purpose
    recipients: list[Code] = Field(min_length=1, max_length=5)
    guardian: str = Field(min_length=1, max_length=100)
    granted_on: date


class WithdrawConsent(Command):
    pass


class SendReferral(Command):
    department: Code
    purpose: Purpose
    consent_id: UUID | None = None
    legal_basis: Code | None = None


class AnswerReferral(Command):
    status: Literal["accepted", "rejected", "done", "revoked"]
    reason: Text | None = None


async def application(request: Request) -> CareApplication:
    # A coroutine: a plain function as a dependency would cost a trip through the thread pool.
    return request.app.state.application


App = Annotated[CareApplication, Depends(application)]
router = APIRouter(tags=["care"])
NEW = problems(409)
EXISTING = problems(404, 409)
READ = problems(404)


def _audit(
    app: CareApplication,
    caller: Principal,
    person: str,
    fields: tuple[str, ...],
    purpose: str,
    outcome: Outcome,
) -> None:
    app.privacy.log.record(
        subject=caller.subject,
        role=caller.role,
        department=caller.department,
        person_ids=[person],
        fields=fields,
        purpose=purpose,
        outcome=outcome,
    )


@contextmanager
def _refusals_audited(
    app: CareApplication, caller: Principal, person: str, purpose: str
) -> Iterator[None]:
    try:
        yield
    except ForbiddenError:
        _audit(app, caller, person, ("file",), purpose, "denied")
        raise


def _on_file(
    app: CareApplication, caller: Principal, file_id: UUID, action: str
) -> tuple[CareFile, Relation]:
    """The file and the caller's relation to it, allowed `action` on it; refusals logged.

    Role and department come first, so that a stranger learns nothing of which files exist.
    """
    with _refusals_audited(app, caller, str(file_id), action):
        if caller.role != "volunteer":
            POLICY.admit(caller, "act-on-file")
        care_file = app.file(file_id)
        rel = relation(caller, care_file, app.care_lead(care_file.school_id), app.now())
        if action != "read":
            require(rel, action)
    return care_file, rel


def _authorise_on_file(
    app: CareApplication, caller: Principal, action: str, path: Mapping[str, Any]
) -> None:
    _on_file(app, caller, path["file_id"], action)


# The routes acting on one file: the caller's relation to it allows the action, or the
# refusal is logged and answered 403/404 before anything runs.
on_file = CommandRoutes(router, application, authorise=_authorise_on_file)


@router.put("/schools/{school_id}/care-lead", responses=NEW)
def name_care_lead(
    school_id: str, body: NameCareLead, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "name-care-lead", school=school_id)
    return app.name_care_lead(key, school_id, body.account)


@router.post("/files", status_code=201, responses=NEW)
def open_file(body: OpenFile, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    may_open(caller, body.school_id, app.care_lead(body.school_id))
    district = load_city().district_of(body.school_id)
    if district is None:
        raise DomainError(f"{body.school_id!r} is not one of the city's schools")
    return app.open_file(
        key,
        opened_by=caller.subject,
        school_id=body.school_id,
        class_id=body.class_id,
        district_id=district.code,
        name=body.name,
        category=body.category,
        evidence=body.evidence,
        review_on=body.review_on,
        lead=body.lead,
    )


@router.post("/intakes/{intake_id}/file", status_code=201, responses=EXISTING)
def open_from_intake(
    intake_id: UUID, body: OpenFromIntake, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Open the file of a child a department referred (civ) or screening found (hlth)."""
    POLICY.admit(caller, "open-file")
    intake = app.intake(intake_id)
    may_open(caller, intake.school_id, app.care_lead(intake.school_id))
    return app.open_file_from_intake(key, intake_id, caller.subject)


@router.get("/files/{file_id}", responses=READ)
def read_file(
    file_id: UUID,
    caller: Caller,
    app: App,
    purpose: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> dict[str, Any]:
    """The file as the caller's relation to it may see it; logged, allowed or refused."""
    why = purpose or DEFAULT_PURPOSE
    care_file, rel = _on_file(app, caller, file_id, "read")
    view = file_view(app, care_file, rel)
    _audit(app, caller, str(file_id), FIELDS[rel], f"{why} ({rel})", "allowed")
    return view


@on_file.post("/files/{file_id}/categories", action="tag", responses=EXISTING)
def tag_category(
    app: CareApplication, key: CommandKey | None, file_id: UUID, body: TagCategory
) -> Any:
    return app.tag(
        key,
        file_id,
        category=body.category,
        evidence=body.evidence,
        review_on=body.review_on,
        expected_version=body.expected_version,
    )


@on_file.post("/files/{file_id}/reviews", action="review", responses=EXISTING)
def review(app: CareApplication, key: CommandKey | None, file_id: UUID, body: Review) -> Any:
    return app.review(key, file_id, category=body.category, next_review_on=body.next_review_on)


@on_file.post("/files/{file_id}/team", action="assign", responses=EXISTING)
def assign(app: CareApplication, key: CommandKey | None, file_id: UUID, body: Assign) -> Any:
    return app.assign(key, file_id, account=body.account, role=body.role, kind=body.kind)


@on_file.post("/files/{file_id}/team/{account}/release", action="assign", responses=EXISTING)
def release(app: CareApplication, key: CommandKey | None, file_id: UUID, account: str) -> Any:
    """Take a person off the team: a teacher who changed school hands the child over."""
    return app.release(key, file_id, account)


@on_file.post("/files/{file_id}/visits", action="visit", status_code=201, responses=EXISTING)
def record_visit(
    app: CareApplication,
    key: CommandKey | None,
    caller: Principal,
    file_id: UUID,
    body: RecordVisit,
) -> Any:
    return app.record_visit(
        key,
        file_id,
        visited_on=body.visited_on,
        mode=body.mode,
        visitors=list(body.visitors),
        notes=body.notes,
        next_visit_on=body.next_visit_on,
        recorded_by=caller.subject,
    )


@on_file.post("/files/{file_id}/goals", action="plan", status_code=201, responses=EXISTING)
def set_goal(app: CareApplication, key: CommandKey | None, file_id: UUID, body: SetGoal) -> Any:
    """A goal of the child's plan; its review date is on the file's review deadline."""
    return app.set_goal(key, file_id, goal=body.goal, review_on=body.review_on, set_on=body.set_on)


@on_file.post("/files/{file_id}/goals/{goal_id}/reviews", action="review", responses=EXISTING)
def review_goal(
    app: CareApplication, key: CommandKey | None, file_id: UUID, goal_id: UUID, body: ReviewGoal
) -> Any:
    return app.review_goal(
        key,
        file_id,
        goal_id,
        outcome=body.outcome,
        next_review_on=body.next_review_on,
        note=body.note,
    )


@on_file.post(
    "/files/{file_id}/follow-ups", action="follow-up", status_code=201, responses=EXISTING
)
def record_follow_up(
    app: CareApplication,
    key: CommandKey | None,
    caller: Principal,
    file_id: UUID,
    body: RecordFollowUp,
) -> Any:
    return app.record_follow_up(
        key,
        file_id,
        on=body.on,
        mode=body.mode,
        goal_id=body.goal_id,
        notes=body.notes,
        recorded_by=caller.subject,
    )


@on_file.put("/files/{file_id}/home-teaching", action="plan", responses=EXISTING)
def schedule_home_teaching(
    app: CareApplication, key: CommandKey | None, file_id: UUID, body: ScheduleHomeTeaching
) -> Any:
    """Home-delivered teaching (送教上门) for a child who cannot attend school."""
    return app.schedule_home_teaching(
        key,
        file_id,
        teacher=body.teacher,
        sessions_per_week=body.sessions_per_week,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        reason=body.reason,
    )


@on_file.post(
    "/files/{file_id}/home-teaching/sessions", action="teach", status_code=201, responses=EXISTING
)
def deliver_session(
    app: CareApplication,
    key: CommandKey | None,
    caller: Principal,
    file_id: UUID,
    body: DeliverSession,
) -> Any:
    return app.deliver_session(
        key,
        file_id,
        delivered_on=body.delivered_on,
        hours=body.hours,
        subject=body.subject,
        teacher=body.teacher or caller.subject,
        notes=body.notes,
    )


@router.get("/files/{file_id}/access-log", responses=READ)
def who_viewed(
    file_id: UUID,
    caller: Caller,
    app: App,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    """Who viewed this child: the file's access-log entries, newest first (paged by
    `before`, the `seq` of the last one seen). Reading it is itself an entry."""
    _on_file(app, caller, file_id, "audit")
    entries = app.privacy.log.who_viewed_newest(str(file_id), before=before, limit=limit + 1)
    _audit(app, caller, str(file_id), ("access-log",), "who viewed this child", "allowed")
    page = entries[:limit]
    return {
        "file_id": str(file_id),
        "entries": [
            {
                "seq": e.seq,
                "at": e.at,
                "subject": e.subject,
                "role": e.role,
                "department": e.department,
                "fields": list(e.fields),
                "purpose": e.purpose,
                "outcome": e.outcome,
            }
            for e in page
        ],
        "next_before": page[-1].seq if len(entries) > limit else None,
    }


@router.get("/schools/{school_id}/break-glass", responses=READ)
def break_glass_alerts(school_id: str, caller: Caller, app: App) -> dict[str, Any]:
    """The school's emergency accesses, open and recent, with reason and expiry: for its
    care lead and the district. Each child whose reason is shown gets an access entry."""
    may_supervise(caller, school_id, app.care_lead(school_id))
    alerts = app.break_glass_alerts(school_id)
    children = sorted({a["file_id"] for a in alerts})
    if children:
        app.privacy.log.record(
            subject=caller.subject,
            role=caller.role,
            department=caller.department,
            person_ids=children,
            fields=("break-glass",),
            purpose="break-glass alerts",
            outcome="allowed",
        )
    return {"school_id": school_id, "alerts": alerts}


@on_file.post("/files/{file_id}/status", action="status", responses=EXISTING)
def change_status(
    app: CareApplication, key: CommandKey | None, file_id: UUID, body: ChangeStatus
) -> Any:
    return app.change_status(
        key, file_id, status=body.status, reason=body.reason, expected_version=body.expected_version
    )


@router.post("/files/{file_id}/break-glass", status_code=201, responses=EXISTING)
def break_glass(
    file_id: UUID, body: BreakGlass, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Emergency access for edu staff in scope who are not assigned: time-limited, alerted."""
    with _refusals_audited(app, caller, str(file_id), "break-glass"):
        care_file = app.file(file_id)
        POLICY.authorize(caller, "break-glass", school=care_file.school_id)
    answer = app.break_glass(key, file_id, account=caller.subject, reason=body.reason)
    _audit(app, caller, str(file_id), ("break-glass",), "emergency access", "allowed")
    return answer


@on_file.post("/files/{file_id}/erase", action="erase", responses=EXISTING)
def erase_file(
    app: CareApplication, key: CommandKey | None, caller: Principal, file_id: UUID, body: EraseFile
) -> Any:
    """Erase the child's personal data for good; the file still counts in figures."""
    answer = app.erase(key, file_id)
    _audit(app, caller, str(file_id), ("file",), "erasure", "allowed")
    return answer


@on_file.post("/files/{file_id}/consents", action="consent", status_code=201, responses=EXISTING)
def grant_consent(
    app: CareApplication, key: CommandKey | None, file_id: UUID, body: GrantConsent
) -> Any:
    return app.grant_consent(
        key,
        file_id,
        purpose=body.purpose,
        recipients=list(body.recipients),
        guardian=body.guardian,
        granted_on=body.granted_on,
    )


@router.post("/consents/{consent_id}/withdrawal", responses=EXISTING)
def withdraw_consent(
    consent_id: UUID, body: WithdrawConsent, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Withdraw a consent: referrals resting on it stop sharing at once."""
    _on_file(app, caller, app.consent(consent_id).file_id, "consent")
    return app.withdraw_consent(key, consent_id)


@on_file.post("/files/{file_id}/referrals", action="refer", status_code=201, responses=EXISTING)
def send_referral(
    app: CareApplication,
    key: CommandKey | None,
    caller: Principal,
    file_id: UUID,
    body: SendReferral,
) -> Any:
    return app.send_referral(
        key,
        file_id,
        department=body.department,
        purpose=body.purpose,
        consent_id=body.consent_id,
        legal_basis=body.legal_basis,
        sent_by=caller.subject,
    )


def _receiving(app: CareApplication, caller: Principal, referral_id: UUID) -> None:
    """Only the system of the department a referral is addressed to acts on it as receiver."""
    if caller.role != "department-system" or caller.department not in REFERRAL_DEPARTMENTS:
        raise ForbiddenError("referrals are answered by the receiving department's system")
    if app.referral(referral_id).department != caller.department:
        raise ForbiddenError("this referral is addressed to another department")


@router.post("/referrals/{referral_id}/answer", responses=EXISTING)
def answer_referral(
    referral_id: UUID, body: AnswerReferral, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """The receiving department accepts, rejects (with a reason) or closes it; care revokes."""
    if body.status == "revoked":
        _on_file(app, caller, app.referral(referral_id).file_id, "refer")
    else:
        _receiving(app, caller, referral_id)
    return app.answer_referral(key, referral_id, status=body.status, reason=body.reason)


@router.get("/referrals/{referral_id}", responses=READ)
def read_referral(referral_id: UUID, caller: Caller, app: App) -> dict[str, Any]:
    """What the receiving department may know of the child: only while the basis holds.

    A withdrawn consent stops this at once: the next read is refused (and logged).
    """
    referral = app.referral(referral_id)
    person = str(referral.file_id)
    fields = ("name", "class")
    with _refusals_audited(app, caller, person, "referral"):
        _receiving(app, caller, referral_id)
        if referral.status in ("rejected", "revoked"):
            raise ForbiddenError(f"the referral was {referral.status}: nothing is shared")
        app.check_basis(
            referral.file_id,
            referral.department,
            referral.purpose,
            referral.consent_id,
            referral.legal_basis,
        )
    care_file = app.file(referral.file_id)
    name = app.open_field(care_file.id, "name", care_file.child_token)
    _audit(app, caller, person, fields, f"referral {referral_id}", "allowed")
    return {
        "referral_id": str(referral_id),
        "status": referral.status,
        "purpose": referral.purpose,
        "name": None if care_file.erased else str(name),
        "school_id": care_file.school_id,
        "class_id": care_file.class_id,
    }
