"""The care part of the demo city: care leads for the four demo schools, 200 files with
categories, a lead each and 1+N home visits for most, plans with goals (one entered from
the paper file with its review already passed: the care service flags it overdue on the
care lead's worklist) and follow-ups, home-delivered teaching (送教上门) for six children
who cannot attend, a volunteer mentor with a passed check (learnt from the volunteers'
events), a child referred by civil affairs through the ingest (sealed to care) and a
screening result from health.

Everything goes through the public HTTP APIs; idempotency keys are `demo-care-<step>-<n>`.
Class sizes differ on purpose: the small classes show suppressed coverage cells.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.care.domain import intake_file_id, intake_id
from services.kit.privacy.sealing import seal
from tongxin.demo import DemoRun, marker_path
from tongxin.demo.core import CST, Api, DemoError

OFFICER_SUBJECT = "demo-care-officer"
SCHOOLS = ("yz-dongguan-primary", "yz-meiling-primary", "yz-yucai-primary", "yz-wenhe-primary")
# Files per class: the last classes are small, so their coverage cells are suppressed.
CLASS_SIZES = (
    ("g4-c1", 14),
    ("g4-c2", 12),
    ("g5-c1", 10),
    ("g5-c2", 8),
    ("g6-c1", 4),
    ("g6-c2", 2),
)
CATEGORIES = ("left-behind", "single-parent", "poor", "disabled", "orphan")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("小明", "晓红", "子涵", "欣怡", "浩然", "梓轩", "雨桐", "思远", "佳怡", "宇航")
CIVIL_REFERRAL_ID = "demo-civ-referral-1"
SCREENING_RESULT_ID = "demo-hlth-screening-1"
IN_FLIGHT = 8
# Every GOAL_EVERY-th file has a plan goal, every FOLLOW_UP_EVERY-th a follow-up on it.
GOAL_EVERY = 5
FOLLOW_UP_EVERY = 10
# Children taught at home, and the sessions each has had so far (days before the anchor).
HOME_TAUGHT = 6
SESSION_DAYS_AGO = (14, 7, 3)
CIV_TYPE = "org.tongxin.registry.child-referred-to-care.v1"
HLTH_TYPE = "org.tongxin.screening.screening-result-issued.v1"


@dataclass(frozen=True)
class FilePlan:
    n: int
    school_id: str
    class_id: str
    name: str
    category: str
    visited_days_ago: int | None  # None: not visited yet this school year


def care_lead(school_id: str) -> str:
    return f"demo-care-lead-{school_id}"


def head_teacher(school_id: str, class_id: str) -> str:
    return f"demo-head-teacher-{school_id}-{class_id}"


def plan_files(anchor_day: date) -> list[FilePlan]:
    year_start = date(anchor_day.year if anchor_day.month >= 9 else anchor_day.year - 1, 9, 1)
    days_in_year = max((anchor_day - year_start).days, 0)
    files: list[FilePlan] = []
    n = 0
    for s, school in enumerate(SCHOOLS):
        for c, (class_id, size) in enumerate(CLASS_SIZES):
            for i in range(size):
                n += 1
                # Roughly three in four families visited, spread over the school year so far.
                visited = (n + s + c) % 4 != 0
                files.append(
                    FilePlan(
                        n=n,
                        school_id=school,
                        class_id=class_id,
                        name=f"{SURNAMES[(n * 7) % len(SURNAMES)]}{GIVEN[(n + i) % len(GIVEN)]}",
                        category=CATEGORIES[n % len(CATEGORIES)],
                        visited_days_ago=(n * 3) % (days_in_year + 1) if visited else None,
                    )
                )
    return files


def load(run: DemoRun) -> dict[str, Any]:
    """The care part; what it returns is kept in its "loaded" marker."""
    anchor_day = run.anchor.astimezone(CST).date()
    files = plan_files(anchor_day)
    officer = run.api(
        run.issuer.token(
            role="coordinator",
            subject=OFFICER_SUBJECT,
            department="edu",
            scope="city",
            ttl_s=3600,
        )
    )
    care_url = run.endpoints.of("care")
    visited = 0
    with Progress(
        TextColumn("[bold]demo[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=run.console,
    ) as progress:
        steps = len(SCHOOLS) + len(files) + sum(f.visited_days_ago is not None for f in files)
        extras = [_extras_of(f) for f in files]
        steps += sum(len(e) for e in extras)
        task = progress.add_task("care", total=steps + 4)

        def step(description: str) -> None:
            progress.update(task, description=description, advance=1)

        for school in SCHOOLS:
            officer.send(
                "PUT",
                f"{care_url}/schools/{school}/care-lead",
                key=f"demo-care-lead-{school}",
                json_body={"account": care_lead(school)},
            )
            step(f"care lead named at {school}")
        file_ids: dict[int, str] = {}

        def open_and_visit(f: FilePlan) -> tuple[int, str, bool]:
            body = {
                "school_id": f.school_id,
                "class_id": f.class_id,
                "name": f.name,
                "category": f.category,
                "evidence": "入学排查登记 identified at enrolment",
                "review_on": (anchor_day + timedelta(days=30 + f.n % 90)).isoformat(),
                "lead": head_teacher(f.school_id, f.class_id),
            }
            answer = officer.send(
                "POST", f"{care_url}/files", key=f"demo-care-file-{f.n}", json_body=body
            )
            fid = str(answer["file_id"])
            if f.visited_days_ago is None:
                return f.n, fid, False
            day = anchor_day - timedelta(days=f.visited_days_ago)
            officer.send(
                "POST",
                f"{care_url}/files/{fid}/visits",
                key=f"demo-care-visit-{f.n}",
                json_body={
                    "visited_on": day.isoformat(),
                    "mode": "home" if f.n % 5 else "phone",
                    "visitors": ["head-teacher", "psychology-teacher", "volunteer"][: 2 + f.n % 2],
                    "notes": "家访记录 family visited; grandparents caring",
                    "next_visit_on": (day + timedelta(days=60)).isoformat(),
                },
            )
            return f.n, fid, True

        # A few commands in flight at once: each has its own key, so a retry is safe.
        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
            for n, fid, was_visited in pool.map(open_and_visit, files):
                file_ids[n] = fid
                visited += was_visited
                step("file opened, category and lead recorded")
                if was_visited:
                    step("home visit recorded")
        work = [
            (f, file_ids[f.n], kind)
            for f, kinds in zip(files, extras, strict=True)
            for kind in kinds
        ]
        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
            for done in pool.map(lambda w: _extra(officer, care_url, anchor_day, *w), work):
                step(done)
        mentor = _volunteer_mentor(run, officer, care_url, file_ids[1])
        step("volunteer mentor assigned" if mentor else "no volunteer with a passed check")
        civ_file = _department_referral(run, care_url, "civ")
        step("civil affairs referral opened as a file")
        hlth_file = _department_referral(run, care_url, "hlth")
        step("screening result opened as a file")
        progress.update(task, description="done", advance=1)
    run.console.print(
        f"demo loaded: {len(files)} care files at {len(SCHOOLS)} schools, {visited} visited, "
        f"{HOME_TAUGHT} taught at home, one review overdue; "
        "one civil-affairs referral and one screening result through the ingest"
    )
    return {
        "files": len(files),
        "visited": visited,
        "civ_file": civ_file,
        "hlth_file": hlth_file,
        "volunteer_mentor": mentor,
    }


def _home_taught(f: FilePlan) -> bool:
    return f.category == "disabled" and f.n <= len(CATEGORIES) * HOME_TAUGHT


def _extras_of(f: FilePlan) -> list[str]:
    """What else the demo records on a file, in order (each one command)."""
    kinds = []
    if f.n == 1:
        kinds.append("paper-goal")  # its review passed ten days ago: overdue
    if f.n % GOAL_EVERY == 0:
        kinds.append("goal")
    if _home_taught(f):
        kinds.append("home-teaching")
    return kinds


def _extra(officer: Api, care_url: str, anchor_day: date, f: FilePlan, fid: str, kind: str) -> str:
    files = f"{care_url}/files/{fid}"
    if kind == "paper-goal":
        officer.send(
            "POST",
            f"{files}/goals",
            key=f"demo-care-paper-goal-{f.n}",
            json_body={
                "goal": "按时到校，每周出勤五天 attends school five days a week",
                "set_on": (anchor_day - timedelta(days=45)).isoformat(),
                "review_on": (anchor_day - timedelta(days=10)).isoformat(),
            },
        )
        return "paper plan entered (its review has passed)"
    if kind == "goal":
        goal = officer.send(
            "POST",
            f"{files}/goals",
            key=f"demo-care-goal-{f.n}",
            json_body={
                "goal": "每周与父母视频通话一次 a weekly video call with the parents",
                "review_on": (anchor_day + timedelta(days=14 + f.n % 30)).isoformat(),
            },
        )
        if f.n % FOLLOW_UP_EVERY == 0:
            officer.send(
                "POST",
                f"{files}/follow-ups",
                key=f"demo-care-follow-up-{f.n}",
                json_body={
                    "on": (anchor_day - timedelta(days=f.n % 7)).isoformat(),
                    "mode": ("talk", "call", "class")[f.n % 3],
                    "goal_id": goal["goal_id"],
                    "notes": "谈心谈话 talked with the child; calmer this week",
                },
            )
            return "plan goal and a follow-up recorded"
        return "plan goal recorded"
    teacher = head_teacher(f.school_id, f.class_id)
    officer.send(
        "PUT",
        f"{files}/home-teaching",
        key=f"demo-care-home-teaching-{f.n}",
        json_body={
            "teacher": teacher,
            "sessions_per_week": 2,
            "starts_on": (anchor_day - timedelta(days=21)).isoformat(),
            "ends_on": (anchor_day + timedelta(days=90)).isoformat(),
            "reason": "行动不便，居家康复 cannot travel to school while recovering",
        },
    )
    for days_ago in SESSION_DAYS_AGO:
        officer.send(
            "POST",
            f"{files}/home-teaching/sessions",
            key=f"demo-care-session-{f.n}-{days_ago}",
            json_body={
                "delivered_on": (anchor_day - timedelta(days=days_ago)).isoformat(),
                "hours": 2,
                "subject": ("chinese", "maths")[days_ago % 2],
                "teacher": teacher,
                "notes": "送教上门 lesson at home",
            },
        )
    return "home-delivered teaching scheduled and given"


def _volunteer_mentor(run: DemoRun, officer: Api, care_url: str, file_id: str) -> str | None:
    """The volunteers demo's first volunteer with a passed check mentors the first child.

    Care learns the check from the volunteers' events: wait until it has travelled.
    """
    path = marker_path(run.state_dir, "volunteers")
    if not path.exists():
        return None
    volunteer_id = json.loads(path.read_text(encoding="utf-8")).get("volunteers", {}).get("v01")
    if not volunteer_id:
        return None
    body = {"account": volunteer_id, "role": "mentor", "kind": "volunteer"}
    deadline = time.monotonic() + run.travel_timeout_s
    while True:
        response = run.client.post(
            f"{care_url}/files/{file_id}/team",
            json=body,
            headers=officer.headers | {"Idempotency-Key": "demo-care-volunteer-mentor"},
        )
        if response.status_code == 200:
            return str(volunteer_id)
        if time.monotonic() > deadline:
            raise DemoError(
                f"care did not learn volunteer {volunteer_id}'s passed check within "
                f"{run.travel_timeout_s:.0f} s ({response.status_code}: {response.text[:200]})"
            )
        time.sleep(0.25)


def _department_referral(run: DemoRun, care_url: str, department: str) -> str:
    """A department seals a child's details to care and posts them to the ingest; the
    school's care lead opens the file once care has received it."""
    jwks = run.client.get(f"{care_url}/.well-known/jwks.json").json()
    anchor = run.anchor
    school = SCHOOLS[0] if department == "civ" else SCHOOLS[1]
    if department == "civ":
        reference = CIVIL_REFERRAL_ID
        details: dict[str, Any] = {
            "name": "周小雨",
            "school_id": school,
            "class_id": "g4-c1",
            "category": "left-behind",
            "evidence": "民政留守儿童登记 parents working in Suzhou since 2024",
        }
        data = {"referral_id": reference, "referred_at": anchor.isoformat(),
                "child": seal(details, jwks)}  # fmt: skip
        event_type, source = CIV_TYPE, "/civ/registry"
    else:
        reference = SCREENING_RESULT_ID
        details = {
            "name": "孙浩然",
            "school_id": school,
            "class_id": "g6-c1",
            "level": "concern",
            "screened_on": (anchor.date() - timedelta(days=10)).isoformat(),
        }
        data = {"result_id": reference, "issued_at": anchor.isoformat(),
                "result": seal(details, jwks)}  # fmt: skip
        event_type, source = HLTH_TYPE, f"/{department}/screening"
    system = run.api(
        run.issuer.token(
            role="department-system",
            subject=f"demo-{department}-system",
            department=department,
            ttl_s=3600,
        )
    )
    event = {
        "specversion": "1.0",
        "id": f"demo-{department}-{reference}",
        "source": source,
        "type": event_type,
        "time": anchor.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }
    system.send(
        "POST",
        f"{run.endpoints.of('ingest')}/events",
        key=f"demo-care-{department}-event",
        content=json.dumps(event, ensure_ascii=False).encode(),
        content_type="application/cloudevents+json",
    )
    intake = intake_id(department, reference)
    lead = run.api(
        run.issuer.token(
            role="school-staff",
            subject=care_lead(school),
            department="edu",
            scope=f"school:{school}",
            ttl_s=3600,
        )
    )
    return _open_when_received(run, lead, care_url, intake, intake_file_id(department, reference))


def _open_when_received(run: DemoRun, lead: Api, care_url: str, intake: UUID, file_id: UUID) -> str:
    deadline = time.monotonic() + run.travel_timeout_s
    while True:
        response = run.client.post(
            f"{care_url}/intakes/{intake}/file",
            json={},
            headers=lead.headers | {"Idempotency-Key": f"demo-care-intake-{intake}"},
        )
        if response.status_code in (200, 201):
            return str(response.json()["file_id"])
        if response.status_code == 409:  # opened by an earlier run of the demo
            return str(file_id)
        if time.monotonic() > deadline:
            raise DemoError(
                f"care did not receive intake {intake} within {run.travel_timeout_s:.0f} s "
                f"({response.status_code}); is the ingest → NATS → care path running?"
            )
        time.sleep(0.25)
