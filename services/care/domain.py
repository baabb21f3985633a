"""Care files, consents, referrals and what care knows of other boundaries. No I/O here.

Personal data (the child's name, evidence, visit notes, reasons, a guardian's name) is
held by the aggregates as data-key tokens made by the application: the domain never sees
it in clear, and an erased child's tokens open to nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.kit.errors import ConflictError, DomainError, ForbiddenError

Category = Literal["orphan", "single-parent", "disabled", "poor", "left-behind", "screening"]
CATEGORIES: tuple[str, ...] = get_args(Category)
Status = Literal["open", "monitoring", "closed", "reopened"]
TeamRole = Literal["lead", "mentor", "psychology"]
MemberKind = Literal["teacher", "party-member", "volunteer"]
VisitMode = Literal["home", "phone", "school"]
VisitorRole = Literal[
    "head-teacher", "subject-teacher", "psychology-teacher", "volunteer", "party-member"
]
Source = Literal["school", "civ", "hlth"]
ScreeningLevel = Literal["watch", "concern", "urgent"]
ReferralStatus = Literal["sent", "accepted", "rejected", "done", "revoked"]
GoalOutcome = Literal["continued", "achieved", "dropped"]
FollowUpMode = Literal["talk", "call", "home", "class", "meeting"]
# Home-delivered teaching (送教上门): how often a teacher goes, and how long a session runs.
MAX_SESSIONS_PER_WEEK = 5
SESSION_HOURS = (0.5, 4.0)
# How far back a plan entered from the paper file may date its goals.
MAX_PAPER_AGE = timedelta(days=366)

# A status may move only along these edges; a closed file is reopened, never edited.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"monitoring", "closed"}),
    "monitoring": frozenset({"open", "closed"}),
    "closed": frozenset({"reopened"}),
    "reopened": frozenset({"monitoring", "closed"}),
}
REFERRAL_TRANSITIONS: dict[str, frozenset[str]] = {
    "sent": frozenset({"accepted", "rejected", "revoked"}),
    "accepted": frozenset({"done", "revoked"}),
    "rejected": frozenset(),
    "done": frozenset(),
    "revoked": frozenset(),
}
# Intakes from a department get a file id fixed at arrival, so that the child's data key
# (per file) is the same before and after the school opens the file.
INTAKE_NAMESPACE = uuid5(NAMESPACE_URL, "https://tongxin.example/care/intake")


class FileClosedError(ConflictError):
    """The file is closed: reopen it before recording anything on it."""

    code = "file-closed"


class FileErasedError(ConflictError):
    """The child's personal data was erased: nothing new is recorded on the file."""

    code = "person-erased"


class InvalidTransitionError(ConflictError):
    """The status cannot move from where it is to where it was asked to go."""

    code = "invalid-transition"


class VisitRuleError(DomainError):
    """A home visit breaks the 1+N rule or is dated in the future."""

    code = "visit-rule"


class MentorNotClearedError(DomainError):
    """A volunteer mentor needs a passed, unexpired background check."""

    code = "background-check-required"


class NoBasisError(ForbiddenError):
    """A referral needs guardian consent covering it, or a recorded legal basis."""

    code = "no-basis-for-sharing"


class HomeTeachingRuleError(DomainError):
    """A home-teaching schedule or session breaks its rules (dates, teacher, length)."""

    code = "home-teaching-rule"


class AlreadyUsedError(ConflictError):
    """The intake already opened a file."""

    code = "intake-used"


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def intake_file_id(source: str, reference: str) -> UUID:
    """The id of the file a department's referral becomes (the child's data key's person)."""
    return uuid5(INTAKE_NAMESPACE, f"{source}:{reference}")


def intake_id(source: str, reference: str) -> UUID:
    """The id of the intake a department's referral is kept as until a file is opened."""
    return uuid5(INTAKE_NAMESPACE, f"intake:{source}:{reference}")


