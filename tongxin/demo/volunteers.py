"""The volunteers' part of the demo city: four Yangzhou schools, twelve volunteers,
public security's background checks and six shifts with attendance.

Idempotency keys are `demo-<step>-<n>`; public security's results go straight onto NATS
with its own credentials when the run has them, else through the ingest.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tongxin.demo import DemoRun
from tongxin.demo.core import CST, Api, DemoError, local_time, publish_department_events

COORDINATOR_SUBJECT = "demo-loader"
POLICE_SUBJECT = "demo-pol-checks"
CHECK_EVENT_TYPE = "org.tongxin.checks.background-check-completed.v1"

Kind = Literal["parent", "five-elders", "youth", "teacher", "professional"]
Post = Literal["safety-post", "library", "after-school", "lecture"]
PlannedCheck = Literal["none", "requested", "passed", "failed"]


# -- the plan ---------------------------------------------------------------------------
@dataclass(frozen=True)
class School:
    id: str
    name: str


@dataclass(frozen=True)
class VolunteerPlan:
    key: str
    display_name: str
    kind: Kind
    school_id: str
    check: PlannedCheck  # what public security answers ("requested": no answer yet)


@dataclass(frozen=True)
class Attendance:
    volunteer: str
    check_in: str  # local time "HH:MM" on the shift's day
    check_out: str


@dataclass(frozen=True)
class ShiftPlan:
    key: str
    school_id: str
    post: Post
    title: str
    days_before: int  # days before the anchor day (negative: in the future)
    starts: str  # local "HH:MM"
    ends: str
    capacity: int
    child_facing: bool
    sign_ups: tuple[str, ...]
    attendance: tuple[Attendance, ...] = ()


@dataclass(frozen=True)
class DemoPlan:
    schools: tuple[School, ...]
    volunteers: tuple[VolunteerPlan, ...]
    shifts: tuple[ShiftPlan, ...]

    def volunteer(self, key: str) -> VolunteerPlan:
        return next(v for v in self.volunteers if v.key == key)

    @property
    def checks_requested(self) -> tuple[VolunteerPlan, ...]:
        return tuple(v for v in self.volunteers if v.check != "none")

    @property
    def checks_answered(self) -> tuple[VolunteerPlan, ...]:
        return tuple(v for v in self.volunteers if v.check in ("passed", "failed"))

    def steps(self) -> int:
        sign_ups = sum(len(s.sign_ups) for s in self.shifts)
        attendance = sum(len(s.attendance) for s in self.shifts)
        return (
            len(self.volunteers)
            + len(self.checks_requested)
            + 2 * len(self.checks_answered)  # publish + wait until recorded
            + len(self.shifts)
            + sign_ups
            + 2 * attendance
        )


SCHOOLS = (
    School("yz-dongguan-primary", "扬州市东关小学 Dongguan Primary School"),
    School("yz-meiling-primary", "扬州市梅岭小学 Meiling Primary School"),
    School("yz-yucai-primary", "扬州市育才小学 Yucai Primary School"),
    School("yz-wenhe-primary", "扬州市汶河小学 Wenhe Primary School"),
)

VOLUNTEERS = (
    VolunteerPlan("v01", "王秀英 Wang Xiuying", "five-elders", "yz-dongguan-primary", "passed"),
    VolunteerPlan("v02", "李建国 Li Jianguo", "five-elders", "yz-meiling-primary", "passed"),
    VolunteerPlan("v03", "陈静 Chen Jing", "parent", "yz-dongguan-primary", "passed"),
    VolunteerPlan("v04", "张伟 Zhang Wei", "parent", "yz-yucai-primary", "passed"),
    VolunteerPlan("v05", "刘洋 Liu Yang", "youth", "yz-wenhe-primary", "passed"),
    VolunteerPlan("v06", "赵敏 Zhao Min", "youth", "yz-meiling-primary", "passed"),
    VolunteerPlan("v07", "孙丽 Sun Li", "teacher", "yz-yucai-primary", "passed"),
    VolunteerPlan("v08", "周强 Zhou Qiang", "professional", "yz-wenhe-primary", "passed"),
    VolunteerPlan("v09", "吴芳 Wu Fang", "professional", "yz-dongguan-primary", "failed"),
    VolunteerPlan("v10", "郑浩 Zheng Hao", "parent", "yz-meiling-primary", "passed"),
    VolunteerPlan("v11", "黄磊 Huang Lei", "youth", "yz-yucai-primary", "none"),
    VolunteerPlan("v12", "何琳 He Lin", "parent", "yz-wenhe-primary", "requested"),
)

SHIFTS = (
    ShiftPlan(
        "s01",
        "yz-dongguan-primary",
        "safety-post",
        "护学岗 Morning gate safety post",
        days_before=3,
        starts="07:10",
        ends="08:10",
        capacity=3,
        child_facing=True,
        sign_ups=("v01", "v03", "v10"),
        attendance=(
            Attendance("v01", "07:05", "08:15"),
            Attendance("v03", "07:12", "08:10"),
            Attendance("v10", "07:10", "08:05"),
        ),
    ),
    ShiftPlan(
        "s02",
        "yz-meiling-primary",
        "library",
        "图书馆 Lunchtime reading corner",
        days_before=2,
        starts="12:00",
        ends="13:30",
        capacity=2,
        child_facing=True,
        sign_ups=("v02", "v06"),
        attendance=(Attendance("v02", "11:55", "13:30"), Attendance("v06", "12:00", "13:15")),
    ),
    ShiftPlan(
        "s03",
        "yz-yucai-primary",
        "after-school",
        "课后服务 After-school homework club",
        days_before=2,
        starts="15:40",
        ends="17:40",
        capacity=3,
        child_facing=True,
        sign_ups=("v04", "v07"),
        attendance=(Attendance("v04", "15:40", "17:40"), Attendance("v07", "15:35", "17:45")),
    ),
    ShiftPlan(
        "s04",
        "yz-wenhe-primary",
        "lecture",
        "家长大讲堂 Talking with teenagers (for parents)",
        days_before=1,
        starts="19:00",
        ends="20:30",
        capacity=2,
        child_facing=False,
        sign_ups=("v08", "v12"),
        attendance=(Attendance("v08", "18:50", "20:30"), Attendance("v12", "19:00", "20:30")),
    ),
    ShiftPlan(
        "s05",
        "yz-dongguan-primary",
        "lecture",
        "法治讲座 Family rule-of-law evening (for parents)",
        days_before=1,
        starts="18:30",
        ends="20:00",
        capacity=2,
        child_facing=False,
        sign_ups=("v11",),
        attendance=(Attendance("v11", "18:30", "20:00"),),
    ),
    ShiftPlan(
        "s06",
        "yz-meiling-primary",
        "safety-post",
        "护学岗 Afternoon gate safety post",
        days_before=-2,
        starts="16:30",
        ends="17:30",
        capacity=2,
        child_facing=True,
        sign_ups=("v02", "v05"),
    ),
)

PLAN = DemoPlan(schools=SCHOOLS, volunteers=VOLUNTEERS, shifts=SHIFTS)


# -- times---------------------------------------------------------------------------
def check_expiry(anchor: datetime) -> date:
    return anchor.astimezone(CST).date() + timedelta(days=365)


def shift_body(shift: ShiftPlan, anchor: datetime) -> dict[str, Any]:
    return {
        "school_id": shift.school_id,
        "post": shift.post,
        "title": shift.title,
        "starts_at": local_time(anchor, shift.days_before, shift.starts).isoformat(),
        "ends_at": local_time(anchor, shift.days_before, shift.ends).isoformat(),
        "capacity": shift.capacity,
        "child_facing": shift.child_facing,
    }


def check_event(
    volunteer: VolunteerPlan, volunteer_id: str, check_id: str, anchor: datetime
) -> dict[str, Any]:
    """The structured CloudEvent public security publishes for a finished check."""
    completed_at = anchor.isoformat().replace("+00:00", "Z")
    data: dict[str, Any] = {
        "check_id": check_id,
        "volunteer_id": volunteer_id,
        "outcome": volunteer.check,
        "completed_at": completed_at,
    }
    if volunteer.check == "passed":
        data["expires_on"] = check_expiry(anchor).isoformat()
    return {
        "specversion": "1.0",
        # The check id: public security answers a check once, whichever system sends it.
        "id": check_id,
        "source": "/pol/checks",
        "type": CHECK_EVENT_TYPE,
        "subject": volunteer_id,
        "time": completed_at,
        "datacontenttype": "application/json",
        "data": data,
    }


# -- loading-------------------------------------------------------------------------
@dataclass
class DemoResult:
    volunteer_ids: dict[str, str] = field(default_factory=dict)
    check_ids: dict[str, str] = field(default_factory=dict)
    shift_ids: dict[str, str] = field(default_factory=dict)
    hours: float = 0.0


def load(run: DemoRun) -> dict[str, Any]:
    """The volunteers' part; what it returns is kept in its "loaded" marker."""
    result = load_plan(run, PLAN)
    run.console.print(
        f"demo loaded: {len(PLAN.schools)} schools, {len(PLAN.volunteers)} volunteers, "
        f"{len(PLAN.shifts)} shifts, {result.hours:.2f} hours credited"
    )
    return {
        "schools": [s.id for s in PLAN.schools],
        "volunteers": result.volunteer_ids,
        "shifts": result.shift_ids,
        "hours": round(result.hours, 2),
    }


