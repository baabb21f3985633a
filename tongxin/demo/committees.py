"""The committees' part of the demo city: parent committees for the demo schools (school,
grade and class levels, a community committee and a grandparent committee in a village),
their meetings, and 50 suggestions at every stage: just assigned, assigned to other
departments, answered, closed with ratings, reopened, and overdue ones entered from a
waiting station's paper book weeks after they were received, which the deadline runner
escalates to the district or the city. Members are named (the names stay in the service,
encrypted). The city's quarterly joint meeting adopts five action items for five
departments: public security reports progress to the service, the Justice Bureau's own
system reports its item done through the ingest, and one item, already overdue, escalates.
Dongguan Primary's parents answer the term's satisfaction survey.

Idempotency keys are `demo-committees-<step>-<n>`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from tongxin.demo import DemoRun
from tongxin.demo.core import CST, DemoError, local_time

SUBJECT = "demo-committees-loader"
TERM_ENDS = "2027-07-31"


@dataclass(frozen=True)
class CommitteePlan:
    key: str
    level: str
    scope_id: str
    district: str
    title: str
    members: tuple[tuple[str, str], ...]  # (member id, role)


COMMITTEES = (
    CommitteePlan(
        "dongguan-school",
        "school",
        "yz-dongguan-primary",
        "guangling",
        "东关小学校级家委会",
        (
            ("p-dg-01", "chair"),
            ("p-dg-02", "vice-chair"),
            ("p-dg-03", "member"),
            ("p-dg-04", "member"),
            ("p-dg-05", "member"),
        ),
    ),
    CommitteePlan(
        "dongguan-grade3",
        "grade",
        "yz-dongguan-primary",
        "guangling",
        "东关小学三年级级部家委会",
        (("p-dg-03", "chair"), ("p-dg-06", "member"), ("p-dg-07", "member")),
    ),
    CommitteePlan(
        "dongguan-class3-2",
        "class",
        "yz-dongguan-primary",
        "guangling",
        "东关小学三年级二班家委会",
        (("p-dg-06", "chair"), ("p-dg-08", "member"), ("p-dg-09", "member")),
    ),
    CommitteePlan(
        "meiling-school",
        "school",
        "yz-meiling-primary",
        "guangling",
        "梅岭小学校级家委会",
        (("p-ml-01", "chair"), ("p-ml-02", "member"), ("p-ml-03", "member")),
    ),
    CommitteePlan(
        "yucai-school",
        "school",
        "yz-yucai-primary",
        "guangling",
        "育才小学校级家委会",
        (("p-yc-01", "chair"), ("p-yc-02", "member")),
    ),
    CommitteePlan(
        "wenhe-school",
        "school",
        "yz-wenhe-primary",
        "guangling",
        "汶河小学校级家委会",
        (("p-wh-01", "chair"), ("p-wh-02", "member")),
    ),
    CommitteePlan(
        "dongguan-community",
        "community",
        "gl-dongguan-street",
        "guangling",
        "东关街道社区家委会",
        (("p-cm-01", "chair"), ("p-cm-02", "member")),
    ),
)
VILLAGE = CommitteePlan(
    "gaoyou-village",
    "village",
    "gy-linze-xiaoxiang-village",
    "gaoyou",
    "临泽镇小巷村祖辈家委会",
    (("g-xx-01", "chair"), ("g-xx-02", "member"), ("g-xx-03", "member")),
)
TOPICS = ("safety", "canteen", "homework", "facilities", "activities", "teaching")
TEXTS = {
    "safety": "放学时校门口车辆拥堵，建议增设护学岗和临时停车区。",
    "canteen": "建议食堂每周公布菜谱，并邀请家长代表陪餐。",
    "homework": "低年级书面作业偏多，建议按双减要求统筹各科作业量。",
    "facilities": "操场跑道有破损，雨天积水，建议假期维修。",
    "activities": "希望学校多组织亲子阅读和研学活动。",
    "teaching": "建议每学期开放一次课堂，让家长了解教学情况。",
}
DEPARTMENT_TOPICS = (("pol", "safety"), ("hlth", "canteen"), ("cult", "activities"))
# (stage, how many): 50 in all.
STAGES = (
    ("assigned", 10),
    ("department", 6),
    ("answered", 10),
    ("closed", 12),
    ("reopened", 4),
    ("overdue-district", 5),
    ("overdue-city", 3),
)


def load(run: DemoRun) -> dict[str, Any]:
    """The committees' part; what it returns is kept in its "loaded" marker."""
    token = run.issuer.token(
        role="coordinator", subject=SUBJECT, department="edu", scope="city", ttl_s=3600
    )
    edu = run.api(token)
    url = run.endpoints.of("committees")
    committees: dict[str, str] = {}
    for plan in (*COMMITTEES, VILLAGE):
        formed = edu.send(
            "POST",
            f"{url}/committees",
            key=f"demo-committees-form-{plan.key}",
            json_body={
                "level": plan.level,
                "scope_id": plan.scope_id,
                "district": plan.district,
                "title": plan.title,
                "term_ends_on": TERM_ENDS,
            },
        )
        committees[plan.key] = formed["committee_id"]
        for member_id, role in plan.members:
            edu.send(
                "POST",
                f"{url}/committees/{formed['committee_id']}/members",
                key=f"demo-committees-member-{plan.key}-{member_id}",
                json_body={
                    "member_id": member_id,
                    "role": role,
                    "grandparent": plan.level == "village",
                    "name": member_name(member_id),
                },
            )
    meetings = _meetings(run, edu, url, committees)
    suggestions = _suggestions(run, edu, url, committees)
    action_items = _joint_meeting(run, edu, url)
    survey = _survey(run, edu, url)
    run.console.print(
        f"demo loaded: {len(committees)} committees, {meetings} meetings, "
        f"{sum(len(v) for v in suggestions.values())} suggestions "
        f"({', '.join(f'{k} {len(v)}' for k, v in suggestions.items())}), "
        f"a joint meeting with {len(action_items)} action items, a survey answered by "
        f"{SURVEY_PARENTS} parents"
    )
    return {
        "committees": committees,
        "suggestions": suggestions,
        "action_items": action_items,
        "survey": survey,
    }


SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ("芳", "伟", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超")


def member_name(member_id: str) -> str:
    """A made-up name for a demo member, the same on every run."""
    n = sum(ord(c) * (i + 1) for i, c in enumerate(member_id))
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n // 7) % len(GIVEN)]


# (key, resolution, lead, supporters, days after the meeting it is due)
ACTION_ITEMS = (
    ("safety-posts", "校门口护学岗全覆盖，上下学高峰警力到位", "pol", ("edu",), 90),
    ("screening", "全市初中开展心理健康筛查并建立转介通道", "hlth", ("edu", "civ"), 120),
    ("legal-lectures", "每校每学期至少一场法治讲座", "jus", ("edu",), 60),
    ("community-schools", "社区家长学校覆盖所有街道", "wf", ("edu",), 10),
    ("venues-open", "科技馆、博物馆研学对中小学免费开放", "cult", ("sci",), 45),
)
JOINT_MEETING_DAYS_BEFORE = 30


def _joint_meeting(run: DemoRun, edu: Any, url: str) -> dict[str, str]:
    """The city's quarterly joint meeting and its five action items; progress from two
    departments (one through its own system and the ingest); one item overdue."""
    meeting = edu.send(
        "POST",
        f"{url}/joint-meetings",
        key="demo-committees-joint-meeting",
        json_body={
            "convened_by": "city",
            "title": "扬州市教联体第四季度联席会议",
            "starts_at": local_time(run.anchor, JOINT_MEETING_DAYS_BEFORE, "09:00").isoformat(),
            "ends_at": local_time(run.anchor, JOINT_MEETING_DAYS_BEFORE, "11:30").isoformat(),
            "departments": ["edu", "pol", "hlth", "jus", "wf", "cult", "civ", "sci"],
            "schools": [c.scope_id for c in COMMITTEES if c.level == "school"],
        },
    )
    meeting_day = run.anchor.astimezone(CST).date() - timedelta(days=JOINT_MEETING_DAYS_BEFORE)
    items: dict[str, str] = {}
    for key, title, lead, supporters, due_in in ACTION_ITEMS:
        item = edu.send(
            "POST",
            f"{url}/joint-meetings/{meeting['joint_meeting_id']}/action-items",
            key=f"demo-committees-action-{key}",
            json_body={
                "title": title,
                "lead": lead,
                "supporters": list(supporters),
                "due_on": (meeting_day + timedelta(days=due_in)).isoformat(),
            },
        )
        items[key] = item["action_item_id"]
    # Public security reports to the service; the Justice Bureau from its own system.
    pol = run.api(
        run.issuer.token(role="coordinator", subject="demo-pol", department="pol", ttl_s=3600)
    )
    pol.send(
        "POST",
        f"{url}/action-items/{items['safety-posts']}/progress",
        key="demo-committees-progress-safety-posts",
        json_body={
            "status": "on-track",
            "percent": 60,
            "note": "已在城区60所学校设立护学岗，其余学校下月完成。",
        },
    )
    jus = run.api(
        run.issuer.token(
            role="department-system", subject="jus-legal", department="jus", ttl_s=3600
        )
    )
    jus.send(
        "POST",
        f"{run.endpoints.of('ingest')}/events",
        key="demo-committees-progress-legal-lectures",
        content=json.dumps(_legal_done(run, items["legal-lectures"]), ensure_ascii=False).encode(),
        content_type="application/cloudevents+json",
    )
    _wait_done(edu, url, items["legal-lectures"], run.travel_timeout_s)
    return items


def _legal_done(run: DemoRun, action_item_id: str) -> dict[str, Any]:
    """The Justice Bureau's system reports its action item done (a structured CloudEvent)."""
    at = run.anchor.isoformat().replace("+00:00", "Z")
    return {
        "specversion": "1.0",
        "id": f"demo-legal-progress-{action_item_id}",
        "source": "/jus/legal",
        "type": "org.tongxin.legal.action-item-progress-reported.v2",
        "subject": action_item_id,
        "time": at,
        "datacontenttype": "application/json",
        "data": {
            "report_id": f"jus-ai-{action_item_id[:8]}",
            "action_item_id": action_item_id,
            "status": "done",
            "percent": 100,
            "document_ref": "JUS-2026-041",
            "reported_at": at,
        },
    }


def _wait_done(edu: Any, url: str, action_item_id: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if edu.send("GET", f"{url}/action-items/{action_item_id}", expect=(200,))["done"]:
            return
        time.sleep(0.25)
    raise DemoError(
        f"the committees service did not record the Justice Bureau's report on action item "
        f"{action_item_id} within {timeout_s:.0f} s; is the ingest → NATS → committees path "
        "running? Re-run `tongxin demo` to resume."
    )


SURVEY_SCHOOL = "yz-dongguan-primary"
SURVEY_PARENTS = 24


def _survey(run: DemoRun, edu: Any, url: str) -> str:
    """Dongguan Primary's satisfaction survey for the term, answered by its parents."""
    today = run.anchor.astimezone(CST).date()
    term = (
        f"{today.year}-spring"
        if 2 <= today.month <= 7
        else (f"{today.year if today.month >= 8 else today.year - 1}-autumn")
    )
    survey = edu.send(
        "POST",
        f"{url}/surveys",
        key=f"demo-committees-survey-{term}",
        json_body={
            "school_id": SURVEY_SCHOOL,
            "district": "guangling",
            "term": term,
            "closes_on": (today + timedelta(days=30)).isoformat(),
        },
    )
    for n in range(SURVEY_PARENTS):
        parent = run.api(
            run.issuer.token(
                role="parent", subject=f"p-survey-{n:02d}", scope=f"school:{SURVEY_SCHOOL}"
            )
        )
        scores = {
            "overall": (5, 4, 4, 5, 3)[n % 5],
            "teaching": (5, 5, 4)[n % 3],
            "safety": (4, 5)[n % 2],
            "communication": (3, 4, 5, 4)[n % 4],
            "care": (5, 4, 5, 5, 4, 3)[n % 6],
        }
        # No idempotency key (it would tie the request to the parent): a resumed run is
        # told this parent has answered already.
        parent.send(
            "POST",
            f"{url}/surveys/{survey['survey_id']}/answers",
            json_body={"scores": scores},
            expect=(200, 409),
        )
    return str(survey["survey_id"])


def _meetings(run: DemoRun, edu: Any, url: str, committees: dict[str, str]) -> int:
    plans = (
        ("dongguan-school", 20, True, 5, 2),
        ("dongguan-class3-2", 6, True, 3, 1),
        ("meiling-school", -7, False, 0, 0),
    )
    for n, (committee, days_before, held, attended, resolutions) in enumerate(plans):
        meeting = edu.send(
            "POST",
            f"{url}/meetings",
            key=f"demo-committees-meeting-{n}",
            json_body={
                "committee_id": committees[committee],
                "starts_at": local_time(run.anchor, days_before, "16:00").isoformat(),
                "ends_at": local_time(run.anchor, days_before, "17:30").isoformat(),
            },
        )
        if held:
            edu.send(
                "POST",
                f"{url}/meetings/{meeting['meeting_id']}/held",
                key=f"demo-committees-held-{n}",
                json_body={"attended": attended, "resolutions": resolutions},
            )
    return len(plans)


def _received(run: DemoRun, days_before: int) -> str:
    day: date = run.anchor.astimezone(CST).date() - timedelta(days=days_before)
    return day.isoformat()


def _suggestions(
    run: DemoRun, edu: Any, url: str, committees: dict[str, str]
) -> dict[str, list[str]]:
    school_committees = [c.key for c in COMMITTEES if c.level in ("school", "grade", "class")]
    members = {c.key: c.members for c in COMMITTEES}
    made: dict[str, list[str]] = {}
    n = 0
    for stage, count in STAGES:
        made[stage] = []
        for i in range(count):
            n += 1
            committee = school_committees[n % len(school_committees)]
            topic = TOPICS[n % len(TOPICS)]
            department = None
            if stage == "department":
                department, topic = DEPARTMENT_TOPICS[i % len(DEPARTMENT_TOPICS)]
            body: dict[str, Any] = {
                "committee_id": committees[committee],
                "member_id": members[committee][n % len(members[committee])][0],
                "anonymous": n % 4 == 0,
                "topic": topic,
                "text": TEXTS[topic],
            }
            if department:
                body["department"] = department
            if stage == "overdue-district":
                body["received_on"] = _received(run, 30 + i)  # past the school's 15 working days
            elif stage == "overdue-city":
                body["received_on"] = _received(run, 60 + i)  # past the district's as well
            else:
                body["received_on"] = _received(run, i % 5)
            submitted = edu.send(
                "POST", f"{url}/suggestions", key=f"demo-committees-suggest-{n}", json_body=body
            )
            sid = submitted["suggestion_id"]
            made[stage].append(sid)
            if stage in ("answered", "closed", "reopened"):
                edu.send(
                    "POST",
                    f"{url}/suggestions/{sid}/answer",
                    key=f"demo-committees-answer-{n}",
                    json_body={"text": "已研究并落实：下周起由学校牵头整改，结果在家长会通报。"},
                )
            if stage in ("closed", "reopened"):
                edu.send(
                    "POST",
                    f"{url}/suggestions/{sid}/close",
                    key=f"demo-committees-close-{n}",
                    json_body={"rating": 2 if stage == "reopened" else (5, 4, 4, 3)[i % 4]},
                )
            if stage == "reopened":
                edu.send(
                    "POST",
                    f"{url}/suggestions/{sid}/reopen",
                    key=f"demo-committees-reopen-{n}",
                    json_body={},
                )
    return made
