"""Events published by the committees service (owned by the Education Bureau, `edu`).

Members are ids; a suggestion's text, its answer and who submitted it stay in the
service (the submitter may be anonymous to the school). What is published is enough
for the city's figures: suggestions by status and level, time to answer, on-time
rates per school and department, satisfaction, committee coverage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from contracts.action_items import ProgressStatus
from contracts.events import ContractEvent, classified
from contracts.measures import measurable

CommitteeLevel = Literal["city", "district", "school", "grade", "class", "community", "village"]
SuggestionLevel = Literal["school", "district", "city"]


class _CommitteesEvent(ContractEvent):
    boundary = "committees"


class CommitteeFormed(_CommitteesEvent):
    """A parent committee was formed for a scope and a term."""

    event_name = "committee-formed"
    committee_id: str = classified("id", "Committee id (UUID).")
    level: CommitteeLevel = classified("code", "Level of the committee.")
    scope_id: str = classified("code", "The school, district, community or village it is for.")
    school_id: str | None = classified("code", "The school (school, grade, class levels).")
    district: str = classified("code", "District or county it belongs to.")
    title: str = classified("public-text", "The committee's public name.")
    grandparents: bool = classified("fact", "A grandparent committee (祖辈家委会).")
    term_ends_on: str = classified("time", "Last day of the term (ISO date).")
    formed_at: datetime = classified("time", "When it was formed.")


class CommitteeMemberJoined(_CommitteesEvent):
    """A parent (or grandparent) joined a committee."""

    event_name = "committee-member-joined"
    committee_id: str = classified("id", "Committee id (UUID).")
    member_id: str = classified("id", "The member's id (names stay with the service).")
    role: Literal["chair", "vice-chair", "member"] = classified("code", "Role on the committee.")
    grandparent: bool = classified("fact", "The member is a grandparent.")
    joined_at: datetime = classified("time", "When they joined.")


class CommitteeMemberLeft(_CommitteesEvent):
    """A member's membership ended."""

    event_name = "committee-member-left"
    committee_id: str = classified("id", "Committee id (UUID).")
    member_id: str = classified("id", "The member's id.")
    left_at: datetime = classified("time", "When the membership ended.")


class MeetingScheduled(_CommitteesEvent):
    """A committee meeting was scheduled."""

    event_name = "meeting-scheduled"
    meeting_id: str = classified("id", "Meeting id (UUID).")
    committee_id: str = classified("id", "Committee id (UUID).")
    school_id: str | None = classified("code", "The committee's school, if any.")
    starts_at: datetime = classified("time", "Start.")
    ends_at: datetime = classified("time", "End.")


class MeetingHeld(_CommitteesEvent):
    """A meeting took place; minutes stay with the service."""

    event_name = "meeting-held"
    meeting_id: str = classified("id", "Meeting id (UUID).")
    attended: int = classified("fact", "Members attending.")
    resolutions: int = classified("fact", "Resolutions adopted.")
    held_at: datetime = classified("time", "When the record was kept.")


@measurable(
    at="submitted_at",
    school="school_id",
    district="district",
    subject="suggestion_id",
    facets=("topic",),
)
class SuggestionSubmitted(_CommitteesEvent):
    """A committee submitted a suggestion (text and submitter stay with the service)."""

    event_name = "suggestion-submitted"
    suggestion_id: str = classified("id", "Suggestion id (UUID).")
    committee_id: str = classified("id", "The submitting committee (UUID).")
    school_id: str | None = classified("code", "The committee's school, if any.")
    district: str = classified("code", "The committee's district.")
    topic: str = classified("code", "Topic code (safety, teaching, canteen, ...).")
    anonymous: bool = classified("fact", "The submitter is hidden from the school.")
    received_on: str = classified("time", "The day it was received (ISO date).")
    submitted_at: datetime = classified("time", "When it was entered.")


class SuggestionAssigned(_CommitteesEvent):
    """A suggestion was assigned to a school, district or department, with its deadline."""

    event_name = "suggestion-assigned"
    suggestion_id: str = classified("id", "Suggestion id (UUID).")
    level: SuggestionLevel = classified("code", "Who owes the answer: school, district, city.")
    assigned_department: str | None = classified(
        "code", "The department responsible, if not edu (its schools)."
    )
    due_at: datetime = classified("time", "When the answer is due.")
    assigned_at: datetime = classified("time", "When it was assigned.")


class SuggestionEscalated(_CommitteesEvent):
    """An unanswered suggestion's deadline passed: it went up a level (once per deadline)."""

    event_name = "suggestion-escalated"
    suggestion_id: str = classified("id", "Suggestion id (UUID).")
    from_level: SuggestionLevel = classified("code", "The level whose deadline passed.")
    to_level: SuggestionLevel = classified("code", "The level owing the answer now.")
    due_at: datetime | None = classified("time", "The new deadline (none past the city).")
    escalated_at: datetime = classified("time", "When it escalated.")


@measurable(at="answered_at", unit="answered_by", subject="suggestion_id", facets=("on_time",))
class SuggestionAnswered(_CommitteesEvent):
    """A suggestion was answered (the answer's text stays with the service)."""

    event_name = "suggestion-answered"
    suggestion_id: str = classified("id", "Suggestion id (UUID).")
    answered_by: str = classified("code", "Department code (or staff id) answering.")
    on_time: bool = classified("fact", "Answered before its first deadline, unescalated.")
    answered_at: datetime = classified("time", "When it was answered.")


