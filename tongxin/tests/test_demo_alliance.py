"""The alliance's demo part: the ten tasks cover the thirteen departments, its targets are
definitions the service accepts, and every department report is a valid CloudEvent of the
department that sends it, dated inside its term."""

from __future__ import annotations

from datetime import date

from contracts.departments import load_ownership_map
from contracts.registry import BY_TYPE
from services.alliance.default_tasks import DEFAULT_TASKS
from services.alliance.domain import Selection, TargetDefinition
from services.alliance.periods import period_of
from services.kit.wire import from_structured
from tongxin.demo.alliance import TARGETS, reports_for


def test_the_ten_tasks_involve_all_thirteen_departments() -> None:
    assert len(DEFAULT_TASKS) == 10
    involved = {t.lead for t in DEFAULT_TASKS} | {d for t in DEFAULT_TASKS for d in t.supporting}
    assert involved == {d.code for d in load_ownership_map().departments}


def test_every_target_is_a_definition_the_service_accepts() -> None:
    for plan in TARGETS:
        body = plan.body("task")
        denominator = body.get("denominator")
        TargetDefinition(
            target_id="t",
            task_id="task",
            title=plan.title,
            metric=plan.metric,
            numerator=Selection(tuple(plan.numerator), plan.where or {}),
            denominator=Selection(tuple(denominator["event_types"])) if denominator else None,
            group_by=plan.group_by,
            threshold=plan.threshold,
            period=plan.period,
            about_children=False,
        ).check()


def test_reports_are_each_department_s_own_and_inside_the_term() -> None:
    term = period_of("term", date(2026, 11, 29))
    events = reports_for(term, date(2026, 11, 29), term.label)
    departments = set()
    for department, event in events:
        envelope = from_structured(event)
        assert BY_TYPE[envelope.type].department() == department
        day = next(v for k, v in event["data"].items() if k.endswith("_on"))
        assert term.starts_on <= date.fromisoformat(day) <= date(2026, 11, 29)
        departments.add(department)
    assert departments == {"jus", "sci", "wf", "fin", "pol", "civ", "hlth", "proc", "ccng"}
    assert len({e["id"] for _, e in events}) == len(events)
