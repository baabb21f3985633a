"""HTTP routes of the committees service: parse, authorise, call the application."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, Field

from contracts.action_items import DOCUMENT_REF, ProgressStatus
from contracts.departments import load_ownership_map
from services.committees.application import NOTE_FIELD, CommitteesApplication, notes_owner
from services.committees.domain import (
    SCHOOL_LEVELS,
    SURVEY_QUESTIONS,
    ActionItem,
    CommitteeLevel,
    MemberRole,
    Suggestion,
)
from services.committees.policy import POLICY
from services.committees.responses import (
    ActionItemChanged,
    ActionItemView,
    CommitteeFormed,
    CommitteeView,
    JointMeetingConvened,
    MeetingChanged,
    MemberNames,
    MembersChanged,
    ProgressNote,
    QuestionResults,
    SuggestionChanged,
    SuggestionView,
    SurveyAnswered,
    SurveyChanged,
    SurveyResults,
)
from services.kit.auth import Principal
from services.kit.commands import Command
from services.kit.errors import ForbiddenError
from services.kit.http import Caller, IdempotencyKey, problems
from services.kit.privacy.audit import AccessRecord, Outcome
from services.kit.privacy.suppression import SMALL_MARK, is_small, suppress_row
from services.kit.scope import CITY

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
DEPARTMENTS = tuple(d.code for d in load_ownership_map().departments)


class FormCommittee(Command):
    level: CommitteeLevel = Field(
        description="city, district, school, grade, class, community or village."
    )
    scope_id: Code = Field(
        description="What it is for: the school (school, grade and class committees), the "
        "district, the community or the village."
    )
    district: Code = Field(description="The district (or county) it belongs to.")
    title: str = Field(min_length=1, max_length=100, description="e.g. 三年级二班家委会.")
    term_ends_on: date = Field(description="The last day of the elected term.")


class AddMember(Command):
    member_id: Code = Field(description="The parent's (or grandparent's) id.")
    role: MemberRole = "member"
    grandparent: bool = Field(default=False, description="Grandparent committees only.")
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="The member's name: kept encrypted under their own key, read by the "
        "staff of their committees' schools (every read in the access log).",
    )


class NamesLookup(Command):
    ids: list[Code] = Field(min_length=1, max_length=100, description="Member ids.")
    purpose: str | None = Field(
        default=None, max_length=200, description="Why the names are read (access log)."
    )


class EndMembership(Command):
    member_id: Code


class ScheduleMeeting(Command):
    committee_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class HoldMeeting(Command):
    attended: int = Field(ge=0, le=500)
    resolutions: int = Field(ge=0, le=100, description="Resolutions adopted.")


class SubmitSuggestion(Command):
    committee_id: UUID
    member_id: Code | None = Field(default=None, description="The member submitting, if one.")
    anonymous: bool = Field(default=False, description="Hide the member from the school.")
    topic: Literal[
        "safety", "teaching", "homework", "canteen", "facilities", "activities", "care", "other"
    ]
    text: str = Field(min_length=1, max_length=2000)
    department: Literal[DEPARTMENTS] | None = Field(  # type: ignore[valid-type]
        default=None, description="The department responsible (default: the school)."
    )
    received_on: date | None = Field(
        default=None,
        description="The day it was received, if entered later (e.g. from a waiting station).",
    )


class AnswerSuggestion(Command):
    text: str = Field(min_length=1, max_length=4000)


class CloseSuggestion(Command):
    rating: int = Field(ge=1, le=5, description="The submitter's satisfaction, 1 to 5.")


class Reopen(Command):
    pass


Department = Literal[DEPARTMENTS]  # type: ignore[valid-type]


class ConveneJointMeeting(Command):
    convened_by: Literal["city", "district"]
    district: Code | None = Field(default=None, description="The district convening it.")
    title: str = Field(min_length=1, max_length=100, description="e.g. 2026年第四季度联席会议.")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    departments: list[Department] = Field(
        min_length=1, max_length=13, description="Departments at the table."
    )
    schools: list[Code] = Field(default=[], max_length=500, description="Schools taking part.")
    committees: list[UUID] = Field(
        default=[], max_length=200, description="Committees taking part."
    )


class AssignActionItem(Command):
    title: str = Field(min_length=1, max_length=200, description="The resolution, as adopted.")
    lead: Department = Field(description="The department leading it.")
    supporters: list[Department] = Field(
        default=[], max_length=12, description="Departments supporting the lead."
    )
    due_on: date = Field(description="The last day to have it done.")


class OpenSurvey(Command):
    school_id: Code
    district: Code
    term: str = Field(pattern=r"^20[0-9]{2}-(spring|autumn)$", description="e.g. 2026-autumn.")
    closes_on: date = Field(description="The last day parents may answer.")


class AnswerSurvey(Command):
    scores: dict[Literal[SURVEY_QUESTIONS], int] = Field(  # type: ignore[valid-type]
        description="A score from 1 to 5 for each question: " + ", ".join(SURVEY_QUESTIONS)
    )


class CloseSurvey(Command):
    pass


class ReportProgress(Command):
    status: ProgressStatus | None = Field(
        default=None,
        description="started, on-track, delayed, blocked or done (done: the lead department "
        "only); on-track when left out.",
    )
    percent: int | None = Field(
        default=None, ge=0, le=100, description="How far the work is; the last one when left out."
    )
    done: bool = Field(default=False, description="Done (the lead department only).")
    note: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="What was done, for the follow-up: kept encrypted in this service, read "
        "only by the departments at the table, never published.",
    )
    document_ref: str | None = Field(
        default=None,
        pattern=DOCUMENT_REF,
        description="A document in the department's register (e.g. JUS-2026-041).",
    )


async def application(request: Request) -> CommitteesApplication:
    # A coroutine: a plain function as a dependency would cost a trip through the thread pool.
    return request.app.state.application


App = Annotated[CommitteesApplication, Depends(application)]
router = APIRouter(tags=["committees"])
NEW = problems(404, 409)
EXISTING = problems(404, 409)


def _committee_school(app: CommitteesApplication, committee_id: UUID) -> str | None:
    return app.committee(committee_id).school_id


@router.post("/committees", status_code=201, response_model=CommitteeFormed, responses=NEW)
def form_committee(body: FormCommittee, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    school = body.scope_id if body.level in SCHOOL_LEVELS else None
    POLICY.authorize(caller, "form-committee", school=school)
    return app.form_committee(
        key,
        level=body.level,
        scope_id=body.scope_id,
        district=body.district,
        title=body.title,
        term_ends_on=body.term_ends_on,
    )


@router.get("/committees/{committee_id}", response_model=CommitteeView, responses=EXISTING)
def read_committee(committee_id: UUID, caller: Caller, app: App) -> Any:
    POLICY.authorize(caller, "read-committee", school=lambda: _committee_school(app, committee_id))
    c = app.committee(committee_id)
    return CommitteeView(
        committee_id=str(c.id),
        level=c.level,
        scope_id=c.scope_id,
        school_id=c.school_id,
        district=c.district,
        title=c.title,
        grandparents=c.grandparents,
        term_ends_on=c.term_ends_on,
        members=dict(c.members),
        version=c.version,
    )


@router.post(
    "/committees/{committee_id}/members", response_model=MembersChanged, responses=EXISTING
)
def add_member(
    committee_id: UUID, body: AddMember, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "change-members", school=lambda: _committee_school(app, committee_id))
    return app.add_member(
        key,
        committee_id,
        member_id=body.member_id,
        role=body.role,
        grandparent=body.grandparent,
        name=body.name,
    )


@router.post(
    "/committees/{committee_id}/members/end", response_model=MembersChanged, responses=EXISTING
)
def end_membership(
    committee_id: UUID, body: EndMembership, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "change-members", school=lambda: _committee_school(app, committee_id))
    return app.end_membership(key, committee_id, member_id=body.member_id)


@router.post("/meetings", status_code=201, response_model=MeetingChanged, responses=NEW)
def schedule_meeting(body: ScheduleMeeting, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(
        caller, "schedule-meeting", school=lambda: _committee_school(app, body.committee_id)
    )
    return app.schedule_meeting(
        key, committee_id=body.committee_id, starts_at=body.starts_at, ends_at=body.ends_at
    )


@router.post("/meetings/{meeting_id}/held", response_model=MeetingChanged, responses=EXISTING)
def hold_meeting(
    meeting_id: UUID, body: HoldMeeting, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "schedule-meeting", school=lambda: app.meeting(meeting_id).school_id)
    return app.hold_meeting(key, meeting_id, attended=body.attended, resolutions=body.resolutions)


@router.post("/suggestions", status_code=201, response_model=SuggestionChanged, responses=NEW)
def submit_suggestion(body: SubmitSuggestion, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(
        caller, "submit-suggestion", school=lambda: _committee_school(app, body.committee_id)
    )
    return app.submit_suggestion(
        key,
        committee_id=body.committee_id,
        member_id=body.member_id,
        anonymous=body.anonymous,
        topic=body.topic,
        text=body.text,
        department=body.department,
        received_on=body.received_on,
    )


def _answering(caller: Principal, suggestion: Suggestion) -> None:
    """Who owes the answer now: the department named, the school, the district or city."""
    if POLICY.admit(caller, "answer-suggestion"):
        return
    if suggestion.department is not None:
        if caller.department != suggestion.department:
            raise ForbiddenError("this suggestion is assigned to another department")
        return
    if caller.department != POLICY.owner:
        raise ForbiddenError("this suggestion is the schools' to answer")
    if suggestion.level == "school":
        if not caller.covers_school(suggestion.school_id):
            raise ForbiddenError("this credential acts only for the schools in its scope")
    elif CITY not in caller.scope or caller.role == "school-staff":
        raise ForbiddenError(f"an escalated suggestion is answered at the {suggestion.level}")


@router.get("/suggestions/{suggestion_id}", response_model=SuggestionView, responses=EXISTING)
def read_suggestion(suggestion_id: UUID, caller: Caller, app: App) -> Any:
    suggestion = app.suggestion(suggestion_id)
    if not POLICY.admit(caller, "read-suggestion"):
        if caller.department == POLICY.owner:
            if not caller.covers_school(suggestion.school_id) and CITY not in caller.scope:
                raise ForbiddenError("this credential acts only for the schools in its scope")
        else:
            _answering(caller, suggestion)
    s = suggestion
    # Anonymous to the school: the service keeps who for abuse handling, nobody reads it here.
    return SuggestionView(
        suggestion_id=str(s.id),
        committee_id=str(s.committee_id),
        school_id=s.school_id,
        district=s.district,
        topic=s.topic,
        text=s.text,
        anonymous=s.anonymous,
        member_id=None if s.anonymous else s.member_id,
        received_on=s.received_on,
        status=s.status,
        level=s.level,
        department=s.department,
        due_at=s.due_at.isoformat() if s.due_at else None,
        escalations=s.escalations,
        answer=s.answer,
        rating=s.rating,
        version=s.version,
    )


@router.post(
    "/suggestions/{suggestion_id}/answer", response_model=SuggestionChanged, responses=EXISTING
)
def answer_suggestion(
    suggestion_id: UUID, body: AnswerSuggestion, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    _answering(caller, app.suggestion(suggestion_id))
    return app.answer_suggestion(
        key, suggestion_id, text=body.text, by=caller.department or caller.subject
    )


@router.post(
    "/suggestions/{suggestion_id}/close", response_model=SuggestionChanged, responses=EXISTING
)
def close_suggestion(
    suggestion_id: UUID, body: CloseSuggestion, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(
        caller, "rate-suggestion", school=lambda: app.suggestion(suggestion_id).school_id
    )
    return app.close_suggestion(key, suggestion_id, rating=body.rating)


@router.post(
    "/suggestions/{suggestion_id}/reopen", response_model=SuggestionChanged, responses=EXISTING
)
def reopen_suggestion(
    suggestion_id: UUID, body: Reopen, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(
        caller, "rate-suggestion", school=lambda: app.suggestion(suggestion_id).school_id
    )
    return app.reopen_suggestion(key, suggestion_id)


def _convening(caller: Principal) -> None:
    POLICY.authorize(caller, "convene-joint-meeting")
    if CITY not in caller.scope:
        raise ForbiddenError("joint meetings are convened by the city's or a district's staff")


@router.post("/joint-meetings", status_code=201, response_model=JointMeetingConvened, responses=NEW)
def convene_joint_meeting(
    body: ConveneJointMeeting, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    _convening(caller)
    return app.convene_joint_meeting(
        key,
        convened_by=body.convened_by,
        district=body.district,
        title=body.title,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        departments=list(body.departments),
        schools=list(body.schools),
        committees=list(body.committees),
    )


@router.post(
    "/joint-meetings/{joint_meeting_id}/action-items",
    status_code=201,
    response_model=ActionItemChanged,
    responses=EXISTING,
)
def assign_action_item(
    joint_meeting_id: UUID, body: AssignActionItem, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    _convening(caller)
    return app.assign_action_item(
        key,
        joint_meeting_id,
        title=body.title,
        lead=body.lead,
        supporters=list(body.supporters),
        due_on=body.due_on,
    )


def _at_the_table(caller: Principal, item: ActionItem, action: str) -> None:
    """The lead and supporting departments act on an item; the owner's city staff too."""
    if POLICY.admit(caller, action):
        return
    if item.assigned_to(caller.department):
        return
    if caller.department == POLICY.owner and CITY in caller.scope and action != "report-progress":
        return
    raise ForbiddenError(f"department {caller.department!r} neither leads nor supports this item")


