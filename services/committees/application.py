"""CommitteesApplication: one method per command, each deciding on fresh state.

Suggestions carry the kit's deadlines: being assigned (or reopened, or escalated to a
level above) schedules `answer-due`; an answer cancels it; when it falls due first, the
deadline runner calls `escalate`, once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking

from contracts.action_items import ActionItemProgress
from services.committees.domain import (
    NEXT_LEVEL,
    SCHOOL_LEVELS,
    ActionItem,
    ActionItemError,
    AlreadyAnsweredError,
    Committee,
    JointMeeting,
    Meeting,
    MemberCard,
    NotAssignedError,
    Suggestion,
    Survey,
    SurveyGuard,
)
from services.kit.application import CommandKey, Decision, ServiceApplication
from services.kit.deadlines import Cancel, Deadline, DeadlineRules, Schedule, WorkingCalendar
from services.kit.deadlines.model import Change
from services.kit.errors import ConflictError, DomainError, NotFoundError
from services.kit.privacy.datakeys import is_token
from services.kit.privacy.personal import PersonalData

log = logging.getLogger(__name__)

ANSWER_DUE = "answer-due"
ACTION_DUE = "action-due"
SURVEY_CLOSES = "survey-closes"
GUARD_SALT = "guard-salt"
NAME_FIELD = "name"
NOTE_FIELD = "progress-note"
# The service level: working days to answer at each level.
SERVICE_LEVEL_DAYS = 15
# Suggestions collected on paper (at a waiting station, 家长驿站) are entered later with
# the day they were received, which their service level counts from; at most this old.
MAX_RECEIVED_AGE = timedelta(days=366)


def _answer_due(e: Any) -> Iterable[Change]:
    return [Schedule(ANSWER_DUE, e.due_at)] if e.due_at is not None else [Cancel(ANSWER_DUE)]


def _answered(_: Any) -> Iterable[Change]:
    return [Cancel(ANSWER_DUE)]


def _action_due(e: Any) -> Iterable[Change]:
    return [Schedule(ACTION_DUE, e.due_at)]


def _action_done(_: Any) -> Iterable[Change]:
    return [Cancel(ACTION_DUE)]


def _survey_opened(e: Any) -> Iterable[Change]:
    return [Schedule(SURVEY_CLOSES, e.closes_at)]


def _survey_closed(_: Any) -> Iterable[Change]:
    return [Cancel(SURVEY_CLOSES)]


class CommitteesApplication(ServiceApplication):
    name = "committees"
    deadlines = DeadlineRules(
        rules={
            "Suggestion.Assigned": _answer_due,
            "Suggestion.Reopened": _answer_due,
            "Suggestion.Escalated": _answer_due,
            "Suggestion.Answered": _answered,
            "ActionItem.Assigned": _action_due,
            "ActionItem.Completed": _action_done,
            "Survey.Opened": _survey_opened,
            "Survey.Closed": _survey_closed,
        },
        handlers={
            ANSWER_DUE: "escalate",
            ACTION_DUE: "escalate_action_item",
            SURVEY_CLOSES: "close_survey_at_deadline",
        },
    )
    calendar = WorkingCalendar.load()
    # Per-person keys and the access log (members' names; surveys' guard salts).
    personal: PersonalData | None = None

    def privacy(self) -> PersonalData:
        if self.personal is None:
            raise RuntimeError("the committees application needs its PersonalData (personal)")
        return self.personal

    def now(self) -> datetime:
        return self.deadline_clock.now()

    # Queries.
    def committee(self, committee_id: UUID) -> Committee:
        return self.get(committee_id, Committee)

    def suggestion(self, suggestion_id: UUID) -> Suggestion:
        return self.get(suggestion_id, Suggestion)

    def meeting(self, meeting_id: UUID) -> Meeting:
        return self.get(meeting_id, Meeting)

    def joint_meeting(self, joint_meeting_id: UUID) -> JointMeeting:
        return self.get(joint_meeting_id, JointMeeting)

    def action_item(self, action_item_id: UUID) -> ActionItem:
        return self.get(action_item_id, ActionItem)

    def survey(self, survey_id: UUID) -> Survey:
        return self.get(survey_id, Survey)

    # Committees.
    def form_committee(
        self,
        key: CommandKey | None,
        *,
        level: str,
        scope_id: str,
        district: str,
        title: str,
        term_ends_on: date,
    ) -> dict[str, Any]:
        if term_ends_on <= self.now().date():
            raise DomainError("a committee's term ends in the future")

        def decide() -> Decision:
            committee = Committee(
                level=level,
                scope_id=scope_id,
                school_id=scope_id if level in SCHOOL_LEVELS else None,
                district=district,
                title=title,
                grandparents=level == "village",
                term_ends_on=term_ends_on.isoformat(),
                formed_at=self.now(),
            )
            return [committee], {"committee_id": str(committee.id), "version": committee.version}

        return self.run_command(key, decide)

    def add_member(
        self,
        key: CommandKey | None,
        committee_id: UUID,
        *,
        member_id: str,
        role: str,
        grandparent: bool,
        name: str | None = None,
    ) -> dict[str, Any]:
        def decide() -> Decision:
            committee = self.committee(committee_id)
            committee.add_member(member_id, role, grandparent, self.now())
            card = self._member_card(member_id, name)
            card.seat(committee.id, committee.school_id)
            return [committee, card], {
                "committee_id": str(committee.id),
                "members": len(committee.members),
                "version": committee.version,
            }

        return self.run_command(key, decide)

    def _member_card(self, member_id: str, name: str | None) -> MemberCard:
        """The member's card, created (or renamed) with the name given, encrypted."""
        token = self.privacy().keys.encrypt(member_id, NAME_FIELD, name) if name is not None else ""
        try:
            card = self.get(MemberCard.create_id(member_id), MemberCard)
        except NotFoundError:
            return MemberCard(member_id=member_id, name_token=token)
        if token:
            card.rename(token)
        return card

    def member_cards(self, member_ids: Iterable[str]) -> dict[str, MemberCard]:
        found: dict[str, MemberCard] = {}
        for member_id in member_ids:
            try:
                found[member_id] = self.get(MemberCard.create_id(member_id), MemberCard)
            except NotFoundError:
                continue
        return found

    def progress_notes(self, item: ActionItem) -> list[str | None]:
        """Each progress report's note, in order; None when none was written."""
        keys = self.privacy().keys
        owner = notes_owner(item.id)
        notes: list[str | None] = []
        for *_, token, _ref in item.notes:
            if not is_token(token):
                # Stored before notes were encrypted (`encrypt_plain_notes` rewrites them).
                notes.append(token or None)
                continue
            note = keys.decrypt(token, field=NOTE_FIELD, person_id=owner)
            notes.append(note if isinstance(note, str) else None)
        return notes

    def member_names(self, cards: Sequence[MemberCard]) -> list[str | None]:
        """Each card's name; None when erased or never given."""
        keys = self.privacy().keys
        keys.prefetch(c.name_token for c in cards if c.name_token)
        names: list[str | None] = []
        for card in cards:
            name = (
                keys.decrypt(card.name_token, field=NAME_FIELD, person_id=card.member_id)
                if card.name_token
                else None
            )
            names.append(name if isinstance(name, str) else None)
        return names

    def end_membership(
        self, key: CommandKey | None, committee_id: UUID, *, member_id: str
    ) -> dict[str, Any]:
        def decide() -> Decision:
            committee = self.committee(committee_id)
            committee.end_membership(member_id, self.now())
            return [committee], {
                "committee_id": str(committee.id),
                "members": len(committee.members),
                "version": committee.version,
            }

        return self.run_command(key, decide)

    # Meetings.
    def schedule_meeting(
        self,
        key: CommandKey | None,
        *,
        committee_id: UUID,
        starts_at: datetime,
        ends_at: datetime,
    ) -> dict[str, Any]:
        Meeting.check_times(starts_at, ends_at)

        def decide() -> Decision:
            committee = self.committee(committee_id)
            meeting = Meeting(
                committee_id=committee.id,
                school_id=committee.school_id,
                starts_at=starts_at,
                ends_at=ends_at,
            )
            return [meeting], {"meeting_id": str(meeting.id), "version": meeting.version}

        return self.run_command(key, decide)

    def hold_meeting(
        self, key: CommandKey | None, meeting_id: UUID, *, attended: int, resolutions: int
    ) -> dict[str, Any]:
        def decide() -> Decision:
            meeting = self.meeting(meeting_id)
            meeting.hold(attended, resolutions, self.now())
            return [meeting], {"meeting_id": str(meeting.id), "version": meeting.version}

        return self.run_command(key, decide)

    # Suggestions.
    def due_after(self, start: datetime) -> datetime:
        return self.calendar.add_working_days(start, SERVICE_LEVEL_DAYS)

    def submit_suggestion(
        self,
        key: CommandKey | None,
        *,
        committee_id: UUID,
        member_id: str | None,
        anonymous: bool,
        topic: str,
        text: str,
        department: str | None,
        received_on: date | None,
    ) -> dict[str, Any]:
        now = self.now()
        received = received_on or now.astimezone(self.calendar.timezone).date()
        if received > now.astimezone(self.calendar.timezone).date():
            raise DomainError("a suggestion is received on or before today")
        if now.date() - received > MAX_RECEIVED_AGE:
            raise DomainError("a suggestion received over a year ago is not entered")
        start = datetime.combine(received, time(12), tzinfo=self.calendar.timezone)

        def decide() -> Decision:
            committee = self.committee(committee_id)
            if member_id is not None and member_id not in committee.members:
                raise DomainError("the member does not sit on this committee")
            suggestion = Suggestion(
                committee_id=committee.id,
                school_id=committee.school_id,
                district=committee.district,
                member_id=member_id,
                anonymous=anonymous,
                topic=topic,
                text=text,
                received_on=received.isoformat(),
                submitted_at=now,
            )
            # Assigned to the department named, otherwise to the committee's school (or,
            # for a committee above the schools, its district).
            level = "school" if committee.school_id is not None else "district"
            suggestion.assign(level, department, self.due_after(start), now)
            return [suggestion], _suggestion_answer(suggestion)

        return self.run_command(key, decide)

    def escalate(self, deadline: Deadline) -> dict[str, Any]:
        """The answer-due deadline fell due: up one level, with a new service level."""

        def decide() -> Decision:
            suggestion = self.suggestion(deadline.owner_id)
            has_next = NEXT_LEVEL[suggestion.level] is not None
            suggestion.escalate(self.due_after(deadline.due_at) if has_next else None, self.now())
            return [suggestion], _suggestion_answer(suggestion)

        return self.run_command(CommandKey.of_deadline(deadline), decide, fired=deadline)

    def answer_suggestion(
        self, key: CommandKey | None, suggestion_id: UUID, *, text: str, by: str
    ) -> dict[str, Any]:
        def decide() -> Decision:
            suggestion = self.suggestion(suggestion_id)
            on_time = suggestion.answer_with(text, by, self.now())
            return [suggestion], _suggestion_answer(suggestion) | {"on_time": on_time}

        return self.run_command(key, decide)

    def close_suggestion(
        self, key: CommandKey | None, suggestion_id: UUID, *, rating: int
    ) -> dict[str, Any]:
        def decide() -> Decision:
            suggestion = self.suggestion(suggestion_id)
            suggestion.close(rating, self.now())
            return [suggestion], _suggestion_answer(suggestion)

        return self.run_command(key, decide)

    def reopen_suggestion(self, key: CommandKey | None, suggestion_id: UUID) -> dict[str, Any]:
        def decide() -> Decision:
            suggestion = self.suggestion(suggestion_id)
            now = self.now()
            suggestion.reopen(self.due_after(now), now)
            return [suggestion], _suggestion_answer(suggestion)

        return self.run_command(key, decide)

    # Joint meetings and their action items.
    def convene_joint_meeting(
        self,
        key: CommandKey | None,
        *,
        convened_by: str,
        district: str | None,
        title: str,
        starts_at: datetime,
        ends_at: datetime,
        departments: list[str],
        schools: list[str],
        committees: list[UUID],
    ) -> dict[str, Any]:
        JointMeeting.check(starts_at, ends_at, departments)
        if (convened_by == "district") != (district is not None):
            raise DomainError("a district convenes with its district code; the city without")

        def decide() -> Decision:
            for committee_id in committees:
                self.committee(committee_id)  # each one exists
            meeting = JointMeeting(
                convened_by=convened_by,
                district=district,
                title=title,
                starts_at=starts_at,
                ends_at=ends_at,
                departments=sorted(set(departments)),
                schools=sorted(set(schools)),
                committees=sorted({str(c) for c in committees}),
            )
            return [meeting], {"joint_meeting_id": str(meeting.id), "version": meeting.version}

        return self.run_command(key, decide)

    def assign_action_item(
        self,
        key: CommandKey | None,
        joint_meeting_id: UUID,
        *,
        title: str,
        lead: str,
        supporters: list[str],
        due_on: date,
    ) -> dict[str, Any]:
        """A resolution of the meeting becomes an action item, due at the end of `due_on`."""
        due_at = datetime.combine(due_on + timedelta(days=1), time(0), self.calendar.timezone)

        def decide() -> Decision:
            meeting = self.joint_meeting(joint_meeting_id)
            meeting.check_assignment(lead, supporters, due_at)
            item = ActionItem(
                joint_meeting_id=meeting.id,
                convened_by=meeting.convened_by,
                district=meeting.district,
                title=title,
                lead=lead,
                supporters=sorted(set(supporters)),
                due_at=due_at,
                at=self.now(),
            )
            meeting.adopt(item.id)
            return [meeting, item], _action_item_answer(item)

        return self.run_command(key, decide)

    def report_progress(
        self,
        key: CommandKey | None,
        action_item_id: UUID,
        *,
        department: str,
        percent: int | None,
        done: bool,
        note: str | None,
        status: str | None = None,
        document_ref: str | None = None,
    ) -> dict[str, Any]:
        """A department's progress through this service; its note, if any, is kept
        encrypted under the item's own key and never published."""

        def decide() -> Decision:
            item = self.action_item(action_item_id)
            token = (
                self.privacy().keys.encrypt(notes_owner(item.id), NOTE_FIELD, note) if note else ""
            )
            item.report(
                department,
                percent,
                done,
                token,
                "service",
                self.now(),
                status=status,
                document_ref=document_ref,
            )
            return [item], _action_item_answer(item)

        return self.run_command(key, decide)

    def record_progress_reports(
        self, consumer: str, position: int, reports: Sequence[ActionItemProgress]
    ) -> None:
        """Departments' systems' reports, recorded with the consumer position in one
        transaction. A report on an item the department neither leads nor supports, on an
        unknown or finished item, is refused (logged) and the position still advances."""
        touched: dict[UUID, ActionItem] = {}
        for report in reports:
            department = type(report).department()
            item_id = UUID(report.action_item_id)
            item = touched.get(item_id)
            try:
                if item is None:
                    item = self.action_item(item_id)
                item.report(
                    department,
                    report.percent,
                    report.status == "done",
                    "",
                    "department-system",
                    # Received now: a department's own clock does not decide "on time".
                    self.now(),
                    report_id=report.report_id,
                    status=report.status,
                    document_ref=report.document_ref,
                )
            except (NotFoundError, NotAssignedError, ActionItemError) as exc:
                log.warning(
                    "refused %s's progress report %s on action item %s: %s",
                    department,
                    report.report_id,
                    item_id,
                    exc,
                )
                continue
            touched[item_id] = item
        aggregates: list[Aggregate] = list(touched.values())
        self.save_tracked(Tracking(consumer, position), *aggregates)

    def escalate_action_item(self, deadline: Deadline) -> dict[str, Any]:
        """The action-due deadline fell due with the item open: up one level, once."""

        def decide() -> Decision:
            item = self.action_item(deadline.owner_id)
            item.escalate(self.now())
            return [item], _action_item_answer(item)

        return self.run_command(CommandKey.of_deadline(deadline), decide, fired=deadline)

    # Satisfaction surveys.
    def open_survey(
        self, key: CommandKey | None, *, school_id: str, district: str, term: str, closes_on: date
    ) -> dict[str, Any]:
        now = self.now()
        closes_at = datetime.combine(closes_on + timedelta(days=1), time(0), self.calendar.timezone)
        if closes_at <= now:
            raise DomainError("a survey closes in the future")

        def decide() -> Decision:
            survey_id = Survey.create_id(school_id=school_id, term=term)
            try:
                self.get(survey_id, Survey)
            except NotFoundError:
                pass
            else:
                raise ConflictError(f"{school_id} has its survey for {term} already")
            # The salt of this survey's answer guards, under a key of its own: erased when
            # the survey closes, after which no guard can be tied to a parent again.
            salt = self.privacy().keys.encrypt(
                _guard_owner(survey_id), GUARD_SALT, secrets.token_hex(32)
            )
            survey = Survey(
                school_id=school_id,
                term=term,
                district=district,
                closes_at=closes_at,
                guard_salt=salt,
                at=now,
            )
            return [survey], _survey_answer(survey)

        return self.run_command(key, decide)

    def answer_survey(
        self, survey_id: UUID, *, parent_id: str, scores: dict[str, int]
    ) -> dict[str, Any]:
        """A parent's anonymous answer: scores on the survey, and apart from them a guard
        saying only that this parent answered (no idempotency record: it would tie the
        request to the parent)."""
        Survey.check_scores(scores)

        def decide() -> Decision:
            survey = self.survey(survey_id)
            guard = SurveyGuard(digest=self._guard_digest(survey, parent_id))
            try:
                self.get(guard.id, SurveyGuard)
            except NotFoundError:
                pass
            else:
                raise AlreadyAnsweredError("this parent has answered the survey")
            survey.answer(scores, self.now())
            return [survey, guard], {"survey_id": str(survey.id), "answered": True}

        return self.run_command(None, decide)

    def _guard_digest(self, survey: Survey, parent_id: str) -> str:
        keys = self.privacy().keys
        salt = keys.decrypt(survey.guard_salt, field=GUARD_SALT, person_id=_guard_owner(survey.id))
        if not isinstance(salt, str):
            raise ConflictError("the survey is closed")
        return hmac.new(bytes.fromhex(salt), parent_id.encode(), hashlib.sha256).hexdigest()

    def close_survey(self, key: CommandKey | None, survey_id: UUID) -> dict[str, Any]:
        def decide() -> Decision:
            survey = self.survey(survey_id)
            survey.close(self.now())
            return [survey], _survey_answer(survey)

        response = self.run_command(key, decide)
        self.privacy().keys.erase(_guard_owner(survey_id))
        return response

    def close_survey_at_deadline(self, deadline: Deadline) -> dict[str, Any]:
        def decide() -> Decision:
            survey = self.survey(deadline.owner_id)
            survey.close(self.now())
            return [survey], _survey_answer(survey)

        response = self.run_command(CommandKey.of_deadline(deadline), decide, fired=deadline)
        self.privacy().keys.erase(_guard_owner(deadline.owner_id))
        return response


def _guard_owner(survey_id: UUID) -> str:
    return f"survey-guard-{survey_id}"


def _survey_answer(survey: Survey) -> dict[str, Any]:
    return {
        "survey_id": str(survey.id),
        "school_id": survey.school_id,
        "term": survey.term,
        "closes_at": survey.closes_at.isoformat(),
        "closed": survey.closed,
        "version": survey.version,
    }


def notes_owner(action_item_id: UUID) -> str:
    """Whose key an action item's progress notes are encrypted under: the item's own, so
    they are erased with it whatever (or whoever) they mention."""
    return f"action-item:{action_item_id}"


def _action_item_answer(item: ActionItem) -> dict[str, Any]:
    return {
        "action_item_id": str(item.id),
        "lead": item.lead,
        "percent": item.percent,
        "done": item.done,
        "escalated": item.escalated,
        "due_at": item.due_at.isoformat(),
        "version": item.version,
    }


def _suggestion_answer(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "suggestion_id": str(suggestion.id),
        "status": suggestion.status,
        "level": suggestion.level,
        "due_at": suggestion.due_at.isoformat() if suggestion.due_at else None,
        "version": suggestion.version,
    }
