"""CommitteesApplication: one method per command, each deciding on fresh state.

Suggestions carry the kit's deadlines: being assigned (or reopened, or escalated to a
level above) schedules `answer-due`; an answer cancels it; when it falls due first, the
deadline runner calls `escalate`, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from services.committees.domain import (
    NEXT_LEVEL,
    SCHOOL_LEVELS,
    Committee,
    Meeting,
    Suggestion,
)
from services.kit.application import CommandKey, Decision, ServiceApplication
from services.kit.deadlines import Cancel, Deadline, DeadlineRules, Schedule, WorkingCalendar
from services.kit.deadlines.model import Change
from services.kit.errors import DomainError

ANSWER_DUE = "answer-due"
# The service level: working days to answer at each level.
SERVICE_LEVEL_DAYS = 15
# Suggestions collected on paper (at a waiting station, 家长驿站) are entered later with
# the day they were received, which their service level counts from; at most this old.
MAX_RECEIVED_AGE = timedelta(days=366)


def _answer_due(e: Any) -> Iterable[Change]:
    return [Schedule(ANSWER_DUE, e.due_at)] if e.due_at is not None else [Cancel(ANSWER_DUE)]


def _answered(_: Any) -> Iterable[Change]:
    return [Cancel(ANSWER_DUE)]


class CommitteesApplication(ServiceApplication):
    name = "committees"
    deadlines = DeadlineRules(
        rules={
            "Suggestion.Assigned": _answer_due,
            "Suggestion.Reopened": _answer_due,
            "Suggestion.Escalated": _answer_due,
            "Suggestion.Answered": _answered,
        },
        handlers={ANSWER_DUE: "escalate"},
    )
    calendar = WorkingCalendar.load()

    def now(self) -> datetime:
        return self.deadline_clock.now()

    # Queries.
    def committee(self, committee_id: UUID) -> Committee:
        return self.get(committee_id, Committee)

    def suggestion(self, suggestion_id: UUID) -> Suggestion:
        return self.get(suggestion_id, Suggestion)

    def meeting(self, meeting_id: UUID) -> Meeting:
        return self.get(meeting_id, Meeting)

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
    ) -> dict[str, Any]:
        def decide() -> Decision:
            committee = self.committee(committee_id)
            committee.add_member(member_id, role, grandparent, self.now())
            return [committee], {
                "committee_id": str(committee.id),
                "members": len(committee.members),
                "version": committee.version,
            }

        return self.run_command(key, decide)

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


def _suggestion_answer(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "suggestion_id": str(suggestion.id),
        "status": suggestion.status,
        "level": suggestion.level,
        "due_at": suggestion.due_at.isoformat() if suggestion.due_at else None,
        "version": suggestion.version,
    }
