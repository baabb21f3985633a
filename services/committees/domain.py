"""Parent committees, their meetings, and the suggestions they submit. No I/O here.

A suggestion is answered within a service level of working days by whoever it is
assigned to; unanswered, it escalates at its deadline to the next level (school →
district → city), each level getting the same service level counted from the previous
deadline. The deadlines themselves are the kit's (`application.py` declares the rules).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.kit.errors import ConflictError, DomainError

CommitteeLevel = Literal["city", "district", "school", "grade", "class", "community", "village"]
MemberRole = Literal["chair", "vice-chair", "member"]
SuggestionLevel = Literal["school", "district", "city"]
SuggestionStatus = Literal["assigned", "answered", "closed"]
# The level above each; the city has none.
NEXT_LEVEL: dict[str, str | None] = {"school": "district", "district": "city", "city": None}
# Levels that belong to one school (their committees act for it).
SCHOOL_LEVELS = ("school", "grade", "class")
SATISFIED_FROM = 4  # a rating of 4 or 5 counts as satisfied


class InvalidTimeError(DomainError):
    """A time given makes no sense (a meeting ending before it starts)."""

    code = "invalid-time"


class MembershipError(ConflictError):
    """The person already sits on the committee, or does not."""

    code = "membership"


class GrandparentCommitteeError(DomainError):
    """Grandparents sit on grandparent committees (in villages) only."""

    code = "grandparents-in-village-committees"


class SuggestionClosedError(ConflictError):
    """The suggestion is closed: it takes no answer (reopen it first)."""

    code = "suggestion-closed"


class SuggestionStateError(ConflictError):
    """The suggestion is not in a state that allows this."""

    code = "suggestion-state"


class Committee(Aggregate):
    """A parent committee at one level, for one scope, for a term."""

    @event("Formed")
    def __init__(
        self,
        level: str,
        scope_id: str,
        school_id: str | None,
        district: str,
        title: str,
        grandparents: bool,
        term_ends_on: str,
        formed_at: datetime,
    ) -> None:
        self.level = level
        self.scope_id = scope_id
        self.school_id = school_id
        self.district = district
        self.title = title
        self.grandparents = grandparents
        self.term_ends_on = term_ends_on
        self.formed_at = formed_at
        # member id -> role, for the members sitting now
        self.members: dict[str, str] = {}

    def add_member(self, member_id: str, role: str, grandparent: bool, at: datetime) -> None:
        if member_id in self.members:
            raise MembershipError("this person already sits on the committee")
        if grandparent and not self.grandparents:
            raise GrandparentCommitteeError(
                "grandparents join grandparent committees; this committee is a parents' one"
            )
        if role == "chair" and "chair" in self.members.values():
            raise MembershipError("the committee has a chair; end their membership first")
        self._member_joined(member_id=member_id, role=role, grandparent=grandparent, at=at)

    @event("MemberJoined")
    def _member_joined(self, member_id: str, role: str, grandparent: bool, at: datetime) -> None:
        self.members[member_id] = role

    def end_membership(self, member_id: str, at: datetime) -> None:
        if member_id not in self.members:
            raise MembershipError("this person does not sit on the committee")
        self._member_left(member_id=member_id, at=at)

    @event("MemberLeft")
    def _member_left(self, member_id: str, at: datetime) -> None:
        del self.members[member_id]


class Meeting(Aggregate):
    """A committee's meeting: scheduled, then held with attendance and resolutions."""

    @event("Scheduled")
    def __init__(
        self, committee_id: UUID, school_id: str | None, starts_at: datetime, ends_at: datetime
    ) -> None:
        self.committee_id = committee_id
        self.school_id = school_id
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.held = False
        self.resolutions = 0

    @staticmethod
    def check_times(starts_at: datetime, ends_at: datetime) -> None:
        if ends_at <= starts_at:
            raise InvalidTimeError("a meeting ends after it starts")

    def hold(self, attended: int, resolutions: int, at: datetime) -> None:
        if self.held:
            raise ConflictError("the meeting's record is already kept")
        self._held(attended=attended, resolutions=resolutions, at=at)

    @event("Held")
    def _held(self, attended: int, resolutions: int, at: datetime) -> None:
        self.held = True
        self.resolutions = resolutions


