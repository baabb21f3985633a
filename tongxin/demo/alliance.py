"""The alliance's part of the demo city: the default ten key tasks across the thirteen
departments, milestones, targets wired to the volunteers' events and to the departments'
own reports, a lecture campaign with a quota per school, and last term's assessment closed.

Every department system publishes its reports with its own credential: on NATS when the
run has the department's account, else through the ingest with a department token.
Idempotency keys are `demo-alliance-<step>-<n>`; report ids are fixed, so a second load
stores each report once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from contracts import care, checks, committees, courses, reports, resources, volunteers
from contracts.city import load_city
from services.alliance.default_tasks import DEFAULT_TASKS
from services.alliance.periods import Period, period_of
from tongxin.demo import DemoRun
from tongxin.demo.core import CST, Api, DemoError, publish_department_events

ADMIN_SUBJECT = "demo-alliance-admin"

# The city's schools (contracts/city.json), each in its district.
SCHOOLS: dict[str, str] = {school.id: school.district for school in load_city().schools}
# Communities (社区) where the Women's Federation and Civil Affairs work, by district code.
COMMUNITIES = {"wanfu": "321002", "shuangqiao": "321003", "xiannv": "321012"}


@dataclass(frozen=True)
class TargetPlan:
    task: str
    title: str
    metric: str
    numerator: list[str]
    group_by: str
    threshold: float
    period: str
    where: dict[str, str] | None = None
    denominator: list[str] | None = None
    about_children: bool = False

    def body(self, task_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "task_id": task_id,
            "title": self.title,
            "metric": self.metric,
            "numerator": {"event_types": self.numerator, "where": self.where or {}},
            "group_by": self.group_by,
            "threshold": self.threshold,
            "period": self.period,
        }
        if self.about_children:
            body["about_children"] = True
        if self.denominator:
            body["denominator"] = {"event_types": self.denominator}
        return body


LECTURE = reports.LegalLectureGiven.event_type()
PROTECTION = reports.ProtectionLectureGiven.event_type()
TARGETS: tuple[TargetPlan, ...] = (
    TargetPlan("T04", "每校志愿服务≥4小时/学期 Volunteer hours per school, 4+ a term", "sum",
               [volunteers.VolunteerCheckedOut.event_type()], "school", 4, "term"),
    TargetPlan("T04", "每校有面向儿童的岗位 A child-facing post at every school", "count",
               [volunteers.ShiftPublished.event_type()], "school", 1, "term",
               where={"child_facing": "true"}),
    TargetPlan("T04", "背景审查通过率≥90% Background checks passed, 90%+", "share",
               [checks.BackgroundCheckCompleted.event_type()], "city", 90, "school-year",
               where={"outcome": "passed"},
               denominator=[checks.BackgroundCheckCompleted.event_type()]),
    TargetPlan("T06", "每校每学期两次安全演练 Two safety drills a term at every school", "count",
               [reports.SafetyDrillSupervised.event_type()], "school", 2, "term"),
    TargetPlan("T06", "每校每学期一场法治讲座 A legal lecture a term at every school", "count",
               [LECTURE], "school", 1, "term"),
    TargetPlan("T05", "每区每学期指导≥100户 100+ families guided per district a term", "sum",
               [reports.GuidanceSessionHeld.event_type()], "district", 100, "term"),
    TargetPlan("T09", "科技副校长每年到校 A science vice-principal visit a year per school",
               "count", [reports.VicePrincipalVisited.event_type()], "school", 1, "school-year"),
    TargetPlan("T09", "健康副校长每学期讲座 A health talk a term per school", "count",
               [reports.HealthTalkGiven.event_type()], "school", 1, "term"),
    TargetPlan("T10", "联盟基金拨付 Alliance fund paid per district (yuan, year)", "sum",
               [reports.FundGrantMade.event_type()], "district", 50_000, "calendar-year"),
    TargetPlan("T08", "每学期复核儿童登记 Registers reviewed in every district a term", "count",
               [reports.RegisterReviewed.event_type()], "district", 1, "term"),
    TargetPlan("T03", "五老活动每区每学期≥2次 Five-elders activities, 2+ per district a term",
               "count", [reports.EldersActivityHeld.event_type()], "district", 2, "term"),
    # The newer services' own events (contracts/care.py, courses.py, resources.py,
    # committees.py declare them measurable); figures fill as their demo parts load.
    TargetPlan("T08", "在册儿童本学年家访全覆盖 Every family in care visited this school year",
               "coverage", [care.HomeVisitRecorded.event_type()], "city", 100, "school-year",
               denominator=[care.FileOpened.event_type()], about_children=True),
    TargetPlan("T05", "家长到课 Parents' attendance at sessions, by school, 10+ a term", "count",
               [courses.PointsAwarded.event_type()], "school", 10, "term",
               where={"activity": "attendance"}),
    TargetPlan("T02", "每校每学期家长课堂 A parent-school session a term at every school",
               "count", [courses.SessionScheduled.event_type()], "school", 1, "term"),
    TargetPlan("T01", "场馆研学完成 Venue visits completed per district, 2+ a term", "count",
               [resources.VisitCompleted.event_type()], "district", 2, "term"),
    TargetPlan("T10", "家委会建议按时答复≥90% Committee suggestions answered on time, 90%+",
               "share", [committees.SuggestionAnswered.event_type()], "unit", 90, "school-year",
               where={"on_time": "true"},
               denominator=[committees.SuggestionAnswered.event_type()]),
)  # fmt: skip

MILESTONES: tuple[tuple[str, str, str, int, int | None], ...] = (
    # (task, title, answerable, due: days after the current term starts, reached: days
    # after the term starts, or None when not done)
    ("T01", "发布育人地图第一版 First edition of the learning map", "cult", 20, 15),
    ("T02", "社区家长学校挂牌 Community parent schools signed up", "wf", 40, 45),
    ("T03", "班主任轮训第一批 First batch of head teachers trained", "edu", 30, 28),
    ("T04", "护学岗人员全部审查 Every safety-post volunteer checked", "pol", 25, 20),
    ("T05", "讲座菜单发布 Lecture menu published", "wf", 15, 10),
    ("T06", "法治副校长全覆盖 A rule-of-law vice-principal at every school", "jus", 60, None),
    ("T07", "运河研学线路 Grand Canal study-tour routes", "cult", 50, None),
    ("T08", "特殊群体建档 Files opened for children in need", "civ", 35, 33),
    ("T09", "科技副校长聘任 Science vice-principals appointed", "sci", 30, 40),
    ("T10", "联席会议第一次会议 First joint meeting", "edu", 10, 9),
)


def _department_of(event_type: str) -> str:
    from contracts.registry import BY_TYPE

    return BY_TYPE[event_type].department()


def reports_for(term: Period, last_day: date, label: str) -> list[tuple[str, dict[str, Any]]]:
    """(department, structured CloudEvent) of the department reports over one term."""
    span = max((last_day - term.starts_on).days, 0)

    def day(k: int) -> date:
        return term.starts_on + timedelta(days=min(k, span))

    events: list[tuple[str, dict[str, Any]]] = []

    def add(cls: Any, n: int, data: dict[str, Any]) -> None:
        event_type = cls.event_type()
        department = _department_of(event_type)
        report_id = f"demo-{label}-{cls.event_name}-{n}"
        data = {"report_id": report_id, **data}
        at = datetime.combine(term.starts_on, datetime.min.time(), CST).isoformat()
        events.append(
            (
                department,
                {
                    "specversion": "1.0",
                    "id": report_id,
                    "source": f"/{department}/{cls.boundary}",
                    "type": event_type,
                    "time": at,
                    "datacontenttype": "application/json",
                    "data": data,
                },
            )
        )

    schools = list(SCHOOLS.items())
    for n, (school, district) in enumerate(schools):
        place = {"school_id": school, "district_id": district}
        add(reports.LegalLectureGiven, n, {**place, "held_on": day(10 + n).isoformat(),
            "audience": "families", "attendance": 120 + 10 * n})  # fmt: skip
        # Two drills at most schools; the last school has held one so far.
        for k in range(1 if n == len(schools) - 1 else 2):
            kind = ("fire", "earthquake")[k]
            held_on = day(5 + 30 * k + n).isoformat()
            add(
                reports.SafetyDrillSupervised,
                2 * n + k,
                {**place, "held_on": held_on, "kind": kind},
            )
        if n % 2 == 0:
            add(reports.HealthTalkGiven, n, {**place, "held_on": day(12 + n).isoformat(),
                "topic": "mental-health"})  # fmt: skip
            add(reports.ProtectionLectureGiven, n, {**place, "held_on": day(20 + n).isoformat()})
        if n < 4:
            add(reports.VicePrincipalVisited, n, {**place, "visited_on": day(15 + n).isoformat()})
        add(reports.FundGrantMade, n, {**place, "granted_on": day(3 + n).isoformat(),
            "purpose": "activity-subsidy", "amount_yuan": 20_000.0})  # fmt: skip
    for n, (community, district) in enumerate(COMMUNITIES.items()):
        add(reports.GuidanceSessionHeld, n, {"community_id": community, "district_id": district,
            "held_on": day(8 + n).isoformat(), "kind": "community-parent-school",
            "families": 40 + 35 * n})  # fmt: skip
        add(reports.RegisterReviewed, n, {"community_id": community, "district_id": district,
            "reviewed_on": day(25 + n).isoformat(), "children": 12 + n})  # fmt: skip
        for k in range(2 if n else 1):
            add(reports.EldersActivityHeld, 2 * n + k, {"team_id": f"elders-{community}",
                "district_id": district, "held_on": day(18 + 7 * k).isoformat(),
                "elders": 6 + k})  # fmt: skip
    return events


def load(run: DemoRun) -> dict[str, Any]:
    """The alliance's part; what it returns is kept in its "loaded" marker."""
    today = run.anchor.astimezone(CST).date()
    term = period_of("term", today)
    last_term = term.previous()
    admin = run.api(
        run.issuer.token(
            role="admin", subject=ADMIN_SUBJECT, department="edu", scope="city", ttl_s=3600
        )
    )
    url = run.endpoints.of("alliance")

    task_ids: dict[str, str] = {}
    for n, task in enumerate(DEFAULT_TASKS, 1):
        answer = admin.send(
            "POST",
            f"{url}/tasks",
            key=f"demo-alliance-task-{n}",
            json_body={
                "code": task.code,
                "title": task.title,
                "action": task.action,
                "lead": task.lead,
                "supporting": list(task.supporting),
                "starts_on": last_term.starts_on.isoformat(),
                "ends_on": date(term.ends_on.year + 2, 8, 31).isoformat(),
            },
        )
        task_ids[task.code] = answer["task_id"]
    for n, (code, title, answerable, due, reached) in enumerate(MILESTONES, 1):
        due_on = term.starts_on + timedelta(days=due)
        answer = admin.send(
            "POST",
            f"{url}/tasks/{task_ids[code]}/milestones",
            key=f"demo-alliance-milestone-{n}",
            json_body={"title": title, "answerable": answerable, "due_on": due_on.isoformat()},
        )
        if reached is not None and term.starts_on + timedelta(days=reached) <= today:
            reached_on = term.starts_on + timedelta(days=reached)
            admin.send(
                "POST",
                f"{url}/milestones/{answer['milestone_id']}/reached",
                key=f"demo-alliance-reached-{n}",
                json_body={"reached_on": reached_on.isoformat()},
            )
    for n, target in enumerate(TARGETS, 1):
        admin.send(
            "POST",
            f"{url}/targets",
            key=f"demo-alliance-target-{n}",
            json_body=target.body(task_ids[target.task]),
        )
    admin.send(
        "POST",
        f"{url}/campaigns",
        key="demo-alliance-campaign-1",
        json_body={
            "task_id": task_ids["T05"],
            "title": "百场讲座进万家 Two lectures a term at every school",
            "counts": {"event_types": [LECTURE, PROTECTION]},
            "unit": "school",
            "units": list(SCHOOLS),
            "quota": 2,
            "period": "term",
        },
    )

    published = _publish(run, reports_for(last_term, last_term.ends_on, last_term.label))
    published += _publish(run, reports_for(term, today, term.label))
    _wait_counted(admin, url, today, published, run.travel_timeout_s)
    answer = admin.send(
        "POST",
        f"{url}/assessments",
        key=f"demo-alliance-assessment-{last_term.label}",
        json_body={"period": last_term.label},
        expect=(201, 409),
    )
    run.console.print(
        f"demo loaded: {len(task_ids)} key tasks, {len(TARGETS)} targets, "
        f"{published} department reports, assessment {last_term.label} closed"
    )
    return {
        "tasks": task_ids,
        "reports": published,
        "assessment": answer.get("period", last_term.label),
    }


