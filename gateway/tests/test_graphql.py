"""The GraphQL API over HTTP: auth, limits, reads, and commands forwarded to the service."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from contracts.departments import load_ownership_map
from gateway.main import create_gateway
from gateway.tests.support import (
    CONSUMER,
    Stream,
    checked_out,
    erased,
    published,
    registered,
    signed_up,
    volunteers_of,
)
from services.kit.auth import ROLES, DevIssuer
from services.kit.settings import Settings

STAFF = {"admin", "coordinator", "school-staff"}
# One volunteer credited at a school: a count of people under five, never shown.
FEWER_THAN_FIVE = {"suppressed": "<5"}


class FakeVolunteers:
    """A stand-in for the volunteers service that records what it was sent.

    Its names lookup answers as the service does, by a simplified rule: staff read every
    name, a volunteer their own, anyone else none.
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}
        self.erased: set[str] = set()
        self.refused: set[str] = set()
        """Ids the service denies whoever asks (its own rules are finer than the gateway's)."""
        self.down = False
        self.app = FastAPI()

        @self.app.post("/volunteers/names")
        async def names(request: Request) -> JSONResponse:
            body = await request.json()
            self.calls.append(
                {"path": "/volunteers/names", "headers": dict(request.headers), "body": body}
            )
            if self.down:
                return JSONResponse({"code": "unavailable"}, status_code=503)
            ids: list[str] = body["ids"]
            assert 1 <= len(ids) <= 100
            claims = jwt.decode(
                request.headers["authorization"].removeprefix("Bearer "),
                options={"verify_signature": False},
            )
            answer: dict[str, Any] = {"names": {}, "erased": [], "denied": [], "unknown": []}
            for vid in ids:
                if vid not in self.names and vid not in self.erased:
                    answer["unknown"].append(vid)
                elif not self.may_read(claims, vid):
                    answer["denied"].append(vid)
                elif vid in self.erased:
                    answer["erased"].append(vid)
                else:
                    answer["names"][vid] = self.names[vid]
            return JSONResponse(answer)

        @self.app.get("/volunteers")
        async def by_name(request: Request) -> JSONResponse:
            # By name among the names it keeps, erased ones last; staff only.
            params = dict(request.query_params)
            self.calls.append(
                {"path": "GET /volunteers", "headers": dict(request.headers), "params": params}
            )
            claims = jwt.decode(
                request.headers["authorization"].removeprefix("Bearer "),
                options={"verify_signature": False},
            )
            if claims["role"] not in STAFF:
                return JSONResponse({"code": "forbidden", "detail": "no"}, status_code=403)
            order = sorted(self.names, key=lambda vid: self.names[vid]) + sorted(self.erased)
            start = order.index(params["after"]) + 1 if "after" in params else 0
            page = order[start : start + int(params["first"])]
            listed = [
                {"volunteer_id": vid, "display_name": self.names.get(vid), "erased": False}
                for vid in page
            ]
            more = len(order) > start + len(page)
            return JSONResponse(
                {
                    "school_id": params["school_id"],
                    "volunteers": listed,
                    "next_cursor": page[-1] if more else None,
                }
            )

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

    def may_read(self, claims: dict[str, Any], vid: str) -> bool:
        if vid in self.refused:
            return False
        return claims["role"] in STAFF or (claims["role"], claims["sub"]) == ("volunteer", vid)


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
        app.state.fake_volunteers = fake
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


def name(gateway: FastAPI, **names: str) -> None:
    """The names the volunteers service keeps (the gateway never sees them in events)."""
    gateway.state.fake_volunteers.names.update(names)


def names_calls(fake: FakeVolunteers) -> list[dict[str, Any]]:
    return [call for call in fake.calls if call["path"] == "/volunteers/names"]


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
        # By registration time: v2 first, then v0 and v1.
        minutes = {"v0": 1, "v1": 2, "v2": 0}
        feed(gateway, *(registered(vid, minute=minute) for vid, minute in minutes.items()))
        name(gateway, v0="Cy", v1="Al", v2="Bo")

        first = await gql(client, VOLUNTEERS, {"first": 2}, token=token)
        page = first["data"]["volunteers"]
        assert [e["node"]["displayName"] for e in page["edges"]] == ["Bo", "Cy"]
        assert page["pageInfo"]["hasNextPage"] is True

        after = page["pageInfo"]["endCursor"]
        second = await gql(client, VOLUNTEERS, {"first": 2, "after": after}, token=token)
        page = second["data"]["volunteers"]
        assert [e["node"]["displayName"] for e in page["edges"]] == ["Al"]
        assert page["pageInfo"]["hasNextPage"] is False
        assert page["edges"][0]["node"]["kind"] == "PARENT"
        assert page["edges"][0]["node"]["checkStatus"] == "NONE"

    async def test_a_shift_with_its_volunteers_and_school_hours(self, gateway, client, token):
        name(gateway, v1="Li Wei")
        feed(
            gateway,
            registered("v1"),
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
              schoolHours { edges { node { schoolId hours volunteers { suppressed } } } }
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
            {"node": {"schoolId": "s1", "hours": 2.0, "volunteers": FEWER_THAN_FIVE}}
        ]

    async def test_open_places_count_the_shifts_yet_to_start(self, gateway, client, token):
        feed(
            gateway,
            registered("v1"),
            registered("v2"),
            published("past", capacity=3),
            published("soon", capacity=3, day=4000),
            published("later", capacity=2, day=4001),
            signed_up("soon", "v1", 1),
            signed_up("later", "v1", 1),
            signed_up("later", "v2", 2),
        )
        result = await gql(client, "{ openPlaces { upcomingShifts placesLeft } }", token=token)
        assert "errors" not in result
        assert result["data"]["openPlaces"] == {"upcomingShifts": 2, "placesLeft": 2}


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
        # One check per feature; the volunteers' read model here is fed by hand.
        assert checks["readmodel:volunteers"] == {"ok": True, "positions": {CONSUMER: 0}}
        assert all(check["ok"] for check in checks.values())


