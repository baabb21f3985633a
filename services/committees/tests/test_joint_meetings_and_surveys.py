"""Joint meetings' action items and satisfaction surveys, on the aggregates alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.committees.domain import (
    MEAN_FROM,
    SURVEY_QUESTIONS,
    ActionItem,
    ActionItemError,
    InvalidTimeError,
    JointMeeting,
    NotAssignedError,
    Survey,
    SurveyClosedError,
)
from services.kit.errors import DomainError

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def meeting() -> JointMeeting:
    return JointMeeting(
        convened_by="district",
        district="321002",
        title="广陵区联席会议",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
        departments=["edu", "jus", "pol"],
        schools=[],
        committees=[],
    )


def item(convened_by: str = "district") -> ActionItem:
    return ActionItem(
        joint_meeting_id=meeting().id,
        convened_by=convened_by,
        district="321002",
        title="法治讲座进校园",
        lead="jus",
        supporters=["edu"],
        due_at=T0 + timedelta(days=30),
        at=T0,
    )


class TestAssignment:
    def test_an_item_is_due_after_the_meeting_to_departments_at_the_table(self) -> None:
        m = meeting()
        m.check_assignment("jus", ["edu"], T0 + timedelta(days=1))
        with pytest.raises(InvalidTimeError):
            m.check_assignment("jus", [], T0 + timedelta(hours=1))
        with pytest.raises(DomainError, match="hlth"):
            m.check_assignment("hlth", [], T0 + timedelta(days=1))
        with pytest.raises(DomainError):
            m.check_assignment("jus", ["jus"], T0 + timedelta(days=1))


class TestProgress:
    def test_only_the_lead_and_supporters_report_and_only_the_lead_finishes(self) -> None:
        a = item()
        with pytest.raises(NotAssignedError):
            a.report("pol", 50, False, "x", "service", T0)
        with pytest.raises(NotAssignedError):
            a.report("edu", 100, True, "x", "service", T0)
        assert a.report("edu", 50, False, "已排课", "service", T0)
        assert a.report("jus", 0, True, "完成", "department-system", T0, report_id="r1")
        assert (a.percent, a.done) == (100, True)
        # The same report again records nothing; a new one on a done item is refused.
        assert not a.report("jus", 0, True, "完成", "department-system", T0, report_id="r1")
        with pytest.raises(ActionItemError):
            a.report("jus", 10, False, "x", "service", T0)

    def test_completion_is_on_time_by_the_due_time(self) -> None:
        a = item()
        a.report("jus", 0, True, "完成", "service", T0 + timedelta(days=31))
        completed = [e for e in a.collect_events() if type(e).__name__ == "Completed"]
        assert [e.on_time for e in completed] == [False]  # type: ignore[attr-defined]


class TestEscalation:
    def test_an_open_item_escalates_once_above_its_convenor(self) -> None:
        a = item("district")
        a.escalate(T0 + timedelta(days=31))
        assert a.escalated
        with pytest.raises(ActionItemError):
            a.escalate(T0 + timedelta(days=32))
        [escalated] = [e for e in a.collect_events() if type(e).__name__ == "Escalated"]
        assert escalated.to_level == "city"  # type: ignore[attr-defined]
        done = item("city")
        done.report("jus", 0, True, "完成", "service", T0)
        with pytest.raises(ActionItemError):
            done.escalate(T0 + timedelta(days=31))


def survey() -> Survey:
    return Survey(
        school_id="yz-dongguan-primary",
        term="2026-autumn",
        district="321002",
        closes_at=T0 + timedelta(days=30),
        guard_salt="token",
        at=T0,
    )


class TestSurvey:
    def test_one_survey_per_school_and_term(self) -> None:
        assert survey().id == survey().id
        other = Survey.create_id(school_id="yz-dongguan-primary", term="2027-spring")
        assert other != survey().id

    def test_answers_score_every_question_from_1_to_5(self) -> None:
        s = survey()
        with pytest.raises(DomainError):
            s.answer(dict.fromkeys(SURVEY_QUESTIONS, 6), T0)
        with pytest.raises(DomainError):
            s.answer({"overall": 5}, T0)
        s.answer(dict.fromkeys(SURVEY_QUESTIONS, 4), T0)
        assert s.responses == 1

    def test_means_only_over_enough_answers_and_no_answers_once_closed(self) -> None:
        s = survey()
        for n in range(MEAN_FROM):
            s.answer(dict.fromkeys(SURVEY_QUESTIONS, 5 if n % 2 else 4), T0)
            assert (s.means() == {}) == (n + 1 < MEAN_FROM)
        assert s.means()["overall"] == 4.5
        with pytest.raises(SurveyClosedError):
            s.answer(dict.fromkeys(SURVEY_QUESTIONS, 4), T0 + timedelta(days=31))
        s.close(T0)
        with pytest.raises(SurveyClosedError):
            s.answer(dict.fromkeys(SURVEY_QUESTIONS, 4), T0)