class Suggestion(Aggregate):
    """A suggestion (建言献策) and its way to an answer and the submitter's rating.

    The submitting member is kept even when the suggestion is anonymous to the school:
    the service must know who for abuse handling, and never publishes it.
    """

    @event("Submitted")
    def __init__(
        self,
        committee_id: UUID,
        school_id: str | None,
        district: str,
        member_id: str | None,
        anonymous: bool,
        topic: str,
        text: str,
        received_on: str,
        submitted_at: datetime,
    ) -> None:
        self.committee_id = committee_id
        self.school_id = school_id
        self.district = district
        self.member_id = member_id
        self.anonymous = anonymous
        self.topic = topic
        self.text = text
        self.received_on = received_on
        self.submitted_at = submitted_at
        self.status: str = "assigned"
        self.level: str = "school"
        self.department: str | None = None
        self.due_at: datetime | None = None
        self.escalations = 0
        self.answered_at: datetime | None = None
        self.answer: str | None = None
        self.rating: int | None = None

    def assign(self, level: str, department: str | None, due_at: datetime, at: datetime) -> None:
        if self.status == "closed":
            raise SuggestionClosedError("a closed suggestion is not assigned")
        self._assigned(level=level, department=department, due_at=due_at, at=at)

    @event("Assigned")
    def _assigned(self, level: str, department: str | None, due_at: datetime, at: datetime) -> None:
        self.status = "assigned"
        self.level = level
        self.department = department
        self.due_at = due_at

    def escalate(self, due_at: datetime | None, at: datetime) -> None:
        """Move up a level at the deadline (the city's passing deadline is only recorded)."""
        if self.status != "assigned":
            raise SuggestionStateError("only an unanswered suggestion escalates")
        target = NEXT_LEVEL[self.level]
        self._escalated(
            from_level=self.level,
            to_level=target or self.level,
            due_at=due_at if target else None,
            at=at,
        )

    @event("Escalated")
    def _escalated(
        self, from_level: str, to_level: str, due_at: datetime | None, at: datetime
    ) -> None:
        self.escalations += 1
        self.level = to_level
        self.due_at = due_at

    def answer_with(self, text: str, by: str, at: datetime) -> bool:
        """Record the answer; whether it came before the deadline (of the current level)."""
        if self.status == "closed":
            raise SuggestionClosedError("the suggestion is closed: reopen it to answer again")
        if self.status == "answered":
            raise SuggestionStateError("the suggestion is answered already")
        on_time = self.escalations == 0 and (self.due_at is None or at <= self.due_at)
        self._answered(text=text, by=by, on_time=on_time, at=at)
        return on_time

    @event("Answered")
    def _answered(self, text: str, by: str, on_time: bool, at: datetime) -> None:
        self.status = "answered"
        self.answer = text
        self.answered_at = at

    def close(self, rating: int, at: datetime) -> None:
        if self.status != "answered":
            raise SuggestionStateError("a suggestion is closed once answered")
        if not 1 <= rating <= 5:
            raise DomainError("a rating is from 1 to 5")
        self._closed(rating=rating, satisfied=rating >= SATISFIED_FROM, at=at)

    @event("Closed")
    def _closed(self, rating: int, satisfied: bool, at: datetime) -> None:
        self.status = "closed"
        self.rating = rating

    def reopen(self, due_at: datetime, at: datetime) -> None:
        """The submitter is not satisfied with the answer: it is owed a new one."""
        if self.status not in ("answered", "closed"):
            raise SuggestionStateError("only an answered or closed suggestion is reopened")
        self._reopened(due_at=due_at, at=at)

    @event("Reopened")
    def _reopened(self, due_at: datetime, at: datetime) -> None:
        self.status = "assigned"
        self.due_at = due_at
        self.answered_at = None
        self.rating = None


class ActionItemError(ConflictError):
    """The action item is not in a state that allows this."""

    code = "action-item-state"


class NotAssignedError(DomainError):
    """The department neither leads nor supports the action item."""

    status = 403
    code = "not-assigned"


