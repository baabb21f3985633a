"""The GraphQL API over HTTP: auth, limits, reads, and commands forwarded to the service."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from contracts.departments import load_ownership_map
from gateway.main import create_gateway
from gateway.tests.support import (
    CONSUMER,
    Stream,
    checked_out,
    published,
    registered,
    signed_up,
    volunteers_of,
)
from services.kit.auth import ROLES, DevIssuer
from services.kit.settings import Settings


class FakeVolunteers:
    """A stand-in for the volunteers service that records what it was sent."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/{path:path}")
        async def anything(path: str, request: Request) -> JSONResponse:
            body = await request.json()
            raw = request.scope.get("raw_path", b"").decode()
            self.calls.append({"path": raw, "headers": dict(request.headers), "body": body})
            if path == "volunteers":
                return JSONResponse({"volunteer_id": "v-new", "version": 1}, status_code=201)
            if path.endswith("/sign-ups"):
                return JSONResponse(
                    {
                        "type": "https://tongxin.org/problems/shift-full",
                        "title": "Conflict",
                        "status": 409,
                        "detail": "the shift has no place left",
                        "code": "shift-full",
                    },
                    status_code=409,
                    media_type="application/problem+json",
                )
            return JSONResponse({"hours": 2.5})


@pytest.fixture
def fake() -> FakeVolunteers:
    return FakeVolunteers()


@pytest.fixture
async def gateway(
    tmp_path: Path, issuer: DevIssuer, fake: FakeVolunteers
) -> AsyncIterator[FastAPI]:
    settings = Settings(state_dir=tmp_path, auth_jwks_url=str(issuer.jwks_path))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(fake.app), base_url="http://volunteers"
    ) as upstream:
        app = create_gateway(
            settings,
            readmodel_dir=tmp_path,
            start_projector=False,
            http_clients={"volunteers": upstream},
        )
        async with app.router.lifespan_context(app):
            yield app


@pytest.fixture
async def client(gateway: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(gateway), base_url="http://gateway"
    ) as client:
        yield client


@pytest.fixture
def token(issuer: DevIssuer) -> str:
    return issuer.token(role="coordinator", subject="coord-1", department="cyl")


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors", [])]


def feed(gateway: FastAPI, *events: Any) -> None:
    stream = getattr(gateway.state, "test_stream", None) or Stream()
    gateway.state.test_stream = stream
    volunteers_of(gateway).readmodel.apply(CONSUMER, stream(*events))


