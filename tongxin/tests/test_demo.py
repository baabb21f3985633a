"""The demo city: its content makes sense, loading it is safe to repeat, and each service's
part loads once per state folder."""

from __future__ import annotations

import io
import json
import sys
import types
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from rich.console import Console

from contracts.platform import load_data, load_platform, parse_platform
from services.kit.auth import DevIssuer
from tongxin import demo
from tongxin.demo import core
from tongxin.demo import volunteers as vdemo
from tongxin.demo.volunteers import PLAN

ANCHOR = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def volunteers_demo_only(data: dict | None = None):
    """The manifest with the volunteers' demo part only: these tests fake its APIs alone."""
    data = data or load_data()
    for process in data["processes"]:
        if process["name"] != "volunteers":
            process.pop("demo", None)
    return parse_platform(data)


VOLUNTEERS = volunteers_demo_only()


def test_content_is_a_small_realistic_city() -> None:
    assert 3 <= len(PLAN.schools) <= 6
    assert all(s.id.startswith("yz-") for s in PLAN.schools)
    assert 10 <= len(PLAN.volunteers) <= 15
    assert {v.kind for v in PLAN.volunteers} == {
        "parent",
        "five-elders",
        "youth",
        "teacher",
        "professional",
    }
    outcomes = Counter(v.check for v in PLAN.volunteers)
    assert outcomes["passed"] > len(PLAN.volunteers) / 2
    assert outcomes["failed"] == 1
    assert 5 <= len(PLAN.shifts) <= 8
    assert {s.post for s in PLAN.shifts} == {"safety-post", "library", "after-school", "lecture"}
    assert any(s.child_facing for s in PLAN.shifts)
    assert any(not s.child_facing for s in PLAN.shifts)
    schools = {s.id for s in PLAN.schools}
    assert {v.school_id for v in PLAN.volunteers} <= schools
    assert {s.school_id for s in PLAN.shifts} <= schools
    assert len({v.key for v in PLAN.volunteers}) == len(PLAN.volunteers)
    assert len({s.key for s in PLAN.shifts}) == len(PLAN.shifts)


def test_child_facing_sign_ups_are_by_volunteers_whose_check_passes() -> None:
    for shift in PLAN.shifts:
        if not shift.child_facing:
            continue
        start = core.local_time(ANCHOR, shift.days_before, shift.starts)
        for key in shift.sign_ups:
            assert PLAN.volunteer(key).check == "passed", (shift.key, key)
            assert vdemo.check_expiry(ANCHOR) >= start.date()


def test_sign_ups_fit_and_attendance_credits_hours() -> None:
    now = ANCHOR
    for shift in PLAN.shifts:
        assert len(shift.sign_ups) <= shift.capacity
        assert len(set(shift.sign_ups)) == len(shift.sign_ups)
        starts = core.local_time(ANCHOR, shift.days_before, shift.starts)
        ends = core.local_time(ANCHOR, shift.days_before, shift.ends)
        assert starts < ends and ends - starts <= timedelta(hours=24)
        for attendance in shift.attendance:
            assert attendance.volunteer in shift.sign_ups
            check_in = core.local_time(ANCHOR, shift.days_before, attendance.check_in)
            check_out = core.local_time(ANCHOR, shift.days_before, attendance.check_out)
            assert check_in < check_out <= now  # explicit, past times
    assert sum(len(s.attendance) for s in PLAN.shifts) >= 8


def test_anchor_is_fixed_on_first_load(tmp_path: Path) -> None:
    first = core.load_anchor(tmp_path, now=ANCHOR)
    assert core.load_anchor(tmp_path, now=ANCHOR + timedelta(days=3)) == first == ANCHOR


def test_police_event_is_a_structured_cloudevent() -> None:
    passed = PLAN.volunteer("v01")
    failed = next(v for v in PLAN.volunteers if v.check == "failed")
    vid = str(uuid.uuid4())
    event = vdemo.check_event(passed, vid, "CHK-1", ANCHOR)
    assert event["specversion"] == "1.0"
    assert event["type"] == "org.tongxin.checks.background-check-completed.v1"
    assert event["source"] == "/pol/checks"
    assert event["subject"] == vid
    assert event["data"] == {
        "check_id": "CHK-1",
        "volunteer_id": vid,
        "outcome": "passed",
        "completed_at": "2026-11-23T02:00:00Z",
        "expires_on": "2027-11-23",
    }
    assert "expires_on" not in vdemo.check_event(failed, vid, "CHK-2", ANCHOR)["data"]
    assert event == vdemo.check_event(passed, vid, "CHK-1", ANCHOR)  # deterministic