class CareFile(Aggregate):
    """One child's file (一人一档): who they are, why, their team, visits and status."""

    @event("Opened")
    def __init__(
        self,
        id: UUID,
        school_id: str,
        class_id: str,
        district_id: str,
        source: str,
        child_token: str,
        opened_by: str,
        opened_at: datetime,
    ) -> None:
        self.school_id = school_id
        self.class_id = class_id
        self.district_id = district_id
        self.source = source
        self.child_token = child_token
        self.opened_by = opened_by
        self.opened_at = opened_at
        self.status: str = "open"
        # category -> {"evidence": token, "review_on": iso date}
        self.categories: dict[str, dict[str, str]] = {}
        # account id -> {"role": TeamRole, "kind": MemberKind}
        self.team: dict[str, dict[str, str]] = {}
        self.visits: list[dict[str, Any]] = []
        self.screenings: list[dict[str, str]] = []
        # account id -> iso time the emergency access ends
        self.break_glass: dict[str, str] = {}
        self.erased_at: datetime | None = None
        # The plan: goal id -> {"text": token, "review_on": iso, "status": active|achieved|dropped}
        self.goals: dict[str, dict[str, str]] = {}
        self.follow_ups: list[dict[str, Any]] = []
        # The review date a fired deadline found passed (cleared by the next scheduling).
        self.review_overdue_on: str | None = None
        # Home-delivered teaching: its schedule, if any, and the sessions delivered.
        self.home_teaching: dict[str, Any] | None = None
        self.sessions: list[dict[str, Any]] = []

    # -- reads --------------------------------------------------------------------------
    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    @property
    def lead(self) -> str | None:
        return next((m for m, v in self.team.items() if v["role"] == "lead"), None)

    def member(self, account: str) -> dict[str, str] | None:
        return self.team.get(account)

    def next_review(self) -> date | None:
        """The earliest review due: of a category, or of a goal of the plan still active."""
        dates = [date.fromisoformat(c["review_on"]) for c in self.categories.values()]
        active = (g for g in self.goals.values() if g["status"] == "active")
        dates += [date.fromisoformat(g["review_on"]) for g in active]
        return min(dates) if dates else None

    def next_visit(self) -> date | None:
        if not self.visits:
            return None
        last = self.visits[-1].get("next_visit_on")
        return date.fromisoformat(last) if last else None

    def break_glass_until(self, account: str) -> datetime | None:
        until = self.break_glass.get(account)
        return datetime.fromisoformat(until) if until else None

    # -- rules --------------------------------------------------------------------------
    def _refuse_if_closed_or_erased(self) -> None:
        if self.erased:
            raise FileErasedError("this child's data was erased: nothing new is recorded")
        if self.status == "closed":
            raise FileClosedError("the file is closed: reopen it first")

    def tag(self, category: str, evidence_token: str, review_on: date, today: date) -> None:
        self._refuse_if_closed_or_erased()
        if category not in CATEGORIES:
            raise DomainError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
        if review_on <= today:
            raise DomainError("a review date must be in the future")
        before = self.next_review()
        self._tagged(category=category, evidence=evidence_token, review_on=review_on.isoformat())
        self._reschedule_if_moved(before)

    @event("Tagged")
    def _tagged(self, category: str, evidence: str, review_on: str) -> None:
        self.categories[category] = {"evidence": evidence, "review_on": review_on}

    def review(self, category: str, next_review_on: date, today: date) -> None:
        """A category was reviewed: it stays, with its next review date."""
        self._refuse_if_closed_or_erased()
        if category not in self.categories:
            raise DomainError(f"the file has no category {category!r}")
        if next_review_on <= today:
            raise DomainError("the next review date must be in the future")
        before = self.next_review()
        self._reviewed(category=category, review_on=next_review_on.isoformat())
        self._reschedule_if_moved(before)

    @event("Reviewed")
    def _reviewed(self, category: str, review_on: str) -> None:
        self.categories[category] = self.categories[category] | {"review_on": review_on}

    def _reschedule_if_moved(self, before: date | None) -> None:
        # A review still due on the same day (another item shares it) stays overdue.
        if self.next_review() != before:
            self._review_scheduled(review_on=_iso(self.next_review()))

    @event("ReviewScheduled")
    def _review_scheduled(self, review_on: str | None) -> None:
        # The kit's deadline `review-due` follows this event (application.DEADLINES).
        self.review_overdue_on = None

    def flag_review_overdue(self, today: date) -> bool:
        """The review-due deadline fell: flag the passed review, once; False if moot."""
        due = self.next_review()
        if self.erased or self.status == "closed" or due is None or due >= today:
            return False
        if self.review_overdue_on == due.isoformat():
            return False
        self._review_overdue(
            review_on=due.isoformat(), school_id=self.school_id, district_id=self.district_id
        )
        return True

    @event("ReviewOverdue")
    def _review_overdue(self, review_on: str, school_id: str, district_id: str) -> None:
        self.review_overdue_on = review_on

    # -- plan and follow-ups ------------------------------------------------------------
    def set_goal(
        self,
        goal_id: UUID,
        text_token: str,
        review_on: date,
        today: date,
        set_on: date | None = None,
    ) -> None:
        """A goal of the child's plan, reviewed on a date (the file's review deadline).

        A plan entered from the paper file (一人一册) keeps the day it was agreed, up to a
        year back; its review may then have passed already, and is overdue at once.
        """
        self._refuse_if_closed_or_erased()
        agreed = set_on or today
        if agreed > today or agreed < today - MAX_PAPER_AGE:
            raise DomainError("a goal is agreed today, or within the last year on paper")
        if review_on <= agreed:
            raise DomainError("a goal's review date comes after the day it was agreed")
        before = self.next_review()
        self._goal_set(
            goal_id=str(goal_id),
            text=text_token,
            review_on=review_on.isoformat(),
            set_on=agreed.isoformat(),
        )
        self._reschedule_if_moved(before)

    @event("GoalSet")
    def _goal_set(self, goal_id: str, text: str, review_on: str, set_on: str) -> None:
        self.goals[goal_id] = {"text": text, "review_on": review_on, "status": "active"}

    def review_goal(
        self,
        goal_id: str,
        outcome: str,
        next_review_on: date | None,
        note_token: str,
        today: date,
    ) -> None:
        """A goal was reviewed: continued to a next date, achieved or dropped."""
        self._refuse_if_closed_or_erased()
        goal = self.goals.get(goal_id)
        if goal is None:
            raise DomainError(f"the plan has no goal {goal_id}")
        if goal["status"] != "active":
            raise ConflictError(f"the goal is already {goal['status']}")
        if outcome == "continued":
            if next_review_on is None or next_review_on <= today:
                raise DomainError("a continued goal needs a next review date in the future")
        elif next_review_on is not None:
            raise DomainError(f"an {outcome} goal has no next review")
        before = self.next_review()
        self._goal_reviewed(
            goal_id=goal_id,
            outcome=outcome,
            review_on=_iso(next_review_on) or goal["review_on"],
            note=note_token,
            reviewed_on=today.isoformat(),
        )
        self._reschedule_if_moved(before)

    @event("GoalReviewed")
    def _goal_reviewed(
        self, goal_id: str, outcome: str, review_on: str, note: str, reviewed_on: str
    ) -> None:
        status = "active" if outcome == "continued" else outcome
        self.goals[goal_id] = self.goals[goal_id] | {"review_on": review_on, "status": status}

    def record_follow_up(
        self,
        *,
        follow_up_id: UUID,
        on: date,
        today: date,
        mode: str,
        goal_id: str | None,
        notes_token: str,
        recorded_by: str,
    ) -> None:
        """A follow-up (a talk, a call, a check in class) recorded in the file."""
        self._refuse_if_closed_or_erased()
        if on > today:
            raise DomainError("a follow-up cannot be recorded before it happens")
        if goal_id is not None and goal_id not in self.goals:
            raise DomainError(f"the plan has no goal {goal_id}")
        self._followed_up(
            follow_up_id=str(follow_up_id),
            on=on.isoformat(),
            mode=mode,
            goal_id=goal_id,
            notes=notes_token,
            recorded_by=recorded_by,
        )

    @event("FollowedUp")
    def _followed_up(
        self,
        follow_up_id: str,
        on: str,
        mode: str,
        goal_id: str | None,
        notes: str,
        recorded_by: str,
    ) -> None:
        self.follow_ups.append(
            {
                "follow_up_id": follow_up_id,
                "on": on,
                "mode": mode,
                "goal_id": goal_id,
                "notes": notes,
                "recorded_by": recorded_by,
            }
        )

    # -- home-delivered teaching (送教上门) -------------------------------------------
    def schedule_home_teaching(
        self,
        *,
        teacher: str,
        sessions_per_week: int,
        starts_on: date,
        ends_on: date,
        reason_token: str,
        today: date,
    ) -> None:
        """A teacher of the team goes to the child who cannot attend, so often, so long."""
        self._refuse_if_closed_or_erased()
        member = self.member(teacher)
        if member is None or member["kind"] == "volunteer":
            raise HomeTeachingRuleError("home teaching is given by a teacher of the child's team")
        if not 1 <= sessions_per_week <= MAX_SESSIONS_PER_WEEK:
            raise HomeTeachingRuleError(
                f"between 1 and {MAX_SESSIONS_PER_WEEK} sessions a week, not {sessions_per_week}"
            )
        if ends_on <= starts_on or ends_on < today:
            raise HomeTeachingRuleError("a schedule ends after it starts, and not in the past")
        self._home_teaching_scheduled(
            teacher=teacher,
            sessions_per_week=sessions_per_week,
            starts_on=starts_on.isoformat(),
            ends_on=ends_on.isoformat(),
            reason=reason_token,
        )

    @event("HomeTeachingScheduled")
    def _home_teaching_scheduled(
        self, teacher: str, sessions_per_week: int, starts_on: str, ends_on: str, reason: str
    ) -> None:
        self.home_teaching = {
            "teacher": teacher,
            "sessions_per_week": sessions_per_week,
            "starts_on": starts_on,
            "ends_on": ends_on,
            "reason": reason,
        }

    def deliver_session(
        self,
        *,
        session_id: UUID,
        delivered_on: date,
        today: date,
        hours: float,
        subject: str,
        teacher: str,
        notes_token: str,
    ) -> None:
        """A home-teaching session given, within the schedule, by a teacher of the team."""
        self._refuse_if_closed_or_erased()
        plan = self.home_teaching
        if plan is None:
            raise HomeTeachingRuleError("the child has no home-teaching schedule")
        if delivered_on > today:
            raise HomeTeachingRuleError("a session cannot be recorded before it is given")
        if not plan["starts_on"] <= delivered_on.isoformat() <= plan["ends_on"]:
            raise HomeTeachingRuleError("the session falls outside the schedule's dates")
        low, high = SESSION_HOURS
        if not low <= hours <= high:
            raise HomeTeachingRuleError(f"a session lasts {low} to {high} hours, not {hours}")
        member = self.member(teacher)
        if member is None or member["kind"] == "volunteer":
            raise HomeTeachingRuleError("sessions are given by a teacher of the child's team")
        self._session_delivered(
            session_id=str(session_id),
            delivered_on=delivered_on.isoformat(),
            hours=hours,
            subject=subject,
            teacher=teacher,
            notes=notes_token,
        )

    @event("SessionDelivered")
    def _session_delivered(
        self,
        session_id: str,
        delivered_on: str,
        hours: float,
        subject: str,
        teacher: str,
        notes: str,
    ) -> None:
        self.sessions.append(
            {
                "session_id": session_id,
                "delivered_on": delivered_on,
                "hours": hours,
                "subject": subject,
                "teacher": teacher,
                "notes": notes,
            }
        )

    def assign(self, account: str, role: str, kind: str, cleared: bool, at: datetime) -> None:
        """Put a person on the team; a volunteer only with a passed background check."""
        self._refuse_if_closed_or_erased()
        if kind == "volunteer" and not cleared:
            raise MentorNotClearedError(
                "a volunteer mentor needs a background check passed and valid today "
                "(as the volunteers service published it)"
            )
        if kind == "volunteer" and role != "mentor":
            raise DomainError("a volunteer joins a team as a mentor only")
        if role == "lead" and self.lead is not None and self.lead != account:
            self._released(account=self.lead, at=at)
        self._assigned(account=account, role=role, kind=kind, at=at)

    @event("MemberAssigned")
    def _assigned(self, account: str, role: str, kind: str, at: datetime) -> None:
        self.team[account] = {"role": role, "kind": kind}

    def release(self, account: str, at: datetime) -> None:
        """Take a person off the team (a teacher who moved school hands over)."""
        if account not in self.team:
            raise DomainError("that person is not on this file's team")
        self._released(account=account, at=at)

    @event("MemberReleased")
    def _released(self, account: str, at: datetime) -> None:
        self.team.pop(account, None)
        self.break_glass.pop(account, None)

    def record_visit(
        self,
        *,
        visit_id: UUID,
        visited_on: date,
        today: date,
        mode: str,
        visitors: list[str],
        notes_token: str,
        next_visit_on: date | None,
        recorded_by: str,
    ) -> None:
        self._refuse_if_closed_or_erased()
        if visited_on > today:
            raise VisitRuleError("a visit cannot be recorded before it happens")
        if len(visitors) < 2 or "head-teacher" not in visitors:
            raise VisitRuleError("a 1+N visit is the head teacher plus at least one other person")
        if next_visit_on is not None and next_visit_on <= visited_on:
            raise VisitRuleError("the next visit must come after this one")
        self._visited(
            visit_id=str(visit_id),
            visited_on=visited_on.isoformat(),
            mode=mode,
            visitors=sorted(visitors),
            notes=notes_token,
            next_visit_on=next_visit_on.isoformat() if next_visit_on else None,
            recorded_by=recorded_by,
        )

    @event("VisitRecorded")
    def _visited(
        self,
        visit_id: str,
        visited_on: str,
        mode: str,
        visitors: list[str],
        notes: str,
        next_visit_on: str | None,
        recorded_by: str,
    ) -> None:
        self.visits.append(
            {
                "visit_id": visit_id,
                "visited_on": visited_on,
                "mode": mode,
                "visitors": visitors,
                "notes": notes,
                "next_visit_on": next_visit_on,
                "recorded_by": recorded_by,
            }
        )

    def add_screening(self, result_id: str, level: str, screened_on: date) -> None:
        if self.erased:
            raise FileErasedError("this child's data was erased: nothing new is recorded")
        self._screened(result_id=result_id, level=level, screened_on=screened_on.isoformat())

    @event("ScreeningAdded")
    def _screened(self, result_id: str, level: str, screened_on: str) -> None:
        self.screenings.append({"result_id": result_id, "level": level, "screened_on": screened_on})

    def change_status(self, status: str, reason_token: str, at: datetime) -> None:
        if self.erased:
            raise FileErasedError("this child's data was erased: nothing new is recorded")
        if status not in TRANSITIONS.get(self.status, frozenset()):
            raise InvalidTransitionError(f"a file cannot go from {self.status} to {status}")
        self._status_changed(status=status, reason=reason_token, at=at)
        if status == "reopened" and self.next_review() is not None:
            # Closing cancelled the review deadline; reopening sets it again.
            self._review_scheduled(review_on=_iso(self.next_review()))

    @event("StatusChanged")
    def _status_changed(self, status: str, reason: str, at: datetime) -> None:
        self.status = status

    def open_break_glass(self, account: str, reason_token: str, until: datetime) -> None:
        if self.erased:
            raise FileErasedError("this child's data was erased: there is nothing to read")
        self._break_glass(
            account=account, reason=reason_token, until=until, school_id=self.school_id
        )

    @event("BreakGlassOpened")
    def _break_glass(self, account: str, reason: str, until: datetime, school_id: str) -> None:
        self.break_glass[account] = until.isoformat()

    def erase(self, at: datetime) -> bool:
        if self.erased:
            return False
        self._erased(at=at)
        return True

    @event("Erased")
    def _erased(self, at: datetime) -> None:
        self.erased_at = at
        self.break_glass.clear()


