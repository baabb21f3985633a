"""The courses' part of the demo city: parent schools at every level (some meeting the
"ten haves", some not, one inspected by the Women's Federation), thirty courses of the
course supermarket, lecture sessions with registrations and attendance, and points for
a few hundred parents of the four demo schools.

Idempotency keys are `demo-courses-<step>-<n>`. Times come from this part's own anchor
(`demo-anchor-courses`, fixed on its first load): a state folder whose volunteers were
loaded long ago still gets sessions around the time the courses' part is loaded.

Last month is recorded as it happened: the service refuses a training batch or a lecture
set in the past, so the demo moves the courses service's clock (its `TONGXIN_CLOCK_FILE`,
given by `tongxin run`) back three weeks, schedules and fills a training day and two
lectures, moves it to the evening of the training day to record who came and issue the
certificates, and sets it back to the present; the lectures' check-ins are then recorded
at the hour they happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contracts.city import load_city
from contracts.courses import term_of
from services.courses.domain import TEN_HAVES
from services.kit.deadlines.clock import FileClock
from tongxin.demo import DemoRun
from tongxin.demo.core import CST, Api, clock_file, load_anchor, publish_department_events

COORDINATOR_SUBJECT = "demo-courses-loader"
WF_SUBJECT = "demo-wf-guidance"
INSPECTION_TYPE = "org.tongxin.guidance.community-parent-school-inspected.v1"
ANCHOR_FOLDER = "demo-courses"


@dataclass(frozen=True)
class SchoolPlan:
    key: str
    name: str
    level: str
    host_kind: str
    host_id: str
    district: str
    verified: tuple[str, ...]  # items the bureau's inspector verifies ("wf": the Federation's)
    by_wf: bool = False


ALL = TEN_HAVES
# District codes of the city's reference data (contracts/city.json).
CITY = load_city().city.code
GUANGLING, HANJIANG = "321002", "321003"
PARENT_SCHOOLS = (
    SchoolPlan(
        "ps1", "扬州市东关小学家长学校", "school", "school", "yz-dongguan-primary", GUANGLING, ALL
    ),
    SchoolPlan(
        "ps2", "扬州市梅岭小学家长学校", "school", "school", "yz-meiling-primary", GUANGLING, ALL
    ),
    SchoolPlan(
        "ps3", "扬州市育才小学家长学校", "school", "school", "yz-yucai-primary", GUANGLING, ALL[:8]
    ),
    SchoolPlan(
        "ps4", "扬州市汶河小学家长学校", "school", "school", "yz-wenhe-primary", GUANGLING, ()
    ),
    SchoolPlan(
        "ps5",
        "文昌社区家长学校 (家门口的家长学校)",
        "community",
        "community",
        "yz-wenchang-community",
        GUANGLING,
        ALL,
        by_wf=True,
    ),
    SchoolPlan("ps6", "邗江区家长学校", "city-county", "district", HANJIANG, HANJIANG, ALL),
    SchoolPlan(
        "ps7",
        "扬州智慧学堂 online parent school",
        "online",
        "platform",
        "zhihui-xuetang",
        CITY,
        ALL[:6],
    ),
)

# (title, stages, themes): thirty of the typical family problems.
COURSES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "孩子沉迷手机怎么办 When the phone wins every evening",
        ("primary", "middle"),
        ("parent-child-communication", "double-reduction"),
    ),
    ("作业拖拉 Homework that drags past bedtime", ("primary",), ("study-guidance",)),
    ("入园焦虑 The first weeks of kindergarten", ("preschool",), ("emotion-management",)),
    ("幼小衔接 From kindergarten to primary school", ("preschool", "primary"), ("study-guidance",)),
    ("青春期沟通 Talking with a teenager", ("middle", "high"), ("parent-child-communication",)),
    ("考试焦虑 Exam nerves", ("middle", "high"), ("mental-health", "emotion-management")),
    ("二孩家庭 When a sibling arrives", ("preschool", "primary"), ("family-values",)),
    (
        "隔代教养 Grandparents raising children",
        ("preschool", "primary"),
        ("family-values", "parent-child-communication"),
    ),
    ("留守儿童的亲情陪伴 Staying close from far away", ("primary", "middle"), ("mental-health",)),
    ("校园欺凌的识别 Recognising bullying", ("primary", "middle"), ("safety", "rule-of-law")),
    ("防溺水 Water safety in summer", ("primary", "middle"), ("safety",)),
    ("网络安全 Safe online", ("primary", "middle", "high"), ("safety",)),
    ("情绪小怪兽 Naming big feelings", ("preschool", "primary"), ("emotion-management",)),
    (
        "双减之后的周末 Weekends after double reduction",
        ("primary", "middle"),
        ("double-reduction", "life-education"),
    ),
    ("家务劳动 Chores that build a child", ("primary",), ("life-education",)),
    ("阅读习惯 Reading together", ("preschool", "primary"), ("study-guidance",)),
    ("专注力 Helping a child focus", ("primary",), ("study-guidance", "mental-health")),
    (
        "叛逆期 When every answer is no",
        ("middle",),
        ("parent-child-communication", "emotion-management"),
    ),
    ("早恋 First feelings", ("middle", "high"), ("life-education", "parent-child-communication")),
    (
        "生命教育 Talking about life and loss",
        ("primary", "middle"),
        ("life-education", "mental-health"),
    ),
    ("睡眠 Enough sleep", ("preschool", "primary", "middle"), ("life-education",)),
    ("体育锻炼 An hour of play a day", ("primary", "middle"), ("life-education",)),
    ("志愿填报 Choosing a path after high school", ("high",), ("study-guidance",)),
    ("厌学 When school feels pointless", ("middle", "high"), ("mental-health", "study-guidance")),
    ("父亲参与 Fathers at home", ("preschool", "primary", "middle"), ("family-values",)),
    ("家庭规则 House rules that hold", ("primary",), ("family-values", "rule-of-law")),
    ("压岁钱与零花钱 Money and the child", ("primary", "middle"), ("life-education",)),
    (
        "学会道歉 Sorry, and meaning it",
        ("preschool", "primary"),
        ("emotion-management", "family-values"),
    ),
    (
        "家庭教育促进法 The Family Education Promotion Law",
        ("preschool", "primary", "middle", "high"),
        ("rule-of-law",),
    ),
    ("心理求助 When to ask for help", ("middle", "high"), ("mental-health",)),
)


def _district(school_id: str) -> str:
    district = load_city().district_of(school_id)
    if district is None:
        raise ValueError(f"{school_id} is not in contracts/city.json")
    return district.code


STEPS = (
    "视频导入 Video intro: one family's story ({title})",
    "讨论交流 Discussion: what happens in our homes",
    "问题梳理 Problem summary: what works and why",
    "实践作业 Homework: one small change this week",
    "微课巩固 Micro-lesson: five minutes to keep it",
)

SCHOOLS = {
    school_id: (_district(school_id), parent_school)
    for school_id, parent_school in (
        ("yz-dongguan-primary", "ps1"),
        ("yz-meiling-primary", "ps2"),
        ("yz-yucai-primary", "ps3"),
        ("yz-wenhe-primary", "ps4"),
    )
}
PARENTS_PER_SCHOOL = 60
CLASSES = ("1-1", "2-1", "3-2", "4-1", "5-3", "6-2")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("秀英", "建国", "静", "伟", "芳", "敏", "磊", "丽", "强", "洋", "娟", "军", "霞", "涛")


@dataclass(frozen=True)
class SessionPlan:
    key: str
    course: int  # index into COURSES
    mode: str
    school_id: str
    starts_h: int  # hours from the anchor (negative: already running)
    hours: int
    capacity: int
    registrations: int  # parents of the school registering, in order
    attended: int  # of those, how many attend (online: complete it)


SESSIONS = (
    SessionPlan("s1", 0, "online", "yz-dongguan-primary", -72, 24 * 7, 80, 58, 52),
    SessionPlan("s2", 1, "online", "yz-meiling-primary", -48, 24 * 7, 80, 57, 53),
    SessionPlan("s3", 4, "online", "yz-yucai-primary", -48, 24 * 7, 80, 50, 41),
    SessionPlan("s4", 13, "online", "yz-wenhe-primary", -24, 24 * 7, 80, 44, 30),
    SessionPlan("s5", 9, "in-person", "yz-dongguan-primary", 1, 3, 40, 45, 30),
    SessionPlan("s6", 28, "in-person", "yz-meiling-primary", 48, 2, 50, 30, 0),
    SessionPlan("s7", 5, "in-person", "yz-yucai-primary", 72, 2, 30, 12, 0),
    SessionPlan("s8", 20, "online", "yz-wenhe-primary", 24, 24 * 7, 100, 0, 0),
)
# Three weeks back the clock goes; last month's lectures (19:00 in the city, 20 days ago).
PAST_DAYS = 21
PAST_SESSIONS = (
    SessionPlan("p1", 7, "in-person", "yz-dongguan-primary", -20 * 24 + 9, 2, 40, 38, 33),
    SessionPlan("p2", 15, "in-person", "yz-meiling-primary", -19 * 24 + 9, 2, 40, 31, 27),
)


# Last month's head teachers' day, completed: the teachers present got their certificates.
PAST_TRAINING = ("班主任家庭教育指导培训 第0期 Head teachers, batch 0", "head-teacher", 168, 18, 16)
PAST_TRAINING_DAYS_AGO = 20
# Next week's training: a head teachers' day (150-180 places) and the managers' three days.
# The demo schools enrol within their quotas; the other schools' places stay open.
TRAINING = (
    # title, audience, days from now, places, places per city school, demo teachers a school
    ("班主任家庭教育指导培训 第1期 Head teachers, batch 1", "head-teacher", 7, 168, 18, 16),
    ("家长学校管理者培训 Parent-school managers", "manager", 14, 36, 4, 3),
)
LECTURES_A_TERM = 2  # "each school at least N lectures a term", for the demo's term


@dataclass
class DemoResult:
    parent_schools: dict[str, str] = field(default_factory=dict)
    courses: list[str] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=dict)
    points: int = 0


def parent_name(school_index: int, n: int) -> str:
    surname = SURNAMES[(school_index * 7 + n) % len(SURNAMES)]
    return f"{surname}{GIVEN[(n * 3 + school_index) % len(GIVEN)]}"


def steps() -> int:
    inspections = sum(1 for s in PARENT_SCHOOLS if s.verified)
    evidence = sum(len(s.verified) for s in PARENT_SCHOOLS)
    plans = SESSIONS + PAST_SESSIONS
    sessions = len(plans) + sum(s.registrations + s.attended for s in plans)
    parents = len(SCHOOLS) * PARENTS_PER_SCHOOL
    training = (len(TRAINING) + 1) * (1 + len(SCHOOLS)) + 1 + 2
    return (
        len(PARENT_SCHOOLS) + evidence + inspections + len(COURSES) + sessions + parents
        + training
    )  # fmt: skip


def load(run: DemoRun) -> dict[str, Any]:
    """The courses' part; what it returns is kept in its "loaded" marker."""
    result = load_plan(run)
    meeting = sum(1 for s in PARENT_SCHOOLS if len(s.verified) == len(TEN_HAVES))
    run.console.print(
        f"demo loaded: {len(PARENT_SCHOOLS)} parent schools ({meeting} meeting the ten haves), "
        f"{len(result.courses)} courses, {len(result.sessions)} sessions, "
        f"{sum(len(p) for p in result.parents.values())} parents, {result.points} points"
    )
    return {
        "parent_schools": result.parent_schools,
        "courses": len(result.courses),
        "sessions": result.sessions,
        "points": result.points,
    }


