"""CareApplication: one method per command, each deciding on fresh state.

Personal data is encrypted with the child's own data key before it reaches an event
(the person is the file: its id names the key), so erasing a child is destroying one key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking
from pydantic import ValidationError

from contracts.city import load_city
from contracts.civil_registry import ChildReferralDetails, ChildReferredToCare
from contracts.screening import ScreeningDetails, ScreeningResultIssued
from contracts.volunteers import BackgroundCheckRecorded, VolunteerErased
from services.care.domain import (
    AlreadyUsedError,
    BreakGlassAlerts,
    CareFile,
    Clearance,
    Consent,
    Intake,
    NoBasisError,
    Referral,
    SchoolCareLead,
    intake_file_id,
    intake_id,
)
from services.kit.application import CommandKey, ServiceApplication
from services.kit.citytime import CITY_TIME, city_day
from services.kit.commands import check_version
from services.kit.deadlines import Cancel, Deadline, DeadlineRules, Schedule
from services.kit.deadlines.model import Change
from services.kit.errors import DomainError, NotFoundError
from services.kit.privacy.datakeys import ERASED, Decrypted, PersonErasedError
from services.kit.privacy.personal import PersonalData, PersonErasedProblem
from services.kit.privacy.sealing import SealError, SealingKeys

log = logging.getLogger(__name__)

BREAK_GLASS_FOR = timedelta(hours=4)
# Break-glass alerts a supervisor sees: the open ones, and those that ended this recently.
RECENT_BREAK_GLASS = timedelta(days=7)
# The file's earliest review (of a category or a goal of the plan) falls due on a
# durable deadline; when it passes unreviewed the file is flagged, and the flag is
# published for the school's care lead's and the district's worklists.
REVIEW_DUE = "review-due"


def review_deadline(review_on: date) -> datetime:
    """A review is overdue once its day has passed in the city."""
    return datetime.combine(review_on + timedelta(days=1), time(0), CITY_TIME)


def _review_scheduled(e: Any) -> Iterable[Change]:
    if e.review_on is None:
        return [Cancel(REVIEW_DUE)]
    return [Schedule(REVIEW_DUE, review_deadline(date.fromisoformat(e.review_on)))]


def _review_moot(e: Any) -> Iterable[Change]:
    if type(e).__qualname__ == "CareFile.StatusChanged" and e.status != "closed":
        return []
    return [Cancel(REVIEW_DUE)]


# Departments care refers children to, and the legal bases that let it share without a
# guardian's consent (the Minors Protection Law's duty to report and protect).
REFERRAL_DEPARTMENTS = ("hlth", "jus", "proc")
LEGAL_BASES: dict[str, frozenset[str]] = {
    "hlth": frozenset(),
    "jus": frozenset({"minors-protection-law"}),
    "proc": frozenset({"minors-protection-law", "mandatory-report"}),
}


class CareApplication(ServiceApplication):
    name = "care"
    deadlines = DeadlineRules(
        rules={
            "CareFile.ReviewScheduled": _review_scheduled,
            "CareFile.StatusChanged": _review_moot,
            "CareFile.Erased": _review_moot,
        },
        handlers={REVIEW_DUE: "flag_overdue_review"},
    )
    personal: PersonalData | None = None
    sealing: SealingKeys | None = None

    @property
    def privacy(self) -> PersonalData:
        if self.personal is None:
            raise RuntimeError("the care application needs its PersonalData (personal)")
        return self.personal

    def now(self) -> datetime:
        # Every rule about time reads the deadlines' clock, so that a test moves the day
        # for the rules and the deadlines at once (TONGXIN_CLOCK_FILE).
        return self.deadline_clock.now()

    def today(self) -> date:
        return city_day(self.now())

    # -- personal data ------------------------------------------------------------------
    def seal_field(self, file_id: UUID, field: str, value: str) -> str:
        try:
            return self.privacy.keys.encrypt(str(file_id), field, value)
        except PersonErasedError:
            raise PersonErasedProblem(
                "this child's personal data was erased: nothing new is kept about them"
            ) from None

    def open_field(self, file_id: UUID, field: str, token: str | None) -> Decrypted | None:
        if token is None:
            return None
        return self.privacy.keys.decrypt(token, field=field, person_id=str(file_id))

    # -- queries ------------------------------------------------------------------------
    def file(self, file_id: UUID) -> CareFile:
        return self.get(file_id, CareFile)

    def intake(self, intake_id: UUID) -> Intake:
        return self.get(intake_id, Intake)

    def referral(self, referral_id: UUID) -> Referral:
        return self.get(referral_id, Referral)

    def consent(self, consent_id: UUID) -> Consent:
        return self.get(consent_id, Consent)

    def care_lead(self, school_id: str) -> str | None:
        try:
            lead: SchoolCareLead = self.get(SchoolCareLead.create_id(school_id), SchoolCareLead)
        except NotFoundError:
            return None
        return lead.account

    def cleared(self, volunteer_id: str) -> bool:
        try:
            clearance: Clearance = self.get(Clearance.create_id(volunteer_id), Clearance)
        except NotFoundError:
            return False
        return clearance.passed_on(self.today())

    # -- commands -----------------------------------------------------------------------
    def name_care_lead(
        self, key: CommandKey | None, school_id: str, account: str
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            try:
                lead: SchoolCareLead = self.get(SchoolCareLead.create_id(school_id), SchoolCareLead)
                lead.rename(account)
            except NotFoundError:
                lead = SchoolCareLead(school_id=school_id, account=account)
            return [lead], {"school_id": school_id, "account": account}

        return self.run_command(key, decide)

    def open_file(
        self,
        key: CommandKey | None,
        *,
        opened_by: str,
        school_id: str,
        class_id: str,
        district_id: str,
        name: str,
        category: str | None = None,
        evidence: str | None = None,
        review_on: date | None = None,
        lead: str | None = None,
    ) -> dict[str, Any]:
        """Open a file; the enrolment check's category and the head teacher may come with it."""
        file_id = uuid4()
        child = self.seal_field(file_id, "name", name)
        evidence_token = self.seal_field(file_id, "evidence", evidence) if evidence else ""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = CareFile(
                id=file_id,
                school_id=school_id,
                class_id=class_id,
                district_id=district_id,
                source="school",
                child_token=child,
                opened_by=opened_by,
                opened_at=self.now(),
            )
            if category is not None and review_on is not None:
                care_file.tag(category, evidence_token, review_on, self.today())
            if lead is not None:
                care_file.assign(lead, "lead", "teacher", False, self.now())
            return [care_file], _changed(care_file)

        return self.run_command(key, decide)

    def open_file_from_intake(
        self, key: CommandKey | None, intake_id: UUID, opened_by: str
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            intake = self.intake(intake_id)
            if intake.used:
                raise AlreadyUsedError("a file was already opened from this intake")
            intake.use()
            care_file = CareFile(
                id=intake.file_id,
                school_id=intake.school_id,
                class_id=intake.class_id,
                district_id=intake.district_id,
                source=intake.source,
                child_token=intake.child_token,
                opened_by=opened_by,
                opened_at=self.now(),
            )
            today = self.today()
            if intake.category:
                care_file.tag(
                    intake.category,
                    intake.evidence_token,
                    today + timedelta(days=90),
                    today,
                )
            if intake.screening:
                care_file.add_screening(
                    intake.screening["result_id"],
                    intake.screening["level"],
                    date.fromisoformat(intake.screening["screened_on"]),
                )
            return [intake, care_file], _changed(care_file)

        return self.run_command(key, decide)

    def tag(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        category: str,
        evidence: str,
        review_on: date,
        expected_version: int | None,
    ) -> dict[str, Any]:
        evidence_token = self.seal_field(file_id, "evidence", evidence)

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            check_version(care_file, expected_version)
            care_file.tag(category, evidence_token, review_on, self.today())
            return [care_file], _changed(care_file)

        return self.run_command(key, decide)

    def review(
        self, key: CommandKey | None, file_id: UUID, *, category: str, next_review_on: date
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            care_file.review(category, next_review_on, self.today())
            return [care_file], _changed(care_file)

        return self.run_command(key, decide)

    def assign(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        account: str,
        role: str,
        kind: str,
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            cleared = kind == "volunteer" and self.cleared(account)
            care_file.assign(account, role, kind, cleared, self.now())
            return [care_file], _changed(care_file)

        return self.run_command(key, decide)

    def release(self, key: CommandKey | None, file_id: UUID, account: str) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            care_file.release(account, self.now())
            return [care_file], _changed(care_file)

        return self.run_command(key, decide)

    def record_visit(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        visited_on: date,
        mode: str,
        visitors: list[str],
        notes: str,
        next_visit_on: date | None,
        recorded_by: str,
    ) -> dict[str, Any]:
        notes_token = self.seal_field(file_id, "visit_notes", notes)
        visit_id = uuid4()

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            care_file.record_visit(
                visit_id=visit_id,
                visited_on=visited_on,
                today=self.today(),
                mode=mode,
                visitors=visitors,
                notes_token=notes_token,
                next_visit_on=next_visit_on,
                recorded_by=recorded_by,
            )
            return [care_file], _changed(care_file) | {"visit_id": str(visit_id)}

        return self.run_command(key, decide)

    def change_status(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        status: str,
        reason: str,
        expected_version: int | None,
    ) -> dict[str, Any]:
        reason_token = self.seal_field(file_id, "status_reason", reason)

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            check_version(care_file, expected_version)
            care_file.change_status(status, reason_token, self.now())
            return [care_file], _changed(care_file)

        return self.run_command(key, decide)

    def break_glass(
        self, key: CommandKey | None, file_id: UUID, *, account: str, reason: str
    ) -> dict[str, Any]:
        reason_token = self.seal_field(file_id, "break_glass_reason", reason)

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            now = self.now()
            until = now + BREAK_GLASS_FOR
            care_file.open_break_glass(account, reason_token, until)
            alerts = self._alerts(care_file.school_id)
            alerts.raise_alert(str(file_id), account, reason_token, now, until)
            return [care_file, alerts], _changed(care_file) | {"until": until.isoformat()}

        return self.run_command(key, decide)

    def _alerts(self, school_id: str) -> BreakGlassAlerts:
        try:
            alerts: BreakGlassAlerts = self.get(
                BreakGlassAlerts.create_id(school_id), BreakGlassAlerts
            )
        except NotFoundError:
            alerts = BreakGlassAlerts(school_id=school_id)
        return alerts

    def break_glass_alerts(self, school_id: str) -> list[dict[str, Any]]:
        """The school's emergency accesses still open or ended within RECENT_BREAK_GLASS,
        newest first, each reason opened with its child's key (null once erased)."""
        now = self.now()
        found = []
        for alert in self._alerts(school_id).since(now - RECENT_BREAK_GLASS):
            file_id = UUID(alert["file_id"])
            reason = self.open_field(file_id, "break_glass_reason", alert["reason"])
            found.append(
                {
                    "file_id": alert["file_id"],
                    "account": alert["account"],
                    "reason": None if reason is None or reason is ERASED else str(reason),
                    "opened_at": alert["opened_at"],
                    "until": alert["until"],
                    "open": datetime.fromisoformat(alert["until"]) > now,
                }
            )
        return found

    # -- plan, follow-ups, home-delivered teaching --------------------------------------
    def set_goal(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        goal: str,
        review_on: date,
        set_on: date | None = None,
    ) -> dict[str, Any]:
        goal_id = uuid4()
        text_token = self.seal_field(file_id, "goal", goal)

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            care_file.set_goal(goal_id, text_token, review_on, self.today(), set_on)
            return [care_file], _changed(care_file) | {"goal_id": str(goal_id)}

        return self.run_command(key, decide)

    def review_goal(
        self,
        key: CommandKey | None,
        file_id: UUID,
        goal_id: UUID,
        *,
        outcome: str,
        next_review_on: date | None,
        note: str,
    ) -> dict[str, Any]:
        note_token = self.seal_field(file_id, "goal_review", note)

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            care_file.review_goal(str(goal_id), outcome, next_review_on, note_token, self.today())
            return [care_file], _changed(care_file) | {"goal_id": str(goal_id)}

        return self.run_command(key, decide)

    def record_follow_up(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        on: date,
        mode: str,
        goal_id: UUID | None,
        notes: str,
        recorded_by: str,
    ) -> dict[str, Any]:
        notes_token = self.seal_field(file_id, "follow_up_notes", notes)
        follow_up_id = uuid4()

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            care_file.record_follow_up(
                follow_up_id=follow_up_id,
                on=on,
                today=self.today(),
                mode=mode,
                goal_id=str(goal_id) if goal_id else None,
                notes_token=notes_token,
                recorded_by=recorded_by,
            )
            return [care_file], _changed(care_file) | {"follow_up_id": str(follow_up_id)}

        return self.run_command(key, decide)

    def schedule_home_teaching(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        teacher: str,
        sessions_per_week: int,
        starts_on: date,
        ends_on: date,
        reason: str,
    ) -> dict[str, Any]:
        reason_token = self.seal_field(file_id, "home_teaching_reason", reason)

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            care_file.schedule_home_teaching(
                teacher=teacher,
                sessions_per_week=sessions_per_week,
                starts_on=starts_on,
                ends_on=ends_on,
                reason_token=reason_token,
                today=self.today(),
            )
            return [care_file], _changed(care_file)

        return self.run_command(key, decide)

    def deliver_session(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        delivered_on: date,
        hours: float,
        subject: str,
        teacher: str,
        notes: str,
    ) -> dict[str, Any]:
        notes_token = self.seal_field(file_id, "session_notes", notes)
        session_id = uuid4()

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            care_file.deliver_session(
                session_id=session_id,
                delivered_on=delivered_on,
                today=self.today(),
                hours=hours,
                subject=subject,
                teacher=teacher,
                notes_token=notes_token,
            )
            return [care_file], _changed(care_file) | {
                "session_id": str(session_id),
                "sessions": len(care_file.sessions),
            }

        return self.run_command(key, decide)

    def flag_overdue_review(self, deadline: Deadline) -> dict[str, Any]:
        """The review-due deadline fell: flag the file's passed review (if still passed)."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(deadline.owner_id)
            flagged = care_file.flag_review_overdue(self.today())
            return ([care_file] if flagged else []), _changed(care_file)

        return self.run_command(CommandKey.of_deadline(deadline), decide, fired=deadline)

    def erase(self, key: CommandKey | None, file_id: UUID) -> dict[str, Any]:
        """Destroy the child's data key, then record the erasure (see volunteers' erase)."""
        self.file(file_id)
        self.privacy.keys.erase(str(file_id))

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            changed = care_file.erase(self.now())
            return ([care_file] if changed else []), _changed(care_file)

        return self.run_command(key, decide)

    def grant_consent(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        purpose: str,
        recipients: list[str],
        guardian: str,
        granted_on: date,
    ) -> dict[str, Any]:
        guardian_token = self.seal_field(file_id, "guardian", guardian)

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            if care_file.erased:
                raise PersonErasedProblem("this child's personal data was erased")
            if granted_on > self.today():
                raise DomainError("consent cannot be dated in the future")
            consent = Consent(
                file_id=file_id,
                purpose=purpose,
                recipients=recipients,
                guardian_token=guardian_token,
                granted_on=granted_on.isoformat(),
            )
            return [consent], {"consent_id": str(consent.id), "version": consent.version}

        return self.run_command(key, decide)

    def withdraw_consent(self, key: CommandKey | None, consent_id: UUID) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            consent = self.consent(consent_id)
            consent.withdraw(self.now())
            return [consent], {"consent_id": str(consent_id), "version": consent.version}

        return self.run_command(key, decide)

    def send_referral(
        self,
        key: CommandKey | None,
        file_id: UUID,
        *,
        department: str,
        purpose: str,
        consent_id: UUID | None,
        legal_basis: str | None,
        sent_by: str,
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            care_file = self.file(file_id)
            if care_file.erased:
                raise PersonErasedProblem("this child's personal data was erased")
            self.check_basis(file_id, department, purpose, consent_id, legal_basis)
            referral = Referral(
                file_id=file_id,
                department=department,
                purpose=purpose,
                consent_id=consent_id,
                legal_basis=legal_basis,
                sent_by=sent_by,
                sent_at=self.now(),
            )
            return [referral], _referral(referral)

        return self.run_command(key, decide)

    def check_basis(
        self,
        file_id: UUID,
        department: str,
        purpose: str,
        consent_id: UUID | None,
        legal_basis: str | None,
    ) -> None:
        """Sharing needs, now, a legal basis for that department or a consent covering it."""
        if department not in REFERRAL_DEPARTMENTS:
            raise DomainError(
                f"care refers to {', '.join(REFERRAL_DEPARTMENTS)} only, not {department!r}"
            )
        if legal_basis is not None:
            if legal_basis not in LEGAL_BASES[department]:
                raise NoBasisError(f"{legal_basis!r} is not a legal basis for {department}")
            return
        if consent_id is None:
            raise NoBasisError("a referral needs a guardian's consent or a legal basis")
        try:
            consent = self.consent(consent_id)
        except NotFoundError:
            raise NoBasisError("the consent named does not exist") from None
        if consent.file_id != file_id or not consent.covers(department, purpose):
            raise NoBasisError(
                "the consent does not (or no longer) cover sharing with "
                f"{department} for {purpose!r}"
            )

    def answer_referral(
        self, key: CommandKey | None, referral_id: UUID, *, status: str, reason: str | None
    ) -> dict[str, Any]:
        referral = self.referral(referral_id)
        reason_token = (
            self.seal_field(referral.file_id, "referral_reason", reason) if reason else None
        )

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            fresh = self.referral(referral_id)
            fresh.answer(status, reason_token, self.now())
            return [fresh], _referral(fresh)

        return self.run_command(key, decide)

    # -- reactions ----------------------------------------------------------------------
    def receive_referrals(
        self,
        consumer: str,
        position: int,
        events: Sequence[ChildReferredToCare | ScreeningResultIssued],
    ) -> None:
        """Open each sealed referral or screening result and keep it as an intake.

        One that cannot be opened or read (sealed to another key, malformed) is logged and
        skipped: the department must send it again; nothing of it is kept.
        """
        intakes: dict[UUID, Intake] = {}
        for received in events:
            try:
                intake = self._intake_of(received)
            except (SealError, ValidationError, ValueError) as exc:
                log.warning("ignored %s: %s", type(received).__name__, _first_line(exc))
                continue
            if intake is not None:
                intakes[intake.id] = intake
        self.save_tracked(Tracking(consumer, position), *intakes.values())

    def _intake_of(self, received: ChildReferredToCare | ScreeningResultIssued) -> Intake | None:
        if self.sealing is None:
            raise RuntimeError("the care application needs its sealing keys (sealing)")
        if isinstance(received, ChildReferredToCare):
            source, reference = "civ", received.referral_id
            details: ChildReferralDetails | ScreeningDetails = ChildReferralDetails.model_validate(
                json.loads(self.sealing.open(received.child))
            )
        else:
            source, reference = "hlth", received.result_id
            details = ScreeningDetails.model_validate(
                json.loads(self.sealing.open(received.result))
            )
        kept_as = intake_id(source, reference)
        file_id = intake_file_id(source, reference)
        try:
            self.intake(kept_as)
            return None  # already received: a redelivery
        except NotFoundError:
            pass
        # The city's list decides a known school's district; the sender's word, otherwise.
        place = load_city().district_of(details.school_id)
        district = place.code if place is not None else details.district_id
        if district is None:
            raise ValueError(f"school {details.school_id!r} is unknown and no district given")
        evidence = details.evidence if isinstance(details, ChildReferralDetails) else ""
        category = details.category if isinstance(details, ChildReferralDetails) else "screening"
        screening = (
            {
                "result_id": reference,
                "level": details.level,
                "screened_on": details.screened_on.isoformat(),
            }
            if isinstance(details, ScreeningDetails)
            else None
        )
        return Intake(
            id=kept_as,
            file_id=file_id,
            source=source,
            reference=reference,
            school_id=details.school_id,
            class_id=details.class_id,
            district_id=district,
            child_token=self.seal_field(file_id, "name", details.name),
            category=category,
            evidence_token=self.seal_field(file_id, "evidence", evidence),
            screening=screening,
            received_at=self.now(),
        )

    def learn_checks(
        self,
        consumer: str,
        position: int,
        events: Sequence[BackgroundCheckRecorded | VolunteerErased],
    ) -> None:
        """What the volunteers service published about background checks, per volunteer."""
        touched: dict[UUID, Clearance] = {}
        for received in events:
            clearance_id = Clearance.create_id(received.volunteer_id)
            clearance = touched.get(clearance_id)
            if clearance is None:
                try:
                    clearance = self.get(clearance_id, Clearance)
                except NotFoundError:
                    clearance = Clearance(volunteer_id=received.volunteer_id)
                touched[clearance_id] = clearance
            if isinstance(received, VolunteerErased):
                clearance.learn("erased", None)
            else:
                expires = received.expires_on.isoformat() if received.expires_on else None
                clearance.learn(received.outcome, expires)
        self.save_tracked(Tracking(consumer, position), *touched.values())


def _changed(care_file: CareFile) -> dict[str, Any]:
    return {"file_id": str(care_file.id), "status": care_file.status, "version": care_file.version}


def _referral(referral: Referral) -> dict[str, Any]:
    return {
        "referral_id": str(referral.id),
        "department": referral.department,
        "status": referral.status,
        "version": referral.version,
    }


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


__all__ = ["ERASED", "CareApplication"]