class Intake(Aggregate):
    """A child referred in by a department (sealed, opened here), waiting for a school.

    It names the file id the school will open from it (`intake_file_id`), so the data
    key that protects the child's details from arrival is the file's.
    """

    @event("Received")
    def __init__(
        self,
        id: UUID,
        file_id: UUID,
        source: str,
        reference: str,
        school_id: str,
        class_id: str,
        district_id: str,
        child_token: str,
        category: str | None,
        evidence_token: str,
        screening: dict[str, str] | None,
        received_at: datetime,
    ) -> None:
        self.file_id = file_id
        self.source = source
        self.reference = reference
        self.school_id = school_id
        self.class_id = class_id
        self.district_id = district_id
        self.child_token = child_token
        self.category = category
        self.evidence_token = evidence_token
        self.screening = screening
        self.received_at = received_at
        self.used = False

    @event("Used")
    def use(self) -> None:
        self.used = True


class Clearance(Aggregate):
    """A volunteer's background check as the volunteers service published it."""

    @staticmethod
    def create_id(volunteer_id: str) -> UUID:
        return uuid5(INTAKE_NAMESPACE, f"clearance:{volunteer_id}")

    @event("Learnt")
    def __init__(self, volunteer_id: str) -> None:
        self.volunteer_id = volunteer_id
        self.outcome: str | None = None
        self.expires_on: str | None = None

    @event("CheckLearnt")
    def learn(self, outcome: str, expires_on: str | None) -> None:
        self.outcome = outcome
        self.expires_on = expires_on

    def passed_on(self, day: date) -> bool:
        return (
            self.outcome == "passed"
            and self.expires_on is not None
            and date.fromisoformat(self.expires_on) >= day
        )