def _publish(run: DemoRun, events: list[tuple[str, dict[str, Any]]]) -> int:
    by_department: dict[str, list[dict[str, Any]]] = {}
    for department, event in events:
        by_department.setdefault(department, []).append(event)
    ingest = run.endpoints.of("ingest")
    for department, batch in sorted(by_department.items()):
        account = run.department_nats(department)
        if account is not None:
            publish_department_events(account, department, batch)
            continue
        system = run.api(
            run.issuer.token(
                role="department-system", subject=f"demo-{department}-system",
                department=department, ttl_s=3600,
            )
        )  # fmt: skip
        for event in batch:
            system.send(
                "POST",
                f"{ingest}/events",
                key=f"demo-alliance-report-{event['id']}",
                content=json.dumps(event, ensure_ascii=False).encode(),
                content_type="application/cloudevents+json",
            )
    return len(events)


def _wait_counted(api: Api, url: str, today: date, expected: int, timeout_s: float) -> None:
    """Poll the alliance until every report has travelled the bus into its ledger."""
    report_types = {cls.event_type() for cls in reports.REPORTS}
    deadline = time.monotonic() + timeout_s
    counted = 0
    while time.monotonic() < deadline:
        body = {"as_of": today.isoformat()}
        answer = api.send("POST", f"{url}/figures/ledger", json_body=body, expect=(200,))
        counted = sum(n for t, n in answer["events"].items() if t in report_types)
        if counted >= expected:
            return
        time.sleep(0.25)
    raise DemoError(
        f"the alliance counted {counted} of {expected} department reports within "
        f"{timeout_s:.0f} s; is the ingest → NATS → alliance path running? Re-run "
        "`tongxin demo` to resume."
    )
