"""Rules of a care file, consents and referrals, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.care.domain import (
    CareFile,
    Consent,
    FileClosedError,
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