class SuggestionClosed(_CommitteesEvent):
    """The submitter rated the answer and the suggestion was closed."""

    event_name = "suggestion-closed"
    suggestion_id: str = classified("id", "Suggestion id (UUID).")
    rating: int = classified("fact", "Satisfaction, 1 to 5.")
    satisfied: bool = classified("fact", "Rating 4 or 5.")
    closed_at: datetime = classified("time", "When it was closed.")


class SuggestionReopened(_CommitteesEvent):
    """The submitter was not satisfied: the suggestion is owed a new answer."""

    event_name = "suggestion-reopened"
    suggestion_id: str = classified("id", "Suggestion id (UUID).")
    due_at: datetime = classified("time", "When the new answer is due.")
    reopened_at: datetime = classified("time", "When it was reopened.")


ConvenedBy = Literal["city", "district"]


class JointMeetingConvened(_CommitteesEvent):
    """The city or a district convened a joint meeting (联席会议) of departments, schools
    and committees."""

    event_name = "joint-meeting-convened"
    joint_meeting_id: str = classified("id", "Joint meeting id (UUID).")
    convened_by: ConvenedBy = classified("code", "city or district.")
    district: str | None = classified("code", "The district convening it (district meetings).")
    title: str = classified(
        "public-text", "The meeting's public name (e.g. 2026年第四季度联席会议)."
    )
    starts_at: datetime = classified("time", "Start.")
    ends_at: datetime = classified("time", "End.")
    departments: list[str] = classified("code", "Departments taking part (ownership map codes).")
    schools: list[str] = classified("code", "Schools taking part.")
    committees: list[str] = classified("id", "Committees taking part (UUIDs).")


class ActionItemAssigned(_CommitteesEvent):
    """A joint meeting's resolution became an action item for a lead department (and its
    supporters), due on a day; it escalates once if not done by then."""

    event_name = "action-item-assigned"
    action_item_id: str = classified("id", "Action item id (UUID).")
    joint_meeting_id: str = classified("id", "The joint meeting that adopted it (UUID).")
    convened_by: ConvenedBy = classified("code", "city or district.")
    district: str | None = classified("code", "The convening district (district meetings).")
    title: str = classified("public-text", "The resolution, as adopted (public).")
    lead_department: str = classified("code", "The department leading it.")
    supporting_departments: list[str] = classified("code", "Departments supporting the lead.")
    due_at: datetime = classified("time", "When it is due.")
    assigned_at: datetime = classified("time", "When it was adopted.")


class ActionItemProgressed(_CommitteesEvent):
    """A department reported progress on an action item (its note stays with the service)."""

    event_name = "action-item-progressed"
    action_item_id: str = classified("id", "Action item id (UUID).")
    reporting_department: str = classified("code", "The department reporting (lead or supporter).")
    percent: int = classified("fact", "How far the work is, 0 to 100.")
    via: Literal["service", "department-system"] = classified(
        "code", "Reported to this service, or by the department's system through its boundary."
    )
    reported_at: datetime = classified("time", "When it was reported.")
    status: ProgressStatus | None = classified(
        "code", "started, on-track, delayed, blocked or done (absent before statuses were kept).",
        default=None,
    )  # fmt: skip


@measurable(
    at="completed_at", unit="lead_department", subject="action_item_id", facets=("on_time",)
)
class ActionItemCompleted(_CommitteesEvent):
    """The lead department reported the action item done."""

    event_name = "action-item-completed"
    action_item_id: str = classified("id", "Action item id (UUID).")
    lead_department: str = classified("code", "The lead department.")
    on_time: bool = classified("fact", "Done by its due time.")
    completed_at: datetime = classified("time", "When it was done.")


class ActionItemEscalated(_CommitteesEvent):
    """An action item was not done by its due time: it went to the level above the
    meeting's convenor (once)."""

    event_name = "action-item-escalated"
    action_item_id: str = classified("id", "Action item id (UUID).")
    to_level: Literal["city", "alliance"] = classified(
        "code", "city (a district's item) or alliance (the city's leading group)."
    )
    escalated_at: datetime = classified("time", "When it escalated.")


class SurveyOpened(_CommitteesEvent):
    """A school's parent satisfaction survey (家长满意度调查) for a term was opened."""

    event_name = "survey-opened"
    survey_id: str = classified("id", "Survey id (UUID).")
    school_id: str = classified("code", "The school surveyed.")
    district: str = classified("code", "The school's district.")
    term: str = classified("code", "The term, e.g. 2026-autumn.")
    closes_at: datetime = classified("time", "When it closes.")


class SurveyResultsPublished(_CommitteesEvent):
    """A survey closed; its results as aggregates only. With fewer than five answers
    nothing but that fact is published (the count and the means are withheld)."""

    event_name = "survey-results-published"
    survey_id: str = classified("id", "Survey id (UUID).")
    school_id: str = classified("code", "The school surveyed.")
    term: str = classified("code", "The term.")
    responses: int | None = classified("fact", "Parents answering; null when fewer than 5.")
    mean_scores: dict[str, float] = classified(
        "fact", "Mean score (1-5, to 0.1) per question; empty under 20 answers."
    )
    closed_at: datetime = classified("time", "When it closed.")