@router.get("/action-items/{action_item_id}", response_model=ActionItemView, responses=EXISTING)
def read_action_item(action_item_id: UUID, caller: Caller, app: App) -> Any:
    item = app.action_item(action_item_id)
    _at_the_table(caller, item, "read-action-item")
    notes = app.progress_notes(item)
    if any(note is not None for note in notes):
        # Free text could mention anyone: who read it is kept like any personal read.
        app.privacy().log.append(
            [
                AccessRecord(
                    caller.subject,
                    caller.role,
                    caller.department,
                    notes_owner(item.id),
                    NOTE_FIELDS,
                    "action item follow-up",
                    "allowed",
                )
            ]
        )
    return ActionItemView(
        action_item_id=str(item.id),
        joint_meeting_id=str(item.joint_meeting_id),
        title=item.title,
        lead=item.lead,
        supporters=list(item.supporters),
        due_at=item.due_at.isoformat(),
        percent=item.percent,
        done=item.done,
        completed_at=item.completed_at.isoformat() if item.completed_at else None,
        escalated=item.escalated,
        progress=[
            ProgressNote(department=d, percent=p, status=s, note=note, document_ref=ref)
            for (d, p, s, _, ref), note in zip(item.notes, notes, strict=True)
        ],
        version=item.version,
    )


