"""The committees' rules, on the aggregates alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.committees.domain import (
    Committee,
    GrandparentCommitteeError,
    InvalidTimeError,
    Meeting,
    MembershipError,
    Suggestion,
    SuggestionClosedError,
    SuggestionStateError,
)
from services.kit.errors import DomainError

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def committee(level: str = "class") -> Committee:
    return Committee(
        level=level,
        scope_id="yz-dongguan-primary",
        school_id="yz-dongguan-primary",
        district="guangling",
        title="三年级二班家委会",
        grandparents=level == "village",
        term_ends_on="2027-07-31",
        formed_at=T0,
    )


def suggestion() -> Suggestion:
    s = Suggestion(
        committee_id=uuid4(),
        school_id="yz-dongguan-primary",
        district="guangling",
        member_id="p-1",
        anonymous=False,
        topic="safety",
        text="…",
        received_on="2026-12-01",
        submitted_at=T0,
    )
    s.assign("school", None, T0 + timedelta(days=21), T0)
    return s


class TestMembers:
    def test_a_parent_sits_once_and_a_committee_has_one_chair(self) -> None:
        c = committee()
        c.add_member("p-1", "chair", False, T0)
        with pytest.raises(MembershipError):
            c.add_member("p-1", "member", False, T0)
        with pytest.raises(MembershipError):
            c.add_member("p-2", "chair", False, T0)
        c.end_membership("p-1", T0)
        c.add_member("p-2", "chair", False, T0)
        assert c.members == {"p-2": "chair"}

    def test_grandparents_sit_on_village_committees(self) -> None:
        with pytest.raises(GrandparentCommitteeError):
            committee("class").add_member("g-1", "member", True, T0)
        village = committee("village")
        village.add_member("g-1", "member", True, T0)
        assert village.members == {"g-1": "member"}


class TestSuggestion:
    def test_escalates_school_district_city_and_then_only_records_the_deadline(self) -> None:
        s = suggestion()
        s.escalate(T0 + timedelta(days=42), T0 + timedelta(days=21))
        assert (s.level, s.escalations) == ("district", 1)
        s.escalate(T0 + timedelta(days=63), T0 + timedelta(days=42))
        assert s.level == "city"
        s.escalate(None, T0 + timedelta(days=63))
        assert (s.level, s.escalations, s.due_at) == ("city", 3, None)

    def test_answered_on_time_only_before_the_first_deadline(self) -> None:
        on_time = suggestion()
        assert on_time.answer_with("…", "edu", T0 + timedelta(days=3)) is True
        late = suggestion()
        late.escalate(T0 + timedelta(days=42), T0 + timedelta(days=21))
        assert late.answer_with("…", "edu", T0 + timedelta(days=22)) is False

    def test_closed_with_a_rating_from_one_to_five_and_no_answer_after(self) -> None:
        s = suggestion()
        with pytest.raises(SuggestionStateError):
            s.close(5, T0)
        s.answer_with("…", "edu", T0)
        with pytest.raises(DomainError):
            s.close(6, T0)
        s.close(2, T0)
        with pytest.raises(SuggestionClosedError):
            s.answer_with("…", "edu", T0)
        with pytest.raises(SuggestionStateError):
            s.escalate(None, T0)
        s.reopen(T0 + timedelta(days=21), T0)
        assert (s.status, s.rating) == ("assigned", None)


def test_a_meeting_ends_after_it_starts() -> None:
    with pytest.raises(InvalidTimeError):
        Meeting.check_times(T0, T0)
    Meeting.check_times(T0, T0 + timedelta(hours=1))
