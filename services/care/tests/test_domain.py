"""Rules of a care file, consents and referrals, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.care.domain import (
    CareFile,
    Consent,
    FileClosedError,
    HomeTeachingRuleError,
    InvalidTransitionError,
    MentorNotClearedError,
    Referral,
    VisitRuleError,
)
from services.kit.errors import DomainError

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def a_file() -> CareFile:
    return CareFile(
        id=uuid4(),
        school_id="s",
        class_id="c",
        district_id="d",
        source="school",
        child_token="tok",
        opened_by="lead",
        opened_at=NOW,
    )


def visit(care_file: CareFile, visitors: list[str], on: date = TODAY) -> None:
    care_file.record_visit(
        visit_id=uuid4(),
        visited_on=on,
        today=TODAY,
        mode="home",
        visitors=visitors,
        notes_token="tok",
        next_visit_on=None,
        recorded_by="lead",
    )


class TestVisits:
    def test_a_visit_is_the_head_teacher_plus_at_least_one_other(self) -> None:
        care_file = a_file()
        with pytest.raises(VisitRuleError):
            visit(care_file, ["head-teacher"])
        with pytest.raises(VisitRuleError):
            visit(care_file, ["volunteer", "subject-teacher"])
        visit(care_file, ["head-teacher", "volunteer"])
        assert len(care_file.visits) == 1

    def test_a_visit_cannot_be_recorded_before_it_happens(self) -> None:
        with pytest.raises(VisitRuleError):
            visit(a_file(), ["head-teacher", "volunteer"], on=TODAY + timedelta(days=1))


class TestCategoriesAndStatus:
    def test_unknown_categories_and_past_review_dates_are_refused(self) -> None:
        care_file = a_file()
        with pytest.raises(DomainError):
            care_file.tag("rich", "tok", TODAY + timedelta(days=30), TODAY)
        with pytest.raises(DomainError):
            care_file.tag("poor", "tok", TODAY, TODAY)
        care_file.tag("poor", "tok", TODAY + timedelta(days=30), TODAY)
        care_file.tag("left-behind", "tok", TODAY + timedelta(days=10), TODAY)
        assert care_file.next_review() == TODAY + timedelta(days=10)

    def test_a_closed_file_is_reopened_before_anything_is_recorded(self) -> None:
        care_file = a_file()
        care_file.change_status("closed", "tok", NOW)
        with pytest.raises(FileClosedError):
            visit(care_file, ["head-teacher", "volunteer"])
        with pytest.raises(InvalidTransitionError):
            care_file.change_status("open", "tok", NOW)
        care_file.change_status("reopened", "tok", NOW)
        visit(care_file, ["head-teacher", "volunteer"])


class TestTeam:
    def test_a_volunteer_mentors_only_with_a_passed_check(self) -> None:
        care_file = a_file()
        with pytest.raises(MentorNotClearedError):
            care_file.assign("v-1", "mentor", "volunteer", cleared=False, at=NOW)
        care_file.assign("v-1", "mentor", "volunteer", cleared=True, at=NOW)
        assert care_file.member("v-1") == {"role": "mentor", "kind": "volunteer"}

    def test_a_new_lead_hands_over_from_the_old_one(self) -> None:
        care_file = a_file()
        care_file.assign("t-1", "lead", "teacher", cleared=False, at=NOW)
        care_file.assign("t-2", "lead", "teacher", cleared=False, at=NOW)
        assert care_file.lead == "t-2" and care_file.member("t-1") is None


class TestConsentAndReferrals:
    def test_a_withdrawn_consent_covers_nothing(self) -> None:
        consent = Consent(
            file_id=uuid4(),
            purpose="psychological-support",
            recipients=["hlth"],
            guardian_token="tok",
            granted_on="2026-11-01",
        )
        assert consent.covers("hlth", "psychological-support")
        assert not consent.covers("jus", "psychological-support")
        consent.withdraw(NOW)
        assert not consent.covers("hlth", "psychological-support")

    def test_a_rejection_needs_a_reason_and_a_done_referral_stays_done(self) -> None:
        referral = Referral(
            file_id=uuid4(),
            department="hlth",
            purpose="psychological-support",
            consent_id=None,
            legal_basis=None,
            sent_by="lead",
            sent_at=NOW,
        )
        with pytest.raises(DomainError):
            referral.answer("rejected", None, NOW)
        referral.answer("accepted", None, NOW)
        referral.answer("done", None, NOW)
        with pytest.raises(InvalidTransitionError):
            referral.answer("revoked", None, NOW)


class TestPlan:
    def test_a_goal_sets_the_files_review_and_a_review_moves_it(self) -> None:
        care_file = a_file()
        goal = uuid4()
        care_file.set_goal(goal, "tok", TODAY + timedelta(days=30), TODAY)
        assert care_file.next_review() == TODAY + timedelta(days=30)
        care_file.review_goal(str(goal), "continued", TODAY + timedelta(days=60), "tok", TODAY)
        assert care_file.next_review() == TODAY + timedelta(days=60)
        care_file.review_goal(str(goal), "achieved", None, "tok", TODAY)
        assert care_file.next_review() is None
        scheduled = [
            e.review_on
            for e in care_file.collect_events()
            if type(e).__qualname__ == "CareFile.ReviewScheduled"
        ]
        assert scheduled == [
            (TODAY + timedelta(days=30)).isoformat(),
            (TODAY + timedelta(days=60)).isoformat(),
            None,
        ]

    def test_an_overdue_review_is_flagged_once_and_cleared_by_a_review(self) -> None:
        care_file = a_file()
        goal = uuid4()
        care_file.set_goal(goal, "tok", TODAY + timedelta(days=3), TODAY)
        assert not care_file.flag_review_overdue(TODAY + timedelta(days=3))  # not passed yet
        later = TODAY + timedelta(days=4)
        assert care_file.flag_review_overdue(later)
        assert care_file.review_overdue_on == (TODAY + timedelta(days=3)).isoformat()
        assert not care_file.flag_review_overdue(later)  # a second firing changes nothing
        care_file.review_goal(str(goal), "continued", later + timedelta(days=30), "tok", later)
        assert care_file.review_overdue_on is None

    def test_a_paper_plan_keeps_its_day_and_is_overdue_at_once(self) -> None:
        care_file = a_file()
        care_file.set_goal(
            uuid4(), "tok", TODAY - timedelta(days=5), TODAY, TODAY - timedelta(days=40)
        )
        assert care_file.flag_review_overdue(TODAY)
        with pytest.raises(DomainError):  # more than a year back
            care_file.set_goal(uuid4(), "tok", TODAY, TODAY, TODAY - timedelta(days=400))

    def test_goal_rules(self) -> None:
        care_file = a_file()
        with pytest.raises(DomainError):
            care_file.set_goal(uuid4(), "tok", TODAY, TODAY)
        goal = uuid4()
        care_file.set_goal(goal, "tok", TODAY + timedelta(days=3), TODAY)
        with pytest.raises(DomainError):
            care_file.review_goal(str(goal), "continued", None, "tok", TODAY)
        with pytest.raises(DomainError):
            care_file.review_goal(str(uuid4()), "achieved", None, "tok", TODAY)
        with pytest.raises(DomainError):
            care_file.record_follow_up(
                follow_up_id=uuid4(), on=TODAY + timedelta(days=1), today=TODAY, mode="call",
                goal_id=None, notes_token="tok", recorded_by="lead",
            )  # fmt: skip


class TestHomeTeaching:
    def schedule(self, care_file: CareFile, teacher: str = "t-1") -> None:
        care_file.schedule_home_teaching(
            teacher=teacher,
            sessions_per_week=2,
            starts_on=TODAY - timedelta(days=10),
            ends_on=TODAY + timedelta(days=80),
            reason_token="tok",
            today=TODAY,
        )

    def session(self, care_file: CareFile, on: date = TODAY, hours: float = 2.0) -> None:
        care_file.deliver_session(
            session_id=uuid4(), delivered_on=on, today=TODAY, hours=hours,
            subject="maths", teacher="t-1", notes_token="tok",
        )  # fmt: skip

    def test_a_teacher_of_the_team_teaches_within_the_schedule(self) -> None:
        care_file = a_file()
        with pytest.raises(HomeTeachingRuleError):
            self.schedule(care_file)  # not on the team
        care_file.assign("t-1", "mentor", "teacher", False, NOW)
        with pytest.raises(HomeTeachingRuleError):
            self.session(care_file)  # nothing scheduled yet
        self.schedule(care_file)
        self.session(care_file)
        assert len(care_file.sessions) == 1
        for on, hours in (
            (TODAY + timedelta(days=1), 2.0),  # in the future
            (TODAY - timedelta(days=11), 2.0),  # before the schedule
            (TODAY, 6.0),  # too long
        ):
            with pytest.raises(HomeTeachingRuleError):
                self.session(care_file, on, hours)
        assert len(care_file.sessions) == 1

    def test_a_volunteer_does_not_teach(self) -> None:
        care_file = a_file()
        care_file.assign("v-1", "mentor", "volunteer", True, NOW)
        with pytest.raises(HomeTeachingRuleError):
            self.schedule(care_file, teacher="v-1")