class SchoolCareLead(Aggregate):
    """Who leads care at a school: they see every file of it and get its alerts."""

    @staticmethod
    def create_id(school_id: str) -> UUID:
        return uuid5(INTAKE_NAMESPACE, f"care-lead:{school_id}")

    @event("Named")
    def __init__(self, school_id: str, account: str) -> None:
        self.school_id = school_id
        self.account = account

    def rename(self, account: str) -> None:
        self._renamed(account=account, school_id=self.school_id)

    @event("Renamed")
    def _renamed(self, account: str, school_id: str) -> None:
        self.account = account


class BreakGlassAlerts(Aggregate):
    """A school's emergency accesses, for its care lead and the district to see.

    Each alert keeps its reason as a token of the child's data key (an erased child's
    reason opens to nothing) and when the access ends.
    """

    @staticmethod
    def create_id(school_id: str) -> UUID:
        return uuid5(INTAKE_NAMESPACE, f"break-glass-alerts:{school_id}")

    @event("Started")
    def __init__(self, school_id: str) -> None:
        self.school_id = school_id
        self.alerts: list[dict[str, str]] = []

    @event("Raised")
    def raise_alert(
        self, file_id: str, account: str, reason: str, opened_at: datetime, until: datetime
    ) -> None:
        self.alerts.append(
            {
                "file_id": file_id,
                "account": account,
                "reason": reason,
                "opened_at": opened_at.isoformat(),
                "until": until.isoformat(),
            }
        )

    def since(self, start: datetime) -> list[dict[str, str]]:
        """Alerts still open at `start` or opened after it, newest first."""
        return [a for a in reversed(self.alerts) if datetime.fromisoformat(a["until"]) >= start]


