"""The access matrix: who may read and act on a child's care file, over HTTP.

The table is written from the intent (the issue's "who sees what"), not read from
services/care/policy.py: only people assigned to a file read it, fields by role; a
teacher who moved school loses it with the old scope; break-glass is for edu staff in
scope, for a while only, and gives reading, not acting; no other department reads a file.
Every read and every refusal is an access-log entry, and a refusal appends no event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.routing import APIRoute

from contracts.volunteers import BackgroundCheckRecorded
from services.care.api import router
from services.care.application import CareApplication
from services.care.main import create_service
from services.kit.auth import DevIssuer
from services.kit.citytime import city_day
from services.kit.deadlines import ManualClock
from services.kit.settings import Settings
from tests.support.apps import running

SCHOOL = "yz-dongguan-primary"
OTHER_SCHOOL = "yz-meiling-primary"
VOLUNTEER = "6f0c1a8e-3b7d-4c2e-9a51-2d8f0e4b7c19"
ACTIONS = (
    "read", "tag", "visit", "assign", "status", "consent", "refer", "erase",
    "goal", "review-goal", "follow-up", "schedule", "teach", "who-viewed", "alerts",
)  # fmt: skip

# caller: (role, department, subject, scope)
CALLERS: dict[str, tuple[str, str | None, str, str]] = {
    "district-officer": ("coordinator", "edu", "officer-1", "city"),
    "care-lead": ("school-staff", "edu", "care-lead-1", f"school:{SCHOOL}"),
    "team-lead": ("school-staff", "edu", "teacher-lead", f"school:{SCHOOL}"),
    "psychology": ("school-staff", "edu", "psy-1", f"school:{SCHOOL}"),
    "mentor-teacher": ("school-staff", "edu", "mentor-1", f"school:{SCHOOL}"),
    "volunteer-mentor": ("volunteer", None, VOLUNTEER, ""),
    "moved-teacher": ("school-staff", "edu", "mentor-2", f"school:{OTHER_SCHOOL}"),
    "unassigned-staff": ("school-staff", "edu", "staff-9", f"school:{SCHOOL}"),
    "break-glass": ("school-staff", "edu", "staff-bg", f"school:{SCHOOL}"),
    "break-glass-expired": ("school-staff", "edu", "staff-old", f"school:{SCHOOL}"),
    "other-school-officer": ("coordinator", "edu", "officer-2", f"school:{OTHER_SCHOOL}"),
    "volunteers-coordinator": ("coordinator", "cyl", "cyl-1", "city"),
    "health-system": ("department-system", "hlth", "hlth-sys", ""),
    "viewer": ("viewer", "edu", "dashboard", "city"),
}

# The matrix: Y allowed, - refused (403). Columns follow ACTIONS.
MATRIX = """
caller                  read tag visit assign status consent refer erase goal review-goal follow-up schedule teach who-viewed alerts
district-officer        Y    Y   Y     Y      Y      Y       Y     Y     Y    Y           Y         Y        Y     Y          Y
care-lead               Y    Y   Y     Y      Y      Y       Y     -     Y    Y           Y         Y        Y     Y          Y
team-lead               Y    Y   Y     Y      Y      Y       Y     -     Y    Y           Y         Y        Y     -          -
psychology              Y    -   Y     -      -      -       Y     -     -    Y           Y         -        -     -          -
mentor-teacher          Y    -   Y     -      -      -       -     -     -    -           Y         -        Y     -          -
volunteer-mentor        Y    -   -     -      -      -       -     -     -    -           -         -        -     -          -
moved-teacher           -    -   -     -      -      -       -     -     -    -           -         -        -     -          -
unassigned-staff        -    -   -     -      -      -       -     -     -    -           -         -        -     -          -
break-glass             Y    -   -     -      -      -       -     -     -    -           -         -        -     -          -
break-glass-expired     -    -   -     -      -      -       -     -     -    -           -         -        -     -          -
other-school-officer    -    -   -     -      -      -       -     -     -    -           -         -        -     -          -
volunteers-coordinator  -    -   -     -      -      -       -     -     -    -           -         -        -     -          -
health-system           -    -   -     -      -      -       -     -     -    -           -         -        -     -          -
viewer                  -    -   -     -      -      -       -     -     -    -           -         -        -     -          -
"""  # noqa: E501

# Fields each reader sees: a volunteer mentor only who, where and when next.
READS: dict[str, set[str]] = {
    "volunteer-mentor": {"name", "class", "next_visit"},
    "mentor-teacher": {
        "name", "class", "status", "categories", "evidence", "team", "visits",
        "visit_notes", "next_visit", "next_review", "plan", "follow_ups", "home_teaching",
    },
}  # fmt: skip


def expected() -> dict[tuple[str, str], bool]:
    lines = [line.split() for line in MATRIX.strip().splitlines()]
    header, rows = lines[0][1:], lines[1:]
    assert tuple(header) == ACTIONS
    return {
        (row[0], action): mark == "Y"
        for row in rows
        for action, mark in zip(header, row[1:], strict=True)
    }


class Care:
    def __init__(self, client: httpx.AsyncClient, issuer: DevIssuer) -> None:
        self.client = client
        self.issuer = issuer
        self.file_id = ""
        self.erase_target = ""
        self.goal_id = ""

    @property
    def app(self) -> CareApplication:
        return self.client._transport.app.state.application  # type: ignore[attr-defined,no-any-return]

    def token(self, caller: str) -> str:
        role, department, subject, scope = CALLERS[caller]
        return self.issuer.token(role=role, department=department, subject=subject, scope=scope)

    async def as_(self, caller: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.token(caller)}"}
        )

    async def ok(self, caller: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self.as_(caller, method, path, body)
        assert response.status_code in (200, 201), response.text
        return response.json()  # type: ignore[no-any-return]

    async def new_file(self) -> str:
        answer = await self.ok(
            "care-lead",
            "POST",
            "/files",
            {
                "school_id": SCHOOL,
                "class_id": "g5-c2",
                "name": "李小明",
            },
        )
        file_id = str(answer["file_id"])
        for account, role, kind in (
            ("teacher-lead", "lead", "teacher"),
            ("psy-1", "psychology", "teacher"),
            ("mentor-1", "mentor", "teacher"),
            ("mentor-2", "mentor", "teacher"),
            (VOLUNTEER, "mentor", "volunteer"),
        ):
            await self.ok(
                "care-lead",
                "POST",
                f"/files/{file_id}/team",
                {"account": account, "role": role, "kind": kind},
            )
        return file_id

    async def seed(self) -> None:
        await self.ok(
            "district-officer", "PUT", f"/schools/{SCHOOL}/care-lead", {"account": "care-lead-1"}
        )
        # The volunteers service published the volunteer's passed check (a reaction, not a call).
        passed = BackgroundCheckRecorded(
            volunteer_id=VOLUNTEER, check_id="chk-1", outcome="passed", expires_on=date(2099, 1, 1)
        )
        self.app.learn_checks("care-volunteer-checks", 1, [passed])
        self.file_id = await self.new_file()
        await self.ok(
            "break-glass",
            "POST",
            f"/files/{self.file_id}/break-glass",
            {"reason": "fire drill injury"},
        )
        real = self.app.deadline_clock
        self.app.deadline_clock = ManualClock(real.now() - timedelta(hours=5))
        try:
            await self.ok(
                "break-glass-expired",
                "POST",
                f"/files/{self.file_id}/break-glass",
                {"reason": "old emergency"},
            )
        finally:
            self.app.deadline_clock = real
        await self.ok("care-lead", "PUT", f"/files/{self.file_id}/home-teaching", self.schedule)
        today = city_day(datetime.now(UTC))
        goal = {"goal": "joins a club", "review_on": (today + timedelta(days=20)).isoformat()}
        answer = await self.ok("care-lead", "POST", f"/files/{self.file_id}/goals", goal)
        self.goal_id = str(answer["goal_id"])

    @property
    def schedule(self) -> dict[str, Any]:
        today = city_day(datetime.now(UTC))
        return {
            "teacher": "mentor-1",
            "sessions_per_week": 2,
            "starts_on": (today - timedelta(days=7)).isoformat(),
            "ends_on": (today + timedelta(days=90)).isoformat(),
            "reason": "recovering from surgery at home",
        }

    async def attempt(self, caller: str, action: str) -> httpx.Response:
        fid = self.file_id
        today = city_day(datetime.now(UTC))
        if action == "read":
            return await self.as_(caller, "GET", f"/files/{fid}")
        if action == "tag":
            body = {"category": "left-behind", "evidence": "parents work in Suzhou",
                    "review_on": (today + timedelta(days=60)).isoformat()}  # fmt: skip
            return await self.as_(caller, "POST", f"/files/{fid}/categories", body)
        if action == "visit":
            body = {
                "visited_on": today.isoformat(),
                "mode": "home",
                "visitors": ["head-teacher", "volunteer"],
                "notes": "grandmother well",
            }
            return await self.as_(caller, "POST", f"/files/{fid}/visits", body)
        if action == "assign":
            body = {"account": "extra-teacher", "role": "mentor", "kind": "teacher"}
            return await self.as_(caller, "POST", f"/files/{fid}/team", body)
        if action == "status":
            status = {"open": "monitoring", "monitoring": "open"}[
                self.app.file(UUID(self.file_id)).status
            ]
            body = {"status": status, "reason": "settled at home"}
            return await self.as_(caller, "POST", f"/files/{fid}/status", body)
        if action == "consent":
            body = {"purpose": "psychological-support", "recipients": ["hlth"],
                    "guardian": "李奶奶", "granted_on": today.isoformat()}  # fmt: skip
            return await self.as_(caller, "POST", f"/files/{fid}/consents", body)
        if action == "refer":
            body = {
                "department": "jus",
                "purpose": "protection",
                "legal_basis": "minors-protection-law",
            }
            return await self.as_(caller, "POST", f"/files/{fid}/referrals", body)
        if action == "goal":
            body = {"goal": "reads with a partner twice a week",
                    "review_on": (today + timedelta(days=30)).isoformat()}  # fmt: skip
            return await self.as_(caller, "POST", f"/files/{fid}/goals", body)
        if action == "review-goal":
            body = {"outcome": "continued", "note": "joined the chess club",
                    "next_review_on": (today + timedelta(days=40)).isoformat()}  # fmt: skip
            return await self.as_(
                caller, "POST", f"/files/{fid}/goals/{self.goal_id}/reviews", body
            )
        if action == "schedule":
            return await self.as_(caller, "PUT", f"/files/{fid}/home-teaching", self.schedule)
        if action == "follow-up":
            body = {"on": today.isoformat(), "mode": "talk", "notes": "calmer this week"}
            return await self.as_(caller, "POST", f"/files/{fid}/follow-ups", body)
        if action == "teach":
            body = {"delivered_on": today.isoformat(), "hours": 1.5, "subject": "maths",
                    "teacher": "mentor-1", "notes": "fractions"}  # fmt: skip
            return await self.as_(caller, "POST", f"/files/{fid}/home-teaching/sessions", body)
        if action == "who-viewed":
            return await self.as_(caller, "GET", f"/files/{fid}/access-log")
        if action == "alerts":
            return await self.as_(caller, "GET", f"/schools/{SCHOOL}/break-glass")
        assert action == "erase"
        return await self.as_(caller, "POST", f"/files/{self.erase_target}/erase", {})


@pytest.fixture
async def care(tmp_path: Path) -> AsyncIterator[Care]:
    issuer = DevIssuer(tmp_path / "keys")
    settings = Settings(
        state_dir=tmp_path / "state",
        auth_jwks_url=str(issuer.jwks_path),
        relay_in_process=False,  # no bus needed: the matrix is about the API alone
    )
    async with running(create_service(settings)) as client:
        care = Care(client, issuer)
        await care.seed()
        yield care


def test_the_matrix_covers_every_route() -> None:
    paths = {route.path for route in router.routes if isinstance(route, APIRoute)}
    assert paths == {
        "/schools/{school_id}/care-lead",
        "/files",
        "/intakes/{intake_id}/file",
        "/files/{file_id}",
        "/files/{file_id}/categories",
        "/files/{file_id}/reviews",
        "/files/{file_id}/team",
        "/files/{file_id}/team/{account}/release",
        "/files/{file_id}/visits",
        "/files/{file_id}/status",
        "/files/{file_id}/break-glass",
        "/files/{file_id}/erase",
        "/files/{file_id}/consents",
        "/consents/{consent_id}/withdrawal",
        "/files/{file_id}/referrals",
        "/referrals/{referral_id}/answer",
        "/referrals/{referral_id}",
        "/files/{file_id}/goals",
        "/files/{file_id}/goals/{goal_id}/reviews",
        "/files/{file_id}/follow-ups",
        "/files/{file_id}/home-teaching",
        "/files/{file_id}/home-teaching/sessions",
        "/files/{file_id}/access-log",
        "/schools/{school_id}/break-glass",
    }, "a new route needs its row in the matrix"


async def test_every_caller_against_every_read_and_command(care: Care) -> None:
    wrong: list[str] = []
    log = care.app.privacy.log
    for (caller, action), allowed in expected().items():
        if action == "erase":  # erasing is for good: each attempt gets a file of its own
            care.erase_target = await care.new_file()
        before_log = len(log.who_viewed(care.file_id))
        before_head = care.app.recorder.max_notification_id()
        response = await care.attempt(caller, action)
        if (response.status_code in (200, 201)) != allowed:
            wrong.append(f"{caller} {action}: {response.status_code} {response.text[:120]}")
            continue
        if not allowed:
            if response.status_code != 403 or response.json()["code"] not in (
                "forbidden",
                "no-basis-for-sharing",
            ):
                wrong.append(f"{caller} {action}: not a 403 problem: {response.text[:120]}")
            if care.app.recorder.max_notification_id() != before_head:
                wrong.append(f"{caller} {action}: a refusal appended events")
            # A school's alerts name no child to whoever is refused them.
            audited = action not in ("erase", "alerts")
            if audited and len(log.who_viewed(care.file_id)) != before_log + 1:
                wrong.append(f"{caller} {action}: the refusal is not in the access log")
        elif action == "read":
            view = response.json()
            if caller in READS and set(view["fields"]) != READS[caller]:
                wrong.append(f"{caller} read fields {view['fields']}")
            if caller == "volunteer-mentor" and (
                {"categories", "screenings", "visits"} & set(view)
            ):
                wrong.append(f"a volunteer mentor saw {sorted(view)}")
            if len(log.who_viewed(care.file_id)) != before_log + 1:
                wrong.append(f"{caller} read: not in the access log")
        elif action in ("who-viewed", "alerts") and (
            len(log.who_viewed(care.file_id)) != before_log + 1
        ):
            # Reading who viewed a child, or an alert's reason, is itself in the log.
            wrong.append(f"{caller} {action}: not in the access log")
    assert not wrong, "\n".join(wrong)


async def test_the_access_log_chain_holds_after_the_matrix(care: Care) -> None:
    await care.attempt("care-lead", "read")
    await care.attempt("viewer", "read")
    assert care.app.privacy.log.verify().ok
    outcomes = [e.outcome for e in care.app.privacy.log.who_viewed(care.file_id)]
    assert outcomes[-2:] == ["allowed", "denied"]


async def test_supervisors_see_break_glass_with_reason_and_who_viewed(care: Care) -> None:
    # The care lead sees both emergency accesses: the open one and the one that ran out.
    alerts = (await care.ok("care-lead", "GET", f"/schools/{SCHOOL}/break-glass"))["alerts"]
    by_account = {a["account"]: a for a in alerts}
    assert by_account["staff-bg"]["reason"] == "fire drill injury"
    assert by_account["staff-bg"]["open"] is True
    assert by_account["staff-old"]["open"] is False
    # Who viewed this child: the district reads the log, newest first, paged.
    await care.attempt("viewer", "read")
    first = await care.ok("district-officer", "GET", f"/files/{care.file_id}/access-log?limit=2")
    assert [e["outcome"] for e in first["entries"]] == ["denied", "allowed"]
    assert first["entries"][0]["role"] == "viewer"
    assert first["entries"][1]["purpose"] == "break-glass alerts"
    after = await care.ok(
        "district-officer",
        "GET",
        f"/files/{care.file_id}/access-log?limit=2&before={first['next_before']}",
    )
    assert after["entries"][0]["seq"] < first["entries"][-1]["seq"]
    # The district's own look at the log is the newest entry now.
    newest = care.app.privacy.log.who_viewed(care.file_id)[-1]
    assert (newest.subject, newest.fields) == ("officer-1", ("access-log",))
