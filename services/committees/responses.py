"""What the committees API answers, as documented in its OpenAPI and checked on the way out."""

from __future__ import annotations

from pydantic import Field

from services.kit.commands import Answer


class CommitteeFormed(Answer):
    committee_id: str
    version: int


class MembersChanged(Answer):
    committee_id: str
    members: int = Field(description="Members sitting now.")
    version: int


class CommitteeView(Answer):
    committee_id: str
    level: str
    scope_id: str
    school_id: str | None
    district: str
    title: str
    grandparents: bool
    term_ends_on: str
    members: dict[str, str] = Field(description="Member id -> role, for those sitting now.")
    version: int


class MeetingChanged(Answer):
    meeting_id: str
    version: int


class SuggestionChanged(Answer):
    suggestion_id: str
    status: str = Field(description="assigned, answered or closed.")
    level: str = Field(description="school, district or city: who owes the answer now.")
    due_at: str | None = Field(description="When the answer is due at this level.")
    version: int
    on_time: bool | None = Field(default=None, description="For an answer: before its deadline.")


class SuggestionView(Answer):
    suggestion_id: str
    committee_id: str
    school_id: str | None
    district: str
    topic: str
    text: str
    anonymous: bool
    member_id: str | None = Field(description="The submitter; hidden when anonymous.")
    received_on: str
    status: str
    level: str
    department: str | None
    due_at: str | None
    escalations: int
    answer: str | None
    rating: int | None
    version: int


class JointMeetingConvened(Answer):
    joint_meeting_id: str
    version: int


class ActionItemChanged(Answer):
    action_item_id: str
    lead: str = Field(description="The lead department.")
    percent: int = Field(description="How far the work is, 0 to 100.")
    done: bool
    escalated: bool = Field(description="It passed its due time undone.")
    due_at: str
    version: int


class ProgressNote(Answer):
    department: str
    percent: int
    status: str = Field(description="started, on-track, delayed, blocked or done.")
    note: str | None = Field(description="Written through this service; None when none was.")
    document_ref: str | None = Field(description="A document in the department's register.")


class ActionItemView(Answer):
    action_item_id: str
    joint_meeting_id: str
    title: str
    lead: str
    supporters: list[str]
    due_at: str
    percent: int
    done: bool
    completed_at: str | None
    escalated: bool
    progress: list[ProgressNote] = Field(description="The departments' reports, oldest first.")
    version: int


class SurveyChanged(Answer):
    survey_id: str
    school_id: str
    term: str
    closes_at: str
    closed: bool
    version: int


class SurveyAnswered(Answer):
    survey_id: str
    answered: bool


class QuestionResults(Answer):
    question: str
    scores: dict[str, int | str] = Field(
        description='Parents per score 1-5; "<5", "[c]" or "[x]" where suppressed.'
    )
    mean: float | None = Field(description="Mean score (to 0.1); null under 20 answers.")


class SurveyResults(Answer):
    survey_id: str
    school_id: str
    term: str
    closed: bool
    responses: int | str = Field(description='Parents answering; "<5" when fewer than five.')
    questions: list[QuestionResults]


class MemberNames(Answer):
    names: dict[str, str] = Field(description="Member id -> name, for those readable.")
    erased: list[str] = Field(description="Members whose name is erased or was never given.")
    denied: list[str] = Field(description="Members the caller may not read (logged).")
    unknown: list[str] = Field(description="Ids naming no member.")