class FakeServices:
    """Just enough of the volunteers and ingest APIs, with Idempotency-Key replay."""

    def __init__(self, issuer: DevIssuer, fail_after: int | None = None) -> None:
        self.issuer = issuer
        self.fail_after = fail_after
        self.commands = 0
        self.replayed: dict[tuple[str, str], tuple[str, httpx.Response]] = {}
        self.volunteers: dict[str, dict] = {}
        self.shifts: dict[str, dict] = {}
        self.events: list[dict] = []
        self.requests: list[httpx.Request] = []

    def claims(self, request: httpx.Request) -> dict:
        token = request.headers["authorization"].removeprefix("Bearer ")
        return jwt.decode(token, options={"verify_signature": False})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET":
            vid = request.url.path.rsplit("/", 1)[1]
            return httpx.Response(200, json=self.volunteers[vid])
        key = request.headers["idempotency-key"]
        claims = self.claims(request)
        body = request.content.decode()
        memo = (claims["sub"], key)
        if memo in self.replayed:
            first_body, response = self.replayed[memo]
            assert first_body == body, f"{key} repeated with another body"
            return httpx.Response(response.status_code, json=response.json())
        self.commands += 1
        if self.fail_after is not None and self.commands > self.fail_after:
            raise httpx.ConnectError("the service went away")
        response = self.handle(request, claims, json.loads(body))
        self.replayed[memo] = (body, response)
        return response

    def handle(self, request: httpx.Request, claims: dict, body: dict) -> httpx.Response:
        path = request.url.path.strip("/").split("/")
        if request.url.port == 9002:
            assert path == ["events"]
            assert request.headers["content-type"] == "application/cloudevents+json"
            assert (claims["role"], claims["department"]) == ("department-system", "pol")
            data = body["data"]
            check = self.volunteers[data["volunteer_id"]]["check"]
            assert check["check_id"] == data["check_id"]
            check |= {"status": data["outcome"], "expires_on": data.get("expires_on")}
            self.events.append(body)
            return httpx.Response(202, json={"accepted": body["id"]})
        assert (claims["role"], claims["department"], claims["scope"]) == (
            "coordinator",
            "cyl",
            "city",
        )
        if path == ["volunteers"]:
            vid = str(uuid.uuid4())
            self.volunteers[vid] = body | {
                "volunteer_id": vid,
                "check": {"status": "none", "check_id": None, "expires_on": None},
                "hours": 0.0,
            }
            return httpx.Response(201, json={"volunteer_id": vid, "version": 1})
        if path[0] == "volunteers" and path[2] == "background-checks":
            check_id = f"POL-{uuid.uuid4().hex[:8]}"
            self.volunteers[path[1]]["check"] |= {"status": "requested", "check_id": check_id}
            return httpx.Response(202, json={"volunteer_id": path[1], "check_id": check_id})
        if path == ["shifts"]:
            sid = str(uuid.uuid4())
            self.shifts[sid] = body | {"places": {}}
            return httpx.Response(201, json={"shift_id": sid, "version": 1})
        shift = self.shifts[path[1]]
        vid = body["volunteer_id"]
        if path[2] == "sign-ups":
            if shift["child_facing"]:
                assert self.volunteers[vid]["check"]["status"] == "passed"
            assert len(shift["places"]) < shift["capacity"]
            shift["places"][vid] = {}
            return httpx.Response(200, json={"shift_id": path[1]})
        if path[2] == "check-ins":
            shift["places"][vid]["in"] = datetime.fromisoformat(body["at"])
            return httpx.Response(200, json={"shift_id": path[1]})
        assert path[2] == "check-outs"
        hours = (datetime.fromisoformat(body["at"]) - shift["places"][vid]["in"]).seconds / 3600
        return httpx.Response(200, json={"hours": round(hours, 2)})


ENDPOINTS = demo.Endpoints(
    {"volunteers": "http://127.0.0.1:9001", "ingest": "http://127.0.0.1:9002"}
)


def load(tmp_path: Path, fake: FakeServices, **options) -> dict[str, dict]:
    return demo.load_demo(
        ENDPOINTS,
        tmp_path,
        issuer=fake.issuer,
        console=Console(file=io.StringIO()),
        transport=httpx.MockTransport(fake),
        travel_timeout_s=2,
        retry_delay_s=0.01,
        platform=VOLUNTEERS,
        **options,
    )