class JointMeeting(Aggregate):
    """A joint meeting (联席会议) the city or a district convenes with departments, schools
    and committees; its resolutions become action items for departments."""

    @event("Convened")
    def __init__(
        self,
        convened_by: str,
        district: str | None,
        title: str,
        starts_at: datetime,
        ends_at: datetime,
        departments: list[str],
        schools: list[str],
        committees: list[str],
    ) -> None:
        self.convened_by = convened_by
        self.district = district
        self.title = title
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.departments = departments
        self.schools = schools
        self.committees = committees
        self.action_items: list[UUID] = []

    @staticmethod
    def check(starts_at: datetime, ends_at: datetime, departments: list[str]) -> None:
        Meeting.check_times(starts_at, ends_at)
        if not departments:
            raise DomainError("a joint meeting brings departments together: name them")

    def check_assignment(self, lead: str, supporters: list[str], due_at: datetime) -> None:
        """An action item goes to departments at the table, due after the meeting."""
        if due_at <= self.ends_at:
            raise InvalidTimeError("an action item is due after the meeting that adopts it")
        absent = sorted({lead, *supporters} - set(self.departments))
        if absent:
            raise DomainError(f"not at this joint meeting: {', '.join(absent)}")
        if lead in supporters:
            raise DomainError("the lead department is not also its own supporter")

    def adopt(self, action_item_id: UUID) -> None:
        self._adopted(action_item_id=action_item_id)

    @event("ResolutionAdopted")
    def _adopted(self, action_item_id: UUID) -> None:
        self.action_items.append(action_item_id)


class ActionItem(Aggregate):
    """A joint meeting's resolution as work for a lead department and its supporters.

    Progress comes from the departments (to this service, or from their own systems
    through their boundaries); the lead's `done` completes it. Not done by its due time,
    it escalates once to the level above the convenor.
    """

    @event("Assigned")
    def __init__(
        self,
        joint_meeting_id: UUID,
        convened_by: str,
        district: str | None,
        title: str,
        lead: str,
        supporters: list[str],
        due_at: datetime,
        at: datetime,
    ) -> None:
        self.joint_meeting_id = joint_meeting_id
        self.convened_by = convened_by
        self.district = district
        self.title = title
        self.lead = lead
        self.supporters = supporters
        self.due_at = due_at
        self.assigned_at = at
        self.percent = 0
        # (department, percent, status, note, document reference): the note encrypted under
        # the item's own key ("" when none was written), as `CommitteesApplication` keeps it.
        self.notes: list[tuple[str, int, str, str, str | None]] = []
        self.done = False
        self.completed_at: datetime | None = None
        self.escalated = False
        # Department systems' report ids already recorded: a report sent twice counts once.
        self.reports: set[str] = set()

    def assigned_to(self, department: str | None) -> bool:
        return department is not None and (department == self.lead or department in self.supporters)

    def report(
        self,
        department: str,
        percent: int | None,
        done: bool,
        note: str,
        via: str,
        at: datetime,
        report_id: str | None = None,
        status: str | None = None,
        document_ref: str | None = None,
    ) -> bool:
        """Record a department's progress; whether anything was recorded (a report id
        seen before records nothing). Without a percentage the item keeps its last one;
        without a status it is on track (or done)."""
        if not self.assigned_to(department):
            raise NotAssignedError(f"department {department!r} neither leads nor supports it")
        if report_id is not None and report_id in self.reports:
            return False
        if self.done:
            raise ActionItemError("the action item is done")
        if done and department != self.lead:
            raise NotAssignedError("the lead department reports the action item done")
        self._progressed(
            department=department,
            percent=100 if done else self.percent if percent is None else percent,
            note=note,
            via=via,
            report_id=report_id,
            at=at,
            status="done" if done else status or "on-track",
            document_ref=document_ref,
        )
        if done:
            self._completed(department=department, on_time=at <= self.due_at, at=at)
        return True

    @event("Progressed")
    def _progressed(
        self,
        department: str,
        percent: int,
        note: str,
        via: str,
        report_id: str | None,
        at: datetime,
        # Reports stored before statuses were kept said only that the work went on.
        status: str = "on-track",
        document_ref: str | None = None,
    ) -> None:
        self.percent = percent
        self.notes.append((department, percent, status, note, document_ref))
        if report_id is not None:
            self.reports.add(report_id)

    @event("Completed")
    def _completed(self, department: str, on_time: bool, at: datetime) -> None:
        self.done = True
        self.completed_at = at

    def escalate(self, at: datetime) -> None:
        if self.done or self.escalated:
            raise ActionItemError("only an open action item escalates, and once")
        self._escalated(to_level="city" if self.convened_by == "district" else "alliance", at=at)

    @event("Escalated")
    def _escalated(self, to_level: str, at: datetime) -> None:
        self.escalated = True


# A mean beside suppressed score counts could give a small cell back (six answers averaging
# 4.67 are one 3 and five 5s): means are published only over this many answers, to 0.1.
MEAN_FROM = 20
SURVEYS = UUID("5e7c1f0a-3d1b-4c55-9a0e-6b1f2c3d4e5f")
SURVEY_QUESTIONS = ("overall", "teaching", "safety", "communication", "care")
"""What a satisfaction survey (家长满意度调查) asks parents, each scored 1 to 5."""