class Consent(Aggregate):
    """A guardian's consent to share a child's file for a purpose with some departments."""

    @event("Granted")
    def __init__(
        self,
        file_id: UUID,
        purpose: str,
        recipients: list[str],
        guardian_token: str,
        granted_on: str,
    ) -> None:
        self.file_id = file_id
        self.purpose = purpose
        self.recipients = sorted(recipients)
        self.guardian_token = guardian_token
        self.granted_on = granted_on
        self.withdrawn_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    def covers(self, department: str, purpose: str) -> bool:
        return self.active and department in self.recipients and purpose == self.purpose

    def withdraw(self, at: datetime) -> None:
        if not self.active:
            raise ConflictError("the consent is already withdrawn")
        self._withdrawn(at=at)

    @event("Withdrawn")
    def _withdrawn(self, at: datetime) -> None:
        self.withdrawn_at = at


class Referral(Aggregate):
    """Care refers a child to a department, on a consent or a legal basis."""

    @event("Sent")
    def __init__(
        self,
        file_id: UUID,
        department: str,
        purpose: str,
        consent_id: UUID | None,
        legal_basis: str | None,
        sent_by: str,
        sent_at: datetime,
    ) -> None:
        self.file_id = file_id
        self.department = department
        self.purpose = purpose
        self.consent_id = consent_id
        self.legal_basis = legal_basis
        self.sent_by = sent_by
        self.status: str = "sent"
        self.reason_token: str | None = None

    def answer(self, status: str, reason_token: str | None, at: datetime) -> None:
        if status not in REFERRAL_TRANSITIONS[self.status]:
            raise InvalidTransitionError(f"a referral cannot go from {self.status} to {status}")
        if status == "rejected" and not reason_token:
            raise DomainError("a rejection needs a reason")
        self._answered(status=status, reason=reason_token, at=at, department=self.department)

    @event("Answered")
    def _answered(self, status: str, reason: str | None, at: datetime, department: str) -> None:
        self.status = status
        self.reason_token = reason