@router.post(
    "/action-items/{action_item_id}/progress",
    response_model=ActionItemChanged,
    responses=EXISTING,
)
def report_progress(
    action_item_id: UUID, body: ReportProgress, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    _at_the_table(caller, app.action_item(action_item_id), "report-progress")
    assert caller.department is not None  # a department leads or supports the item
    return app.report_progress(
        key,
        action_item_id,
        department=caller.department,
        percent=body.percent,
        done=body.done or body.status == "done",
        note=body.note,
        status=body.status,
        document_ref=body.document_ref,
    )


@router.post("/surveys", status_code=201, response_model=SurveyChanged, responses=NEW)
def open_survey(body: OpenSurvey, caller: Caller, key: IdempotencyKey, app: App) -> Any:
    POLICY.authorize(caller, "run-survey", school=body.school_id)
    return app.open_survey(
        key,
        school_id=body.school_id,
        district=body.district,
        term=body.term,
        closes_on=body.closes_on,
    )


@router.post("/surveys/{survey_id}/answers", response_model=SurveyAnswered, responses=EXISTING)
def answer_survey(survey_id: UUID, body: AnswerSurvey, caller: Caller, app: App) -> Any:
    """A parent answers for themself, once; staff cannot answer for them."""
    if caller.role != "parent":
        raise ForbiddenError("parents answer the survey themselves")
    if not caller.covers_school(app.survey(survey_id).school_id):
        raise ForbiddenError("this survey is for another school's parents")
    return app.answer_survey(survey_id, parent_id=caller.subject, scores=dict(body.scores))


@router.post("/surveys/{survey_id}/close", response_model=SurveyChanged, responses=EXISTING)
def close_survey(
    survey_id: UUID, body: CloseSurvey, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    POLICY.authorize(caller, "run-survey", school=lambda: app.survey(survey_id).school_id)
    return app.close_survey(key, survey_id)


@router.get("/surveys/{survey_id}/results", response_model=SurveyResults, responses=EXISTING)
def survey_results(survey_id: UUID, caller: Caller, app: App) -> Any:
    """Aggregates only, small cells suppressed (each question's scores against the count)."""
    survey = app.survey(survey_id)
    POLICY.authorize(caller, "read-survey-results", school=survey.school_id)
    small = is_small(survey.responses)
    means = survey.means()
    questions = []
    for question in SURVEY_QUESTIONS:
        counts = {str(score): survey.tally[question].get(score, 0) for score in range(1, 6)}
        row = suppress_row(counts, survey.responses)
        questions.append(
            QuestionResults(
                question=question,
                scores=row.published(),
                mean=means.get(question),
            )
        )
    return SurveyResults(
        survey_id=str(survey.id),
        school_id=survey.school_id,
        term=survey.term,
        closed=survey.closed,
        responses=SMALL_MARK if small else survey.responses,
        questions=questions,
    )


NAME_FIELDS = ("name",)
NOTE_FIELDS = (NOTE_FIELD,)


@router.post("/members/names", response_model=MemberNames, responses=problems())
def member_names(body: NamesLookup, caller: Caller, app: App) -> dict[str, Any]:
    """Names of up to 100 members, each read authorised and logged on its own.

    The Education Bureau's staff read the names of the members of their schools'
    committees (city staff: every committee's); everyone else is denied. Every allowed
    and denied read is kept in the service's access log, the whole page in one append.
    """
    purpose = body.purpose or "names lookup"
    ids = list(dict.fromkeys(body.ids))
    try:
        POLICY.admit(caller, "read-member-names")
    except ForbiddenError:
        _log_reads(app, caller, ids, purpose, "denied")
        return {"names": {}, "erased": [], "denied": ids, "unknown": []}
    cards = app.member_cards(ids)
    unknown = [i for i in ids if i not in cards]
    denied = [
        i
        for i, card in cards.items()
        if CITY not in caller.scope and not any(caller.covers_school(s) for s in card.schools)
    ]
    allowed = [cards[i] for i in ids if i in cards and i not in denied]
    names: dict[str, str] = {}
    erased: list[str] = []
    for card, name in zip(allowed, app.member_names(allowed), strict=True):
        if name is None:
            erased.append(card.member_id)
        else:
            names[card.member_id] = name
    _log_reads(app, caller, [*names, *erased], purpose, "allowed")
    _log_reads(app, caller, denied, purpose, "denied")
    return {"names": names, "erased": erased, "denied": denied, "unknown": unknown}


def _log_reads(
    app: CommitteesApplication, caller: Principal, ids: list[str], purpose: str, outcome: Outcome
) -> None:
    app.privacy().log.append(
        [
            AccessRecord(
                caller.subject, caller.role, caller.department, i, NAME_FIELDS, purpose, outcome
            )
            for i in ids
        ]
    )