class SurveyClosedError(ConflictError):
    """The survey is closed: it takes no more answers."""

    code = "survey-closed"


class AlreadyAnsweredError(ConflictError):
    """This parent has answered the survey already (one answer per parent)."""

    code = "already-answered"


class Survey(Aggregate):
    """A school's parent satisfaction survey for one term.

    Answers are scores only: nobody is named on them. Who has answered is kept apart, as
    a keyed digest per parent on its own aggregate (`SurveyGuard`), only to refuse a
    second answer; results leave the service as aggregates with small cells suppressed.
    """

    @staticmethod
    def create_id(school_id: str, term: str, **_: object) -> UUID:
        """One survey per school per term: a second one clashes with the first's id."""
        return uuid5(SURVEYS, f"{school_id}/{term}")

    @event("Opened")
    def __init__(
        self,
        school_id: str,
        term: str,
        district: str,
        closes_at: datetime,
        guard_salt: str,
        at: datetime,
    ) -> None:
        self.school_id = school_id
        # Encrypted under the survey's own data key, erased at close (application.py).
        self.guard_salt = guard_salt
        self.district = district
        self.term = term
        self.closes_at = closes_at
        self.closed = False
        self.responses = 0
        # question -> score -> how many parents gave it
        self.tally: dict[str, dict[int, int]] = {q: {} for q in SURVEY_QUESTIONS}

    @staticmethod
    def check_scores(scores: dict[str, int]) -> None:
        if set(scores) != set(SURVEY_QUESTIONS):
            raise DomainError(f"a survey answer scores each of {', '.join(SURVEY_QUESTIONS)}")
        if any(not 1 <= s <= 5 for s in scores.values()):
            raise DomainError("each score is from 1 to 5")

    def answer(self, scores: dict[str, int], at: datetime) -> None:
        if self.closed or at >= self.closes_at:
            raise SurveyClosedError("the survey is closed")
        self.check_scores(scores)
        self._answered(scores=dict(sorted(scores.items())))

    # The answer's own time is not kept beyond what the stored event's timestamp says.
    @event("Answered")
    def _answered(self, scores: dict[str, int]) -> None:
        self.responses += 1
        for question, score in scores.items():
            self.tally[question][score] = self.tally[question].get(score, 0) + 1

    def close(self, at: datetime) -> None:
        if self.closed:
            raise SurveyClosedError("the survey is closed already")
        # The results travel with the event so that they can be published as they stood.
        self._closed(
            school_id=self.school_id,
            term=self.term,
            responses=self.responses,
            means=self.means(),
            at=at,
        )

    @event("Closed")
    def _closed(
        self, school_id: str, term: str, responses: int, means: dict[str, float], at: datetime
    ) -> None:
        self.closed = True

    def means(self) -> dict[str, float]:
        if self.responses < MEAN_FROM:
            return {}
        return {
            q: round(sum(score * n for score, n in counts.items()) / self.responses, 1)
            for q, counts in self.tally.items()
        }


class SurveyGuard(Aggregate):
    """That one parent answered one survey: its id is derived from a keyed digest of the
    two (`application.py`), and its one event says nothing else."""

    @staticmethod
    def create_id(digest: str) -> UUID:
        return uuid5(SURVEYS, f"guard/{digest}")

    @event("Taken")
    def __init__(self, digest: str) -> None:
        pass


MEMBERS = UUID("0b6d3c1e-8f2a-4e7d-9c4b-2a1f5e6d7c8b")


class MemberCard(Aggregate):
    """A committee member's name (encrypted under their own data key) and the schools of
    the committees they sit on, which decide whose staff may read it."""

    @staticmethod
    def create_id(member_id: str, **_: object) -> UUID:
        return uuid5(MEMBERS, member_id)

    @event("Registered")
    def __init__(self, member_id: str, name_token: str) -> None:
        self.member_id = member_id
        self.name_token = name_token
        # The schools of their committees; None for a committee above the schools.
        self.schools: set[str | None] = set()

    def seat(self, committee_id: UUID, school_id: str | None) -> None:
        if school_id not in self.schools:
            self._seated(committee_id=committee_id, school_id=school_id)

    @event("Seated")
    def _seated(self, committee_id: UUID, school_id: str | None) -> None:
        self.schools.add(school_id)

    def rename(self, name_token: str) -> None:
        self._renamed(name_token=name_token)

    @event("Renamed")
    def _renamed(self, name_token: str) -> None:
        self.name_token = name_token