def load_plan(run: DemoRun, plan: DemoPlan) -> DemoResult:
    anchor = run.anchor
    coordinator = run.issuer.token(
        role="coordinator",
        subject=COORDINATOR_SUBJECT,
        department="cyl",
        scope="city",
        ttl_s=3600,
    )
    police = run.issuer.token(
        role="department-system", subject=POLICE_SUBJECT, department="pol", ttl_s=3600
    )
    police_nats = run.department_nats("pol")
    result = DemoResult()
    with Progress(
        TextColumn("[bold]demo[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=run.console,
    ) as progress:
        cyl = run.api(coordinator)
        pol = run.api(police)
        task = progress.add_task("volunteers", total=plan.steps())

        def step(description: str) -> None:
            progress.update(task, description=description, advance=1)

    vol_url = run.endpoints.of("volunteers")
    for n, v in enumerate(plan.volunteers, 1):
        body = {"display_name": v.display_name, "kind": v.kind, "school_id": v.school_id}
        answer = cyl.send(
            "POST", f"{vol_url}/volunteers", key=f"demo-volunteer-{n}", json_body=body
        )
        result.volunteer_ids[v.key] = answer["volunteer_id"]
        step(f"registered {v.display_name}")

    for n, v in enumerate(plan.checks_requested, 1):
        vid = result.volunteer_ids[v.key]
        answer = cyl.send(
            "POST",
            f"{vol_url}/volunteers/{vid}/background-checks",
            key=f"demo-check-request-{n}",
            json_body={},
        )
        result.check_ids[v.key] = answer["check_id"]
        step(f"background check requested for {v.display_name}")

    ingest_url = run.endpoints.of("ingest")
    answers = [
        (v, check_event(v, result.volunteer_ids[v.key], result.check_ids[v.key], anchor))
        for v in plan.checks_answered
    ]
    if police_nats is not None:
        publish_department_events(police_nats, "pol", [e for _, e in answers])
    for n, (v, event) in enumerate(answers, 1):
        if police_nats is None:
            pol.send(
                "POST",
                f"{ingest_url}/events",
                key=f"demo-check-result-{n}",
                content=json.dumps(event, ensure_ascii=False).encode(),
                content_type="application/cloudevents+json",
            )
        step(f"public security: {v.display_name} {v.check}")

    for v in plan.checks_answered:
        _wait_check(cyl, vol_url, result.volunteer_ids[v.key], v, run.travel_timeout_s)
        step(f"check recorded for {v.display_name}")

    for n, s in enumerate(plan.shifts, 1):
        answer = cyl.send(
            "POST", f"{vol_url}/shifts", key=f"demo-shift-{n}", json_body=shift_body(s, anchor)
        )
        result.shift_ids[s.key] = answer["shift_id"]
        step(f"published {s.title}")

    for s in plan.shifts:
        sid = result.shift_ids[s.key]
        for v_key in s.sign_ups:
            cyl.send(
                "POST",
                f"{vol_url}/shifts/{sid}/sign-ups",
                key=f"demo-sign-up-{s.key}-{v_key}",
                json_body={"volunteer_id": result.volunteer_ids[v_key]},
            )
            step(f"{plan.volunteer(v_key).display_name} signed up: {s.title}")
        for a in s.attendance:
            vid = result.volunteer_ids[a.volunteer]
            name = plan.volunteer(a.volunteer).display_name
            at_in = local_time(anchor, s.days_before, a.check_in).isoformat()
            cyl.send(
                "POST",
                f"{vol_url}/shifts/{sid}/check-ins",
                key=f"demo-check-in-{s.key}-{a.volunteer}",
                json_body={"volunteer_id": vid, "at": at_in},
            )
            step(f"{name} checked in")
            at_out = local_time(anchor, s.days_before, a.check_out).isoformat()
            answer = cyl.send(
                "POST",
                f"{vol_url}/shifts/{sid}/check-outs",
                key=f"demo-check-out-{s.key}-{a.volunteer}",
                json_body={"volunteer_id": vid, "at": at_out},
            )
            result.hours += float(answer.get("hours", 0.0))
            step(f"{name} checked out")
    progress.update(task, description="done")
    return result


def _wait_check(
    api: Api, vol_url: str, volunteer_id: str, v: VolunteerPlan, timeout_s: float
) -> None:
    """Poll the volunteers service until the police result has travelled the bus."""
    deadline = time.monotonic() + timeout_s
    status = "unknown"
    while time.monotonic() < deadline:
        # Each read returns the name, so each is logged: say why.
        answer = api.send(
            "GET",
            f"{vol_url}/volunteers/{volunteer_id}?purpose=demo%20loader",
            expect=(200,),
        )
        status = str((answer.get("check") or {}).get("status", "none"))
        if status == v.check:
            return
        time.sleep(0.25)
    raise DemoError(
        f"the volunteers service did not record the {v.check} background check of "
        f"{v.display_name} ({volunteer_id}) within {timeout_s:.0f} s (status: {status}); "
        "is the ingest → NATS → volunteers path running? Re-run `tongxin demo` to resume."
    )