def load_plan(run: DemoRun) -> DemoResult:
    anchor = load_anchor(run.state_dir / ANCHOR_FOLDER)
    coordinator = run.issuer.token(
        role="coordinator", subject=COORDINATOR_SUBJECT, department="edu", ttl_s=3600
    )
    edu = run.api(coordinator)
    url = run.endpoints.of("courses")
    result = DemoResult()
    with Progress(
        TextColumn("[bold]demo[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=run.console,
    ) as progress:
        task = progress.add_task("courses", total=steps())

        def step(description: str) -> None:
            progress.update(task, description=description, advance=1)

        _parent_schools(run, edu, url, anchor, result, step)
        for n, (title, stages, themes) in enumerate(COURSES, 1):
            body: dict[str, Any] = {
                "title": title,
                "problem": f"家长常见问题 A typical family problem: {title.split(' ', 1)[-1]}.",
                "stages": list(stages),
                "themes": list(themes),
                "steps": [s.format(title=title.split(" ", 1)[0]) for s in STEPS],
            }
            answer = edu.send(
                "POST", f"{url}/courses", key=f"demo-courses-course-{n}", json_body=body
            )
            result.courses.append(answer["course_id"])
            step(f"course {title}")
        for i, (school_id, (district, _)) in enumerate(SCHOOLS.items()):
            ids = []
            for n in range(PARENTS_PER_SCHOOL):
                body = {
                    "name": parent_name(i, n),
                    "school_id": school_id,
                    "class_id": CLASSES[n % len(CLASSES)],
                    "district": district,
                    # One parent in four agrees to be named in rankings.
                    "ranking_opt_in": n % 4 == 0,
                }
                answer = edu.send(
                    "POST", f"{url}/parents", key=f"demo-courses-parent-{i}-{n}", json_body=body
                )
                ids.append(answer["parent_id"])
                step(f"enrolled a parent of {school_id}")
            result.parents[school_id] = ids
        with _courses_clock_at(run, anchor - timedelta(days=PAST_DAYS)) as clock:
            for plan in PAST_SESSIONS:
                _schedule_and_register(edu, url, anchor, plan, result, step)
            _past_training(edu, url, anchor, clock, step)
        for plan in PAST_SESSIONS:
            _attend(edu, url, anchor, plan, result, step)
        for plan in SESSIONS:
            _schedule_and_register(edu, url, anchor, plan, result, step)
            _attend(edu, url, anchor, plan, result, step)
        _training_and_quota(edu, url, anchor, step)
    return result


@contextmanager
def _courses_clock_at(run: DemoRun, moment: datetime) -> Iterator[FileClock]:
    """The courses service's clock at `moment` until the block ends, then the present."""
    clock = FileClock(clock_file(run.state_dir, "courses"))
    clock.path.parent.mkdir(parents=True, exist_ok=True)
    clock.move(moment - clock.now())
    try:
        yield clock
    finally:
        clock.move(-clock.offset())


def _past_training(edu: Api, url: str, anchor: datetime, clock: FileClock, step: Any) -> None:
    title, audience, capacity, quota, enrolled = PAST_TRAINING
    day = (anchor.astimezone(CST) - timedelta(days=PAST_TRAINING_DAYS_AGO)).date()
    body: dict[str, Any] = {
        "title": title,
        "audience": audience,
        "starts_on": day.isoformat(),
        "capacity": capacity,
        "quotas": dict.fromkeys((s.id for s in load_city().schools), quota),
    }
    batch = edu.send(
        "POST", f"{url}/training-batches", key="demo-courses-training-past", json_body=body
    )
    batch_url = f"{url}/training-batches/{batch['batch_id']}"
    step(f"training batch {title}")
    present = []
    for i, school_id in enumerate(SCHOOLS):
        teachers = [f"{school_id}-t{k:02d}" for k in range(enrolled)]
        edu.send(
            "POST",
            f"{batch_url}/enrolments",
            key=f"demo-courses-training-past-{school_id}",
            json_body={"school_id": school_id, "teacher_ids": teachers},
        )
        # One or two teachers of a school missed the day: no certificate for them.
        present += teachers[: enrolled - 1 - i % 2]
        step(f"{school_id} enrolled {len(teachers)} for last month's training")
    clock.move(datetime.combine(day, time(17), CST) - clock.now())
    edu.send(
        "POST",
        f"{batch_url}/attendance",
        key="demo-courses-training-past-attendance",
        json_body={"day": day.isoformat(), "teacher_ids": present},
    )
    step(f"{len(present)} teachers present on {day}")
    done = edu.send(
        "POST",
        f"{batch_url}/completion",
        key="demo-courses-training-past-completion",
        json_body={},
    )
    step(f"training completed: {done['certified']} certificates")


def _training_and_quota(edu: Api, url: str, anchor: datetime, step: Any) -> None:
    city_schools = [s.id for s in load_city().schools]
    for n, (title, audience, in_days, capacity, quota, enrolled) in enumerate(TRAINING):
        starts_on = (anchor.astimezone(CST) + timedelta(days=in_days)).date()
        body: dict[str, Any] = {
            "title": title,
            "audience": audience,
            "starts_on": starts_on.isoformat(),
            "capacity": capacity,
            "quotas": dict.fromkeys(city_schools, quota),
        }
        batch = edu.send(
            "POST", f"{url}/training-batches", key=f"demo-courses-training-{n}", json_body=body
        )
        step(f"training batch {title}")
        for i, school_id in enumerate(SCHOOLS):
            teachers = [f"{school_id}-t{k:02d}" for k in range(enrolled - i % 2)]
            edu.send(
                "POST",
                f"{url}/training-batches/{batch['batch_id']}/enrolments",
                key=f"demo-courses-training-{n}-{school_id}",
                json_body={"school_id": school_id, "teacher_ids": teachers},
            )
            step(f"{school_id} enrolled {len(teachers)} for {audience} training")
    term = term_of(anchor.astimezone(CST).date()).label
    edu.send(
        "PUT",
        f"{url}/lecture-quotas/{term}",
        key="demo-courses-lecture-quota",
        json_body={"min_lectures": LECTURES_A_TERM},
    )
    step(f"lecture quota for {term}")


def _parent_schools(
    run: DemoRun, edu: Api, url: str, anchor: datetime, result: DemoResult, step: Any
) -> None:
    inspected_on = (anchor.astimezone(CST) - timedelta(days=30)).date()
    wf_events = []
    for plan in PARENT_SCHOOLS:
        body = {
            "name": plan.name,
            "level": plan.level,
            "host_kind": plan.host_kind,
            "host_id": plan.host_id,
            "district": plan.district,
        }
        answer = edu.send(
            "POST", f"{url}/parent-schools", key=f"demo-courses-school-{plan.key}", json_body=body
        )
        school_id = answer["parent_school_id"]
        result.parent_schools[plan.key] = school_id
        step(f"parent school {plan.name}")
        for n, item in enumerate(plan.verified):
            evidence = {
                "item": item,
                "document_ref": f"{plan.key}-{item}-2026",
                "dated": (inspected_on - timedelta(days=14 + n)).isoformat(),
            }
            edu.send(
                "POST",
                f"{url}/parent-schools/{school_id}/evidence",
                key=f"demo-courses-evidence-{plan.key}-{item}",
                json_body=evidence,
            )
            step(f"evidence: {item}")
        if not plan.verified:
            continue
        if plan.by_wf:
            wf_events.append(_wf_inspection(plan, school_id, inspected_on, anchor))
        else:
            verdicts = dict.fromkeys(plan.verified, "verified")
            edu.send(
                "POST",
                f"{url}/parent-schools/{school_id}/inspections",
                key=f"demo-courses-inspection-{plan.key}",
                json_body={"verdicts": verdicts, "inspected_on": inspected_on.isoformat()},
            )
        step(f"inspected {plan.name}")
    _publish_as_wf(run, wf_events)


def _wf_inspection(
    plan: SchoolPlan, school_id: str, inspected_on: date, anchor: datetime
) -> dict[str, Any]:
    reported = anchor.isoformat().replace("+00:00", "Z")
    return {
        "specversion": "1.0",
        "id": f"demo-wf-inspection-{plan.key}-{school_id}",
        "source": "/wf/guidance",
        "type": INSPECTION_TYPE,
        "subject": school_id,
        "time": reported,
        "datacontenttype": "application/json",
        "data": {
            "inspection_id": f"wf-{plan.key}-{inspected_on.isoformat()}",
            "parent_school_id": school_id,
            "verified": list(plan.verified),
            "rejected": [],
            "inspected_on": inspected_on.isoformat(),
            "reported_at": reported,
        },
    }


def _publish_as_wf(run: DemoRun, events: list[dict[str, Any]]) -> None:
    """The Federation's system publishes on NATS with its own credentials, or via the ingest."""
    account = run.department_nats("wf")
    if account is not None:
        publish_department_events(account, "wf", events)
        return
    wf = run.api(
        run.issuer.token(role="department-system", subject=WF_SUBJECT, department="wf", ttl_s=3600)
    )
    for n, event in enumerate(events, 1):
        wf.send(
            "POST",
            f"{run.endpoints.of('ingest')}/events",
            key=f"demo-courses-wf-{n}",
            content=json.dumps(event, ensure_ascii=False).encode(),
            content_type="application/cloudevents+json",
        )


def _schedule_and_register(
    edu: Api, url: str, anchor: datetime, plan: SessionPlan, result: DemoResult, step: Any
) -> None:
    district, school_key = SCHOOLS[plan.school_id]
    starts_at = anchor + timedelta(hours=plan.starts_h)
    body = {
        "course_id": result.courses[plan.course],
        "mode": plan.mode,
        "parent_school_id": result.parent_schools[school_key] if plan.mode == "in-person" else None,
        "school_id": plan.school_id,
        "district": district,
        "lecturer_kind": "teacher",
        "lecturer_id": f"teacher-{plan.school_id}-{plan.key}",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=plan.hours)).isoformat(),
        "capacity": plan.capacity,
    }
    answer = edu.send(
        "POST", f"{url}/sessions", key=f"demo-courses-session-{plan.key}", json_body=body
    )
    session_id = answer["session_id"]
    result.sessions[plan.key] = session_id
    step(f"session: {COURSES[plan.course][0]}")
    parents = result.parents[plan.school_id]
    for n, parent_id in enumerate(parents[: plan.registrations]):
        edu.send(
            "POST",
            f"{url}/sessions/{session_id}/registrations",
            key=f"demo-courses-registration-{plan.key}-{n}",
            json_body={"parent_id": parent_id},
        )
        step(f"registration {n + 1} for {plan.key}")


def _attend(
    edu: Api, url: str, anchor: datetime, plan: SessionPlan, result: DemoResult, step: Any
) -> None:
    session_id = result.sessions[plan.key]
    starts_at = anchor + timedelta(hours=plan.starts_h)
    for n, parent_id in enumerate(result.parents[plan.school_id][: plan.attended]):
        attendance: dict[str, Any] = {"parent_id": parent_id}
        if plan.mode == "online":
            # Completions spread over the hours the session has been open.
            done = starts_at + timedelta(minutes=20 + 7 * n)
            attendance["at"] = min(done, anchor - timedelta(minutes=1)).isoformat()
        elif starts_at + timedelta(hours=plan.hours) < anchor:
            # A past lecture's check-ins, at the door as it began.
            attendance["at"] = (starts_at + timedelta(minutes=n % 10)).isoformat()
        answer = edu.send(
            "POST",
            f"{url}/sessions/{session_id}/attendance",
            key=f"demo-courses-attendance-{plan.key}-{n}",
            json_body=attendance,
        )
        result.points += int(answer.get("points", 0))
        step(f"attendance {n + 1} at {plan.key}")