VOLUNTEERS = """
query($first: Int!, $after: String, $school: String) {
  volunteers(first: $first, after: $after, schoolId: $school) {
    edges { cursor node { id displayName kind checkStatus hours } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class TestAuthentication:
    async def test_no_token_is_refused(self, client, caplog):
        result = await gql(client, "{ volunteers { edges { node { id } } } }")
        assert codes(result) == ["UNAUTHENTICATED"]
        assert result["data"] is None
        # An expected refusal is not logged as a server error.
        assert not [r for r in caplog.records if r.name == "strawberry.execution"]

    async def test_a_forged_token_is_refused(self, client, tmp_path):
        forger = DevIssuer(tmp_path / "other-keys")
        forged = forger.token(role="admin")
        result = await gql(client, '{ shift(id: "x") { id } }', token=forged)
        assert codes(result) == ["UNAUTHENTICATED"]

    async def test_mutations_need_a_token_too(self, client, fake):
        result = await gql(
            client,
            'mutation { checkIn(input: {shiftId: "s", volunteerId: "v"}) { __typename } }',
        )
        assert codes(result) == ["UNAUTHENTICATED"]
        assert fake.calls == []

    async def test_queries_over_get_are_refused(self, client, token):
        response = await client.get(
            "/graphql",
            params={"query": '{ shift(id: "x") { id } }'},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert response.status_code in (400, 405)


class TestLimits:
    async def test_first_above_100_is_bad_user_input(self, client, token):
        result = await gql(client, VOLUNTEERS, {"first": 1000}, token=token)
        assert codes(result) == ["BAD_USER_INPUT"]

    async def test_a_broken_cursor_is_bad_user_input(self, client, token):
        result = await gql(client, VOLUNTEERS, {"first": 1, "after": "nope"}, token=token)
        assert codes(result) == ["BAD_USER_INPUT"]

    async def test_a_depth_bomb_is_refused_before_it_runs(self, client, token):
        inner = "id"
        for _ in range(6):
            inner = f"signUps {{ shift {{ signUps {{ volunteer {{ {inner} }} }} }} }}"
        query = f"{{ volunteers {{ edges {{ node {{ {inner} }} }} }} }}"
        result = await gql(client, query, token=token)
        assert result.get("data") is None
        assert "exceeds maximum operation depth" in result["errors"][0]["message"]

    async def test_too_many_aliases_are_refused(self, client, token):
        aliases = " ".join(f'a{i}: shift(id: "x") {{ id }}' for i in range(40))
        result = await gql(client, f"{{ {aliases} }}", token=token)
        assert result.get("data") is None and result["errors"]


class TestReads:
    async def test_volunteers_page_through_with_cursors(self, gateway, client, token):
        feed(gateway, *(registered(f"v{i}", name) for i, name in enumerate(["Cy", "Al", "Bo"])))

        first = await gql(client, VOLUNTEERS, {"first": 2}, token=token)
        page = first["data"]["volunteers"]
        assert [e["node"]["displayName"] for e in page["edges"]] == ["Al", "Bo"]
        assert page["pageInfo"]["hasNextPage"] is True

        after = page["pageInfo"]["endCursor"]
        second = await gql(client, VOLUNTEERS, {"first": 2, "after": after}, token=token)
        page = second["data"]["volunteers"]
        assert [e["node"]["displayName"] for e in page["edges"]] == ["Cy"]
        assert page["pageInfo"]["hasNextPage"] is False
        assert page["edges"][0]["node"]["kind"] == "PARENT"
        assert page["edges"][0]["node"]["checkStatus"] == "NONE"

    async def test_a_shift_with_its_volunteers_and_school_hours(self, gateway, client, token):
        feed(
            gateway,
            registered("v1", "Li Wei"),
            published("sh1", capacity=2),
            signed_up("sh1", "v1", 1),
            checked_out("sh1", "v1", 2.0),
        )
        result = await gql(
            client,
            """{
              shift(id: "sh1") { title placesFilled placesLeft startsAt
                signUps { status hours volunteer { displayName hours } } }
              missing: shift(id: "nope") { id }
              schoolHours { edges { node { schoolId hours volunteers } } }
            }""",
            token=token,
        )
        assert "errors" not in result
        shift = result["data"]["shift"]
        assert shift["placesFilled"] == 1 and shift["placesLeft"] == 1
        assert shift["startsAt"].startswith("2026-09-01T07:00:00")
        assert shift["signUps"] == [
            {
                "status": "CHECKED_OUT",
                "hours": 2.0,
                "volunteer": {"displayName": "Li Wei", "hours": 2.0},
            }
        ]
        assert result["data"]["missing"] is None
        assert result["data"]["schoolHours"]["edges"] == [
            {"node": {"schoolId": "s1", "hours": 2.0, "volunteers": 1}}
        ]


class TestCommands:
    async def test_register_is_forwarded_as_the_caller(self, client, token, fake):
        result = await gql(
            client,
            """mutation($input: RegisterVolunteerInput!) {
              registerVolunteer(input: $input) {
                __typename
                ... on RegisterVolunteerSuccess { volunteerId version }
                ... on CommandError { code message status }
              }
            }""",
            {
                "input": {
                    "displayName": "Li Wei",
                    "kind": "FIVE_ELDERS",
                    "schoolId": "s1",
                    "idempotencyKey": "k-1",
                }
            },
            token=token,
        )
        assert result["data"]["registerVolunteer"] == {
            "__typename": "RegisterVolunteerSuccess",
            "volunteerId": "v-new",
            "version": 1,
        }
        [call] = fake.calls
        assert call["path"] == "/volunteers"
        assert call["body"] == {"display_name": "Li Wei", "kind": "five-elders", "school_id": "s1"}
        assert call["headers"]["authorization"] == f"Bearer {token}"
        assert call["headers"]["idempotency-key"] == "k-1"

    async def test_a_conflict_becomes_the_error_member(self, client, token, fake):
        result = await gql(
            client,
            """mutation {
              signUp(input: {shiftId: "sh/1", volunteerId: "v1", expectedVersion: 3}) {
                __typename
                ... on SignUpError { code message status }
              }
            }""",
            token=token,
        )
        assert result["data"]["signUp"] == {
            "__typename": "SignUpError",
            "code": "shift-full",
            "message": "the shift has no place left",
            "status": 409,
        }
        [call] = fake.calls
        assert call["path"] == "/shifts/sh%2F1/sign-ups"
        assert call["body"] == {"volunteer_id": "v1", "expected_version": 3}
        assert "idempotency-key" not in call["headers"]

    async def test_check_out_returns_the_hours(self, client, token):
        result = await gql(
            client,
            """mutation {
              checkOut(input: {shiftId: "s", volunteerId: "v", at: "2026-09-01T09:00:00+08:00"}) {
                ... on CheckOutSuccess { hours }
              }
            }""",
            token=token,
        )
        assert result["data"]["checkOut"] == {"hours": 2.5}

    async def test_an_unreachable_service_is_an_error_member(self, tmp_path, issuer, token):
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        settings = Settings(state_dir=tmp_path, auth_jwks_url=str(issuer.jwks_path))
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(refuse), base_url="http://volunteers"
        ) as upstream:
            app = create_gateway(
                settings,
                readmodel_dir=tmp_path,
                start_projector=False,
                http_clients={"volunteers": upstream},
            )
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app), base_url="http://gateway"
                ) as client,
            ):
                result = await gql(
                    client,
                    'mutation { publishShift(input: {schoolId: "s1", post: LIBRARY, title: "T", '
                    'startsAt: "2026-09-01T08:00:00+08:00", endsAt: "2026-09-01T10:00:00+08:00", '
                    "capacity: 2, childFacing: false}) { ... on CommandError { code status } } }",
                    token=token,
                )
        assert result["data"]["publishShift"] == {"code": "volunteers-unavailable", "status": 503}


class TestOperations:
    async def test_readiness_reports_the_read_model(self, client):
        response = await client.get("/readyz")
        assert response.status_code == 200
        checks = response.json()["checks"]
        assert checks == {"readmodel:volunteers": {"ok": True, "positions": {CONSUMER: 0}}}


def people(gateway: FastAPI) -> None:
    """Li (home s1), Wang (home s2) and Zhao (home s2, but signed up at s1)."""
    feed(
        gateway,
        registered("v1", "Li", school="s1"),
        registered("v2", "Wang", school="s2"),
        registered("v3", "Zhao", school="s2"),
        published("sh1", "s1"),
        published("sh2", "s2", day=1),
        signed_up("sh1", "v1", 1),
        checked_out("sh1", "v1", 2.0, school="s1"),
        signed_up("sh1", "v3", 2),
        signed_up("sh2", "v1", 1),
        signed_up("sh2", "v2", 2),
    )


NAMES = (
    "query($school: String) { volunteers(schoolId: $school) { edges { node { displayName } } } }"
)
ONE = "query($id: ID!) { volunteer(id: $id) { displayName signUps { shiftId } } }"
SHIFT_SIGN_UPS = (
    "query($id: ID!) { shift(id: $id) { title signUps { volunteerId volunteer { displayName } } } }"
)


PUBLIC = """{ shifts { edges { node { id placesFilled } } }
              shift(id: "sh1") { title placesLeft }
              schoolHours { edges { node { schoolId hours } } } }"""


def names(result: dict[str, Any]) -> list[str]:
    return [e["node"]["displayName"] for e in result["data"]["volunteers"]["edges"]]


class TestAuthorisation:
    """Personal data is for staff and the volunteer themself, as in the REST API."""

    @pytest.mark.parametrize("role", ["viewer", "department-system", "volunteer"])
    async def test_only_staff_list_volunteers(self, gateway, client, issuer, role, caplog):
        people(gateway)
        token = issuer.token(role=role, subject="v1", department="edu")
        for variables in ({}, {"school": "s1"}):
            result = await gql(client, NAMES, variables, token=token)
            assert codes(result) == ["FORBIDDEN"] and result["data"] is None
        result = await gql(client, ONE, {"id": "v2"}, token=token)
        assert codes(result) == ["FORBIDDEN"] and result["data"] == {"volunteer": None}
        # An expected refusal is not logged as a server error.
        assert not [r for r in caplog.records if r.name == "strawberry.execution"]

    async def test_a_viewer_reads_shifts_and_school_hours_but_not_who_signed_up(
        self, gateway, client, issuer
    ):
        people(gateway)
        token = issuer.token(role="viewer")
        result = await gql(
            client,
            """{ shifts { edges { node { id placesFilled } } }
                 shift(id: "sh1") { title placesLeft }
                 schoolHours { edges { node { schoolId hours volunteers } } } }""",
            token=token,
        )
        assert "errors" not in result
        assert [e["node"] for e in result["data"]["shifts"]["edges"]] == [
            {"id": "sh1", "placesFilled": 2},
            {"id": "sh2", "placesFilled": 2},
        ]
        assert result["data"]["shift"] == {"title": "Gate sh1", "placesLeft": 1}
        assert result["data"]["schoolHours"]["edges"] == [
            {"node": {"schoolId": "s1", "hours": 2.0, "volunteers": 1}}
        ]

        refused = await gql(client, SHIFT_SIGN_UPS, {"id": "sh1"}, token=token)
        assert codes(refused) == ["FORBIDDEN"]
        assert refused["data"] == {"shift": None}
        listed = await gql(
            client, "{ shifts { edges { node { signUps { volunteerId } } } } }", token=token
        )
        assert set(codes(listed)) == {"FORBIDDEN"} and listed["data"] is None

    async def test_personal_data_is_for_the_departments_the_service_is_granted_to(
        self, gateway, client, issuer
    ):
        """Every role of every department (and none), with a city scope: the volunteers
        service belongs to the Youth League; school staff of the Education Bureau and
        coordinators of the Care Committee are granted it; no one else reads who
        volunteers, whatever the role. Shifts and school totals stay open to all."""
        people(gateway)
        staff = {"admin", "coordinator", "school-staff"}
        granted = {("edu", "school-staff"), ("ccng", "coordinator")}
        departments = [d.code for d in load_ownership_map().departments]
        wrong: list[tuple[str, str | None, str, bool]] = []
        for role, department in itertools.product(ROLES, [*departments, None]):
            token = issuer.token(role=role, subject="v1", department=department, scope="city")
            reads_people = role in staff and (department == "cyl" or (department, role) in granted)
            expected = {
                "list": reads_people,
                "another volunteer": reads_people,
                "a shift's sign-ups": reads_people,
                # Self-service: a volunteer's own record, whatever the department.
                "themself": reads_people or role == "volunteer",
                "public facts": True,
            }
            results = {
                "list": await gql(client, NAMES, token=token),
                "another volunteer": await gql(client, ONE, {"id": "v2"}, token=token),
                "a shift's sign-ups": await gql(client, SHIFT_SIGN_UPS, {"id": "sh1"}, token=token),
                "themself": await gql(client, ONE, {"id": "v1"}, token=token),
                "public facts": await gql(client, PUBLIC, token=token),
            }
            for what, result in results.items():
                allowed = "errors" not in result
                if allowed != expected[what] or (
                    not allowed and set(codes(result)) != {"FORBIDDEN"}
                ):
                    wrong.append((role, department, what, allowed))
        assert wrong == []

    async def test_school_staff_see_only_the_schools_in_their_scope(self, gateway, client, issuer):
        people(gateway)
        token = issuer.token(role="school-staff", department="edu", scope="school:s1")

        assert names(await gql(client, NAMES, token=token)) == ["Li"]
        assert names(await gql(client, NAMES, {"school": "s1"}, token=token)) == ["Li"]
        outside = await gql(client, NAMES, {"school": "s2"}, token=token)
        assert codes(outside) == ["FORBIDDEN"] and outside["data"] is None

        mine = await gql(client, ONE, {"id": "v1"}, token=token)
        # Li's sign-up at s2 is not the business of s1's staff.
        assert mine["data"]["volunteer"] == {"displayName": "Li", "signUps": [{"shiftId": "sh1"}]}
        other = await gql(client, ONE, {"id": "v2"}, token=token)
        assert codes(other) == ["FORBIDDEN"] and other["data"] == {"volunteer": None}
        unknown = await gql(client, ONE, {"id": "nobody"}, token=token)
        assert unknown == {"data": {"volunteer": None}}

        # Who comes to s1's shifts, wherever they live; not who goes to s2's.
        at_s1 = await gql(client, SHIFT_SIGN_UPS, {"id": "sh1"}, token=token)
        assert "errors" not in at_s1
        assert at_s1["data"]["shift"]["signUps"] == [
            {"volunteerId": "v1", "volunteer": {"displayName": "Li"}},
            {"volunteerId": "v3", "volunteer": {"displayName": "Zhao"}},
        ]
        at_s2 = await gql(client, SHIFT_SIGN_UPS, {"id": "sh2"}, token=token)
        assert codes(at_s2) == ["FORBIDDEN"] and at_s2["data"] == {"shift": None}

    async def test_school_staff_with_no_school_in_scope_see_no_volunteers(
        self, gateway, client, issuer
    ):
        people(gateway)
        token = issuer.token(role="school-staff", department="edu", scope="community:c1")
        assert names(await gql(client, NAMES, token=token)) == []

    async def test_a_volunteer_sees_themself_but_not_others(self, gateway, client, issuer):
        people(gateway)
        token = issuer.token(role="volunteer", subject="v1")

        own = await gql(
            client,
            'query { volunteer(id: "v1") { displayName hours '
            "signUps { shiftId volunteer { displayName } } } }",
            token=token,
        )
        assert "errors" not in own
        assert own["data"]["volunteer"] == {
            "displayName": "Li",
            "hours": 2.0,
            "signUps": [
                {"shiftId": "sh1", "volunteer": {"displayName": "Li"}},
                {"shiftId": "sh2", "volunteer": {"displayName": "Li"}},
            ],
        }
        # Not others: neither directly nor through a shift they share.
        other = await gql(client, ONE, {"id": "v3"}, token=token)
        assert codes(other) == ["FORBIDDEN"]
        shared = await gql(client, SHIFT_SIGN_UPS, {"id": "sh1"}, token=token)
        assert codes(shared) == ["FORBIDDEN"] and shared["data"] == {"shift": None}

    async def test_a_city_coordinator_sees_everyone(self, gateway, client, issuer):
        people(gateway)
        token = issuer.token(role="coordinator", department="cyl", scope="city")
        assert names(await gql(client, NAMES, token=token)) == ["Li", "Wang", "Zhao"]
        assert names(await gql(client, NAMES, {"school": "s2"}, token=token)) == ["Wang", "Zhao"]
        at_s2 = await gql(client, SHIFT_SIGN_UPS, {"id": "sh2"}, token=token)
        assert [s["volunteer"]["displayName"] for s in at_s2["data"]["shift"]["signUps"]] == [
            "Li",
            "Wang",
        ]
        one = await gql(client, ONE, {"id": "v2"}, token=token)
        assert one["data"]["volunteer"] == {"displayName": "Wang", "signUps": [{"shiftId": "sh2"}]}
