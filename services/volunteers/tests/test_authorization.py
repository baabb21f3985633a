"""The authorization matrix: every role x department x action of the volunteers API, over HTTP.

What each caller should be allowed is written here from the intent, not read from
services/volunteers/policy.py: the Youth League (cyl) owns the service; the Education
Bureau's school staff and the five-elders committee's coordinators are granted it; staff
act only for schools in their scope; a volunteer reads shifts and acts for themself.
Erasing a volunteer, and reading who viewed their data, is for the owner's admins and
coordinators only, in their scope; the volunteer reads who viewed their own data too.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from contracts.departments import load_ownership_map
from services.kit.auth import ROLES, DevIssuer
from services.kit.settings import Settings
from services.volunteers.api import router
from services.volunteers.main import create_service
from services.volunteers.policy import POLICY
from tests.support.apps import running

SCHOOL = "yz-dongguan-primary"
DEPARTMENTS: tuple[str | None, ...] = (
    None,
    *(d.code for d in load_ownership_map().departments),
)
STAFF = {"admin", "coordinator", "school-staff"}
GRANTED = {("edu", "school-staff"), ("ccng", "coordinator")}
SELF_SERVICE = {
    "read-volunteer",
    "rename-volunteer",
    "sign-up",
    "cancel-sign-up",
    "read-access-log",
}
SUPERVISORS = {"admin", "coordinator"}
OWNER_ONLY = {"erase-volunteer", "read-access-log"}
# Authorised id by id with read-volunteer: answers 200 with each id allowed or denied.
NAMES = ("POST", "/volunteers/names")

# Every route of the API, by the action the policy calls it.
ACTIONS: dict[str, tuple[str, str]] = {
    "register-volunteer": ("POST", "/volunteers"),
    "read-volunteer": ("GET", "/volunteers/{volunteer_id}"),
    "list-volunteers-by-name": ("GET", "/volunteers"),
    "rename-volunteer": ("PUT", "/volunteers/{volunteer_id}/display-name"),
    "erase-volunteer": ("POST", "/volunteers/{volunteer_id}/erase"),
    "read-access-log": ("GET", "/volunteers/{volunteer_id}/access-log"),
    "request-background-check": ("POST", "/volunteers/{volunteer_id}/background-checks"),
    "publish-shift": ("POST", "/shifts"),
    "read-shift": ("GET", "/shifts/{shift_id}"),
    "sign-up": ("POST", "/shifts/{shift_id}/sign-ups"),
    "cancel-sign-up": ("POST", "/shifts/{shift_id}/cancellations"),
    "check-in": ("POST", "/shifts/{shift_id}/check-ins"),
    "check-out": ("POST", "/shifts/{shift_id}/check-outs"),
}


def intended(
    role: str, department: str | None, action: str, *, is_self: bool = False, covers: bool = True
) -> bool:
    if role == "volunteer":
        return action == "read-shift" or (is_self and action in SELF_SERVICE)
    if role not in STAFF:
        return False
    if action in OWNER_ONLY:
        return role in SUPERVISORS and department == "cyl" and covers
    acts_here = department == "cyl" or (department, role) in GRANTED
    return acts_here and covers


def shift_body(school: str) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(days=3)
    return {
        "school_id": school,
        "post": "library",
        "title": "Library hour",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "capacity": 500,
        "child_facing": False,
    }


class Api:
    """The volunteers API with one volunteer and one shift at SCHOOL."""

    def __init__(self, client: httpx.AsyncClient, issuer: DevIssuer) -> None:
        self.client = client
        self.issuer = issuer
        self.volunteer_id = ""
        self.shift_id = ""

    async def seed(self) -> None:
        owner = self.issuer.token(role="coordinator", department="cyl", scope="city")
        headers = {"Authorization": f"Bearer {owner}"}
        body = {"display_name": "Chen Jing", "kind": "parent", "school_id": SCHOOL}
        response = await self.client.post("/volunteers", json=body, headers=headers)
        assert response.status_code == 201, response.text
        self.volunteer_id = response.json()["volunteer_id"]
        response = await self.client.post("/shifts", json=shift_body(SCHOOL), headers=headers)
        assert response.status_code == 201, response.text
        self.shift_id = response.json()["shift_id"]

    async def attempt(self, action: str, token: str) -> httpx.Response:
        method, template = ACTIONS[action]
        path = template.format(volunteer_id=self.volunteer_id, shift_id=self.shift_id)
        body: dict[str, Any] | None = None
        params = {"school_id": SCHOOL} if action == "list-volunteers-by-name" else None
        if action == "register-volunteer":
            body = {"display_name": "Wang Fang", "kind": "youth", "school_id": SCHOOL}
        elif action == "publish-shift":
            body = shift_body(SCHOOL)
        elif action in {"sign-up", "cancel-sign-up", "check-in", "check-out"}:
            body = {"volunteer_id": self.volunteer_id}
        elif action == "rename-volunteer":
            body = {"display_name": "Chen Jing"}
        elif action in {"request-background-check", "erase-volunteer"}:
            body = {}
        return await self.client.request(
            method, path, json=body, params=params, headers={"Authorization": f"Bearer {token}"}
        )

    def head(self) -> int:
        app = self.client._transport.app  # type: ignore[attr-defined]
        return app.state.application.recorder.max_notification_id() or 0  # type: ignore[no-any-return]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    issuer = DevIssuer(tmp_path / "keys")
    settings = Settings(
        state_dir=tmp_path / "state",
        auth_jwks_url=str(issuer.jwks_path),
        relay_in_process=False,  # no bus needed: the matrix is about the API alone
    )
    async with running(create_service(settings)) as client:
        api = Api(client, issuer)
        await api.seed()
        yield api


def test_the_matrix_names_every_route_and_every_rule() -> None:
    routes = {
        (method, route.path)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert routes == set(ACTIONS.values()) | {NAMES}
    assert set(POLICY.rules) == set(ACTIONS)
    assert POLICY.owner == load_ownership_map().owner_of("volunteers").code == "cyl"


async def assert_outcome(api: Api, action: str, token: str, allowed: bool, who: str) -> None:
    before = api.head()
    response = await api.attempt(action, token)
    if allowed:
        assert response.status_code != 403, f"{who} was refused {action}: {response.text}"
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 403, f"{who} was let {action}: {response.status_code}"
        assert response.json()["code"] == "forbidden"
        assert api.head() == before, f"a refused {action} by {who} changed the store"


async def test_every_role_of_every_department_on_every_action(api: Api) -> None:
    for role, department, action in itertools.product(ROLES, DEPARTMENTS, ACTIONS):
        token = api.issuer.token(
            role=role, department=department, subject=f"{role}-{department}", scope="city"
        )
        allowed = intended(role, department, action)
        await assert_outcome(api, action, token, allowed, f"a city {role} of {department}")


async def test_staff_act_only_for_the_schools_in_their_scope(api: Api) -> None:
    scopes = {f"school:{SCHOOL}": True, "school:another-school": False, "community:c1": False}
    acting = [(r, d) for r in sorted(STAFF) for d in DEPARTMENTS if intended(r, d, "check-in")]
    assert len(acting) == 5  # cyl's three staff roles, edu's school staff, ccng's coordinators
    for (role, department), (scope, covers), action in itertools.product(
        acting, scopes.items(), ACTIONS
    ):
        token = api.issuer.token(role=role, department=department, scope=scope)
        allowed = intended(role, department, action, covers=covers)
        await assert_outcome(api, action, token, allowed, f"a {role} of {department} in {scope}")


async def test_a_volunteer_acts_for_themself_only(api: Api) -> None:
    for department, action in itertools.product((None, "cyl", "pol"), ACTIONS):
        me = api.issuer.token(role="volunteer", department=department, subject=api.volunteer_id)
        await assert_outcome(
            api, action, me, intended("volunteer", department, action, is_self=True), "themself"
        )
        someone = api.issuer.token(role="volunteer", department=department, subject="other")
        await assert_outcome(
            api, action, someone, intended("volunteer", department, action), "another volunteer"
        )


async def test_a_refused_caller_learns_nothing_of_what_exists(api: Api) -> None:
    stranger = api.issuer.token(role="coordinator", department="pol", scope="city")
    missing = "00000000-0000-4000-8000-000000000000"
    response = await api.client.get(
        f"/shifts/{missing}", headers={"Authorization": f"Bearer {stranger}"}
    )
    assert response.status_code == 403


async def test_names_are_given_id_by_id_to_those_who_may_read_the_volunteer(api: Api) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for role, department in itertools.product(ROLES, DEPARTMENTS):
        token = api.issuer.token(role=role, department=department, scope="city")
        before = api.head()
        response = await api.client.post(
            "/volunteers/names",
            json={"ids": [api.volunteer_id, missing]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        who = f"a {role} of {department}"
        if intended(role, department, "read-volunteer"):
            assert body["names"] == {api.volunteer_id: "Chen Jing"}, who
            assert body["unknown"] == [missing] and body["denied"] == [], who
        else:
            # Refused callers learn nothing, not even which ids exist.
            assert body["names"] == {} and body["unknown"] == [], who
            assert body["denied"] == [api.volunteer_id, missing], who
        assert api.head() == before


async def test_a_volunteer_reads_their_own_name_only(api: Api) -> None:
    me = api.issuer.token(role="volunteer", subject=api.volunteer_id)
    response = await api.client.post(
        "/volunteers/names",
        json={"ids": [api.volunteer_id, "someone-else"]},
        headers={"Authorization": f"Bearer {me}"},
    )
    assert response.json() == {
        "names": {api.volunteer_id: "Chen Jing"},
        "erased": [],
        "denied": ["someone-else"],
        "unknown": [],
    }


async def test_names_in_scope_only(api: Api) -> None:
    for scope, covers in {f"school:{SCHOOL}": True, "school:another-school": False}.items():
        token = api.issuer.token(role="school-staff", department="edu", scope=scope)
        response = await api.client.post(
            "/volunteers/names",
            json={"ids": [api.volunteer_id]},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        assert (api.volunteer_id in body["names"]) is covers, scope
        assert (body["denied"] == [api.volunteer_id]) is not covers, scope