def people(gateway: FastAPI) -> None:
    """Li (home s1), Wang (home s2) and Zhao (home s2, but signed up at s1)."""
    name(gateway, v1="Li", v2="Wang", v3="Zhao")
    feed(
        gateway,
        registered("v1", school="s1"),
        registered("v2", school="s2"),
        registered("v3", school="s2"),
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

    @pytest.mark.parametrize("role", ["department-system", "volunteer"])
    async def test_only_staff_and_viewers_list_volunteers(
        self, gateway, client, issuer, role, caplog
    ):
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
                 schoolHours { edges { node { schoolId hours volunteers { suppressed } } } } }""",
            token=token,
        )
        assert "errors" not in result
        assert [e["node"] for e in result["data"]["shifts"]["edges"]] == [
            {"id": "sh1", "placesFilled": 2},
            {"id": "sh2", "placesFilled": 2},
        ]
        assert result["data"]["shift"] == {"title": "Gate sh1", "placesLeft": 1}
        assert result["data"]["schoolHours"]["edges"] == [
            {"node": {"schoolId": "s1", "hours": 2.0, "volunteers": FEWER_THAN_FIVE}}
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
                # Viewers list the pseudonymous read model; names come back null.
                "list": reads_people or role == "viewer",
                # Their sign-ups are the service's personal data: not for viewers.
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
                if what == "list" and allowed and not reads_people:
                    shown = names(result)
                    if shown != [None] * len(shown):
                        wrong.append((role, department, "names", True))
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


LIST_WITH_NAMES = """
query($first: Int!) {
  volunteers(first: $first) {
    edges { node { id displayName personalDataErased hours } }
    pageInfo { endCursor }
  }
}
"""


def crowd(gateway: FastAPI, count: int) -> list[str]:
    ids = [f"p{n:03d}" for n in range(count)]
    feed(gateway, *(registered(vid, minute=n) for n, vid in enumerate(ids)))
    name(gateway, **{vid: f"Person {vid}" for vid in ids})
    return ids


BY_NAME = """
query($first: Int!, $after: String, $school: String) {
  volunteers(first: $first, after: $after, schoolId: $school, orderBy: NAME) {
    edges { cursor node { id displayName hours } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class TestVolunteersByName:
    """A list by name is the volunteers service's; the gateway adds the facts."""

    async def test_pages_by_name_from_the_service_with_no_second_names_call(
        self, gateway, client, token, fake
    ):
        name(gateway, v1="Zhao", v2="Li", v3="Wang", v4="An")
        feed(gateway, *(registered(f"v{n}", minute=n) for n in range(1, 5)))
        checked = await gql(client, BY_NAME, {"first": 3, "school": "s1"}, token=token)
        assert "errors" not in checked, checked
        page = checked["data"]["volunteers"]
        assert [e["node"]["displayName"] for e in page["edges"]] == ["An", "Li", "Wang"]
        assert page["pageInfo"]["hasNextPage"] is True
        after = page["pageInfo"]["endCursor"]
        rest = await gql(client, BY_NAME, {"first": 3, "school": "s1", "after": after}, token=token)
        assert [e["node"]["displayName"] for e in rest["data"]["volunteers"]["edges"]] == ["Zhao"]
        assert rest["data"]["volunteers"]["pageInfo"]["hasNextPage"] is False
        # Each page is one call to the service, as the caller, and names are not asked again.
        lists = [c for c in fake.calls if c["path"] == "GET /volunteers"]
        assert [c["params"] for c in lists] == [
            {"school_id": "s1", "first": "3"},
            {"school_id": "s1", "first": "3", "after": "v3"},
        ]
        assert lists[0]["headers"]["authorization"] == f"Bearer {token}"
        assert names_calls(fake) == []

    async def test_a_volunteer_the_read_model_has_not_seen_is_left_out(
        self, gateway, client, token
    ):
        name(gateway, v1="Li", v2="An")
        feed(gateway, registered("v1"))
        result = await gql(client, BY_NAME, {"first": 5, "school": "s1"}, token=token)
        assert [e["node"]["id"] for e in result["data"]["volunteers"]["edges"]] == ["v1"]

    async def test_viewers_are_refused_and_a_school_is_needed(self, gateway, client, issuer, fake):
        people(gateway)
        viewer = issuer.token(role="viewer", department="edu", subject="dashboard")
        refused = await gql(client, BY_NAME, {"first": 5, "school": "s1"}, token=viewer)
        assert codes(refused) == ["FORBIDDEN"] and refused["data"] is None
        other = issuer.token(role="school-staff", department="edu", scope="school:s2")
        refused = await gql(client, BY_NAME, {"first": 5, "school": "s1"}, token=other)
        assert codes(refused) == ["FORBIDDEN"]
        assert not [c for c in fake.calls if c["path"] == "GET /volunteers"]
        coordinator = issuer.token(role="coordinator", department="cyl")
        no_school = await gql(client, BY_NAME, {"first": 5}, token=coordinator)
        assert codes(no_school) == ["BAD_USER_INPUT"]
        bad = await gql(
            client, BY_NAME, {"first": 5, "school": "s1", "after": "x"}, token=coordinator
        )
        assert codes(bad) == ["BAD_USER_INPUT"]

    async def test_a_service_that_cannot_answer_is_a_service_error(
        self, gateway, client, token, fake
    ):
        people(gateway)
        fake.app.router.routes = [
            r
            for r in fake.app.router.routes
            if getattr(r, "path", "") != "/volunteers" or "GET" not in getattr(r, "methods", set())
        ]
        result = await gql(client, BY_NAME, {"first": 5, "school": "s1"}, token=token)
        assert codes(result) == ["SERVICE_UNAVAILABLE"]


class TestPersonalNames:
    """Names come from the volunteers service, batched, as the caller."""

    async def test_fifty_names_cost_one_call_with_the_callers_token(
        self, gateway, client, token, fake
    ):
        ids = crowd(gateway, 50)
        result = await gql(client, LIST_WITH_NAMES, {"first": 50}, token=token)
        assert "errors" not in result
        shown = [e["node"]["displayName"] for e in result["data"]["volunteers"]["edges"]]
        assert shown == [f"Person {vid}" for vid in ids]
        calls = names_calls(fake)
        assert len(calls) == 1
        assert calls[0]["body"] == {"ids": ids}
        assert calls[0]["headers"]["authorization"] == f"Bearer {token}"

    async def test_names_at_every_level_of_one_query_share_the_call(
        self, gateway, client, token, fake
    ):
        people(gateway)
        result = await gql(
            client,
            """{ volunteers { edges { node { displayName } } }
                 shift(id: "sh1") { signUps { volunteer { displayName } } } }""",
            token=token,
        )
        assert "errors" not in result
        # The list and the shift's sign-ups resolve at different depths: each level is
        # one call at most, never one per volunteer.
        assert len(names_calls(fake)) <= 2
        assert sum(len(c["body"]["ids"]) for c in names_calls(fake)) <= 5

    async def test_more_than_a_hundred_ids_are_sent_in_chunks(self, gateway, issuer, fake):
        # A page is at most 100, but an aliased query can ask for more in one request.
        ids = crowd(gateway, 150)
        token = issuer.token(role="coordinator", subject="coord-1", department="cyl")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(gateway), base_url="http://gateway"
        ) as client:
            first = await gql(client, LIST_WITH_NAMES, {"first": 100}, token=token)
            assert len(first["data"]["volunteers"]["edges"]) == 100
            fake.calls.clear()
            result = await gql(
                client,
                """query($after: String) {
                     a: volunteers(first: 100) { edges { node { displayName } } }
                     b: volunteers(first: 100, after: $after) { edges { node { displayName } } }
                   }""",
                {"after": cursor_after(first)},
                token=token,
            )
        assert "errors" not in result
        sizes = sorted(len(c["body"]["ids"]) for c in names_calls(fake))
        assert sizes == [50, 100]
        shown = [e["node"]["displayName"] for e in result["data"]["b"]["edges"]]
        assert shown == [f"Person {vid}" for vid in ids[100:]]

    async def test_a_viewer_sees_the_list_with_null_names_and_no_error(
        self, gateway, client, issuer, fake
    ):
        people(gateway)
        viewer = issuer.token(role="viewer", department="edu", subject="dashboard")
        result = await gql(client, LIST_WITH_NAMES, {"first": 10}, token=viewer)
        assert "errors" not in result
        nodes = [e["node"] for e in result["data"]["volunteers"]["edges"]]
        assert [(n["id"], n["displayName"]) for n in nodes] == [
            ("v1", None),
            ("v2", None),
            ("v3", None),
        ]
        assert nodes[0]["hours"] == 2.0
        # The service decided, with the viewer's own token (and logged the refusals).
        assert names_calls(fake)[0]["headers"]["authorization"] == f"Bearer {viewer}"
        # The background check is not for viewers.
        check = await gql(client, '{ volunteer(id: "v1") { checkStatus } }', token=viewer)
        assert codes(check) == ["FORBIDDEN"]

    async def test_a_name_the_service_denies_is_null_and_the_rest_still_shows(
        self, gateway, client, issuer, fake
    ):
        # School staff of s1 see who comes to s1's shifts; the service, deciding by the
        # volunteer's home school, may still refuse a name (Zhao lives at s2).
        people(gateway)
        fake.refused.add("v3")
        token = issuer.token(role="school-staff", department="edu", scope="school:s1")
        result = await gql(client, SHIFT_SIGN_UPS, {"id": "sh1"}, token=token)
        assert "errors" not in result
        assert result["data"]["shift"]["signUps"] == [
            {"volunteerId": "v1", "volunteer": {"displayName": "Li"}},
            {"volunteerId": "v3", "volunteer": {"displayName": None}},
        ]

    async def test_a_cyl_coordinator_sees_the_names(self, gateway, client, token):
        people(gateway)
        result = await gql(client, LIST_WITH_NAMES, {"first": 10}, token=token)
        assert "errors" not in result
        assert names(result) == ["Li", "Wang", "Zhao"]

    async def test_an_erased_volunteer_shows_as_erased_with_hours_unchanged(
        self, gateway, client, token, fake
    ):
        people(gateway)
        before = await gql(client, LIST_WITH_NAMES, {"first": 10}, token=token)
        fake.erased.add("v1")
        del fake.names["v1"]
        feed(gateway, erased("v1"))
        after = await gql(client, LIST_WITH_NAMES, {"first": 10}, token=token)
        assert "errors" not in after
        nodes = {e["node"]["id"]: e["node"] for e in after["data"]["volunteers"]["edges"]}
        assert nodes["v1"] == {
            "id": "v1",
            "displayName": None,
            "personalDataErased": True,
            "hours": 2.0,
        }
        assert nodes["v2"]["displayName"] == "Wang" and not nodes["v2"]["personalDataErased"]
        hours = "{ schoolHours { edges { node { schoolId hours volunteers { suppressed } } } } }"
        assert (await gql(client, hours, token=token))["data"] == {
            "schoolHours": {
                "edges": [{"node": {"schoolId": "s1", "hours": 2.0, "volunteers": FEWER_THAN_FIVE}}]
            }
        }
        # The erased one is not asked about: nothing to read, nothing to log.
        assert "v1" not in names_calls(fake)[-1]["body"]["ids"]
        assert before["data"] != after["data"]

    async def test_an_erasure_the_read_model_has_not_seen_yet_reads_as_null(
        self, gateway, client, token, fake
    ):
        people(gateway)
        fake.erased.add("v2")
        result = await gql(client, ONE, {"id": "v2"}, token=token)
        assert "errors" not in result
        assert result["data"]["volunteer"]["displayName"] is None

    async def test_the_service_down_is_an_error_on_the_names_only(
        self, gateway, client, token, fake
    ):
        people(gateway)
        fake.down = True
        result = await gql(
            client,
            """{ volunteers { edges { node { id displayName hours } } }
                 schoolHours { edges { node { hours } } } }""",
            token=token,
        )
        assert set(codes(result)) == {"SERVICE_UNAVAILABLE"}
        assert len(result["errors"]) == 3
        assert sorted(tuple(e["path"]) for e in result["errors"]) == [
            ("volunteers", "edges", n, "node", "displayName") for n in range(3)
        ]
        nodes = [e["node"] for e in result["data"]["volunteers"]["edges"]]
        assert [(n["id"], n["displayName"], n["hours"]) for n in nodes] == [
            ("v1", None, 2.0),
            ("v2", None, 0.0),
            ("v3", None, 0.0),
        ]
        assert result["data"]["schoolHours"]["edges"] == [{"node": {"hours": 2.0}}]

    async def test_a_query_without_names_makes_no_call(self, gateway, client, token, fake):
        people(gateway)
        result = await gql(client, "{ volunteers { edges { node { id hours } } } }", token=token)
        assert "errors" not in result
        assert names_calls(fake) == []


def cursor_after(result: dict[str, Any]) -> str:
    return str(result["data"]["volunteers"]["pageInfo"]["endCursor"])