def test_load_goes_through_the_apis_and_marks_completion(tmp_path: Path) -> None:
    fake = FakeServices(DevIssuer(tmp_path / "keys"))
    assert [p.name for p in demo.pending(tmp_path, VOLUNTEERS)] == ["volunteers"]
    loaded = load(tmp_path, fake)["volunteers"]
    assert len(loaded["volunteers"]) == len(PLAN.volunteers)
    assert len(loaded["shifts"]) == len(PLAN.shifts)
    assert len(fake.events) == len(PLAN.checks_answered)
    assert loaded["hours"] > 10
    posts = [r for r in fake.requests if r.method == "POST"]
    keys = [r.headers.get("idempotency-key") for r in posts]
    assert all(key and key.startswith("demo-") for key in keys)
    assert len(set(keys)) == len(keys)
    marker = json.loads(demo.marker_path(tmp_path, "volunteers").read_text())
    assert (
        marker["volunteers"]
        == loaded["volunteers"]
        == {v: fake.volunteers[i]["volunteer_id"] for v, i in loaded["volunteers"].items()}
    )
    assert demo.is_loaded(tmp_path, "volunteers")
    assert demo.pending(tmp_path, VOLUNTEERS) == ()


def test_an_interrupted_load_resumes_without_duplicates(tmp_path: Path) -> None:
    fake = FakeServices(DevIssuer(tmp_path / "keys"), fail_after=20)
    with pytest.raises(demo.DemoError, match="the service went away"):
        load(tmp_path, fake)
    assert not demo.is_loaded(tmp_path, "volunteers")
    fake.fail_after = None
    loaded = load(tmp_path, fake)["volunteers"]
    assert demo.is_loaded(tmp_path, "volunteers")
    assert len(fake.volunteers) == len(PLAN.volunteers)  # nothing registered twice
    assert len(fake.shifts) == len(PLAN.shifts)
    assert set(loaded["volunteers"].values()) == set(fake.volunteers)


def test_the_old_single_marker_means_the_volunteers_part_is_in(tmp_path: Path) -> None:
    (tmp_path / demo.LEGACY_MARKER).write_text("{}")
    assert demo.is_loaded(tmp_path, "volunteers")
    assert demo.pending(tmp_path, VOLUNTEERS) == ()


def with_extra_demo(name: str, module: str, boundary: str = "alliance"):
    """A copy of the manifest where a new service takes `boundary` (its process removed)."""
    data = load_data()
    volunteers_demo_only(data)
    data["processes"] = [p for p in data["processes"] if p.get("boundary") != boundary]
    gateway = next(p for p in data["processes"] if p["kind"] == "gateway")
    gateway["features"] = [f for f in gateway["features"] if f.get("service") != boundary]
    data["processes"].insert(
        1,
        {"name": name, "kind": "service", "module": f"services.{name}", "port": 8099,
         "boundary": boundary, "database": name, "title": f"{name} API", "demo": module},
    )  # fmt: skip
    return parse_platform(data)


def test_a_new_service_demo_loads_on_a_state_that_has_the_volunteers(tmp_path: Path) -> None:
    (tmp_path / demo.LEGACY_MARKER).write_text("{}")  # a state folder from before the split
    for process in load_platform().services():  # and every other service's part loaded
        if process.demo and process.name != "volunteers":
            demo.marker_path(tmp_path, process.name).write_text("{}")
    calls: list[str] = []

    def load_trial(run: demo.DemoRun) -> dict:
        calls.append(run.endpoints.of("trial"))
        return {"trial": 3}

    module = types.ModuleType("tongxin_test_trial_demo")
    module.load = load_trial  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        platform = with_extra_demo("trial", module.__name__)
        pending = demo.pending(tmp_path, platform)
        assert [p.name for p in pending] == ["trial"]
        fake = FakeServices(DevIssuer(tmp_path / "keys"))
        endpoints = demo.Endpoints(ENDPOINTS.urls | {"trial": "http://127.0.0.1:9003"})
        loaded = demo.load_demo(
            endpoints,
            tmp_path,
            only=pending,
            issuer=fake.issuer,
            console=Console(file=io.StringIO()),
            transport=httpx.MockTransport(fake),
        )
    finally:
        del sys.modules[module.__name__]
    assert calls == ["http://127.0.0.1:9003"]
    assert loaded["trial"]["trial"] == 3
    assert fake.requests == []  # the volunteers' part was not loaded again
    assert demo.pending(tmp_path, platform) == ()


def test_every_demo_module_of_the_manifest_has_a_loader() -> None:
    parts = demo.with_demo(load_platform())
    assert [p.name for p in parts] == [p.name for p in load_platform().services() if p.demo]
    for process in parts:
        assert callable(demo.loader_of(process))
