"""Bad input gets a clear 4xx problem+json and changes nothing: not the store, not the streams."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.apps import CLOUDEVENTS_JSON, Tokens, police_result
from tests.support.apps import store_head as head
from tests.support.streams import read_stream, stream_last_seq

pytestmark = pytest.mark.timeout(120)

SHIFT = {
    "school_id": "yz-dongguan-primary",
    "post": "safety-post",
    "title": "Morning gate 护学岗",
    "starts_at": "2026-12-01T07:00:00+08:00",
    "ends_at": "2026-12-01T08:00:00+08:00",
    "capacity": 2,
    "child_facing": True,
}


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if code:
        assert body["code"] == code
    return body


@pytest.fixture(params=["sqlite"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    from services.kit.settings import Settings

    return Settings(store="sqlite", state_dir=tmp_path / "state")


class TestCommandsRefuseBadInput:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({**SHIFT, "capacity": "many"}, "capacity"),
            ({**SHIFT, "starts_at": "tomorrow"}, "starts_at"),
            ({**SHIFT, "starts_at": "2026-12-01T07:00:00"}, "starts_at"),
            ({**SHIFT, "post": "bouncer"}, "post"),
            ({**SHIFT, "capacity": 0}, "capacity"),
            ({**SHIFT, "colour": "red"}, "colour"),
            ({k: v for k, v in SHIFT.items() if k != "title"}, "title"),
        ],
    )
    async def test_a_malformed_command_is_refused(
        self, volunteers: httpx.AsyncClient, body: dict[str, Any], field: str
    ) -> None:
        before = head(volunteers)
        problem = assert_problem(
            await volunteers.post("/shifts", json=body), 422, "invalid-request"
        )
        assert any(field in error["loc"] for error in problem["errors"])
        assert head(volunteers) == before

    async def test_a_shift_that_ends_before_it_starts_is_refused(
        self, volunteers: httpx.AsyncClient
    ) -> None:
        body = {**SHIFT, "ends_at": "2026-12-01T06:00:00+08:00"}
        assert_problem(await volunteers.post("/shifts", json=body), 422, "invalid-time")
        assert head(volunteers) == 0

    async def test_an_oversize_body_is_refused(self, volunteers: httpx.AsyncClient) -> None:
        body = {**SHIFT, "title": "x" * 200_000}
        assert_problem(await volunteers.post("/shifts", json=body), 413, "body-too-large")

        async def chunks() -> Any:
            for _ in range(100):
                yield b"x" * 1024

        response = await volunteers.post(
            "/shifts", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, "body-too-large")
        assert head(volunteers) == 0

    async def test_not_json_is_refused(self, volunteers: httpx.AsyncClient) -> None:
        response = await volunteers.post(
            "/shifts", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert_problem(response, 422, "invalid-request")

    async def test_an_unknown_volunteer_is_not_found(self, volunteers: httpx.AsyncClient) -> None:
        missing = "00000000-0000-4000-8000-000000000000"
        assert_problem(await volunteers.get(f"/volunteers/{missing}"), 404, "not-found")
        response = await volunteers.post(f"/volunteers/{missing}/background-checks", json={})
        assert_problem(response, 404, "not-found")
        assert head(volunteers) == 0


class TestCallersMustProveWhoTheyAre:
    async def test_missing_forged_and_foreign_tokens_are_refused(
        self, volunteers: httpx.AsyncClient, tokens: Tokens, tmp_path: Any
    ) -> None:
        from services.kit.auth import DevIssuer

        body = {"display_name": "Zhao Lei", "kind": "parent"}
        response = await volunteers.post("/volunteers", json=body, headers={"Authorization": ""})
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")

        stranger = DevIssuer(tmp_path / "stranger-keys").token(role="admin")
        response = await volunteers.post(
            "/volunteers", json=body, headers={"Authorization": f"Bearer {stranger}"}
        )
        assert_problem(response, 401, "unauthenticated")

        tampered = tokens.coordinator()[:-4] + "AAAA"
        response = await volunteers.post(
            "/volunteers", json=body, headers={"Authorization": f"Bearer {tampered}"}
        )
        assert_problem(response, 401, "unauthenticated")
        assert head(volunteers) == 0

    async def test_roles_and_scopes_are_enforced(
        self, volunteers: httpx.AsyncClient, tokens: Tokens
    ) -> None:
        viewer = {"Authorization": f"Bearer {tokens.viewer()}"}
        body = {"display_name": "Zhao Lei", "kind": "parent"}
        assert_problem(await volunteers.post("/volunteers", json=body, headers=viewer), 403)
        for role in ("school-staff", "coordinator"):
            # The owning department, so that the scope alone is what refuses.
            staff = tokens.issuer.token(role=role, department="cyl", scope="school:another-school")
            response = await volunteers.post(
                "/shifts", json=SHIFT, headers={"Authorization": f"Bearer {staff}"}
            )
            refused = assert_problem(response, 403, "forbidden")
            assert "scope" in refused["detail"], refused["detail"]
        assert head(volunteers) == 0


class TestIngestAcceptsOnlyADepartmentsOwnValidEvents:
    async def test_another_departments_event_type_is_refused(
        self, ingest: httpx.AsyncClient, tokens: Tokens, nats_url: str
    ) -> None:
        event = police_result("00000000-0000-4000-8000-000000000001", "chk-1")
        women = {"Authorization": f"Bearer {tokens.department('wf')}"} | CLOUDEVENTS_JSON
        assert_problem(await ingest.post("/events", json=event, headers=women), 403, "forbidden")
        coordinator = {"Authorization": f"Bearer {tokens.coordinator()}"} | CLOUDEVENTS_JSON
        assert_problem(await ingest.post("/events", json=event, headers=coordinator), 403)
        assert await stream_last_seq(nats_url, "CHECKS") == 0

    async def test_a_services_own_stream_is_not_open_to_its_department(
        self, ingest: httpx.AsyncClient, tokens: Tokens, nats_url: str
    ) -> None:
        # The Youth League owns the volunteers service, but that stream has one
        # publisher: the service's relay. A posted "check recorded" would forge history.
        event = {
            "specversion": "1.0",
            "id": "forged-1",
            "source": "/tongxin/volunteers",
            "type": "org.tongxin.volunteers.background-check-recorded.v1",
            "time": "2026-11-23T08:00:00Z",
            "datacontenttype": "application/json",
            "data": {
                "volunteer_id": "00000000-0000-4000-8000-000000000001",
                "check_id": "chk-1",
                "outcome": "passed",
                "expires_on": "2099-01-01",
            },
        }
        youth_league = {"Authorization": f"Bearer {tokens.department('cyl')}"} | CLOUDEVENTS_JSON
        response = await ingest.post("/events", json=event, headers=youth_league)
        assert_problem(response, 403, "forbidden")
        assert await stream_last_seq(nats_url, "VOLUNTEERS") == 0

    async def test_a_callers_stream_position_is_not_passed_on(
        self, ingest: httpx.AsyncClient, nats_url: str
    ) -> None:
        event = police_result("00000000-0000-4000-8000-000000000001", "chk-1")
        headers = {f"ce-{k}": v for k, v in event.items() if k not in ("data", "datacontenttype")}
        headers |= {"ce-sequence": "999999", "content-type": "application/json"}
        response = await ingest.post("/events", json=event["data"], headers=headers)
        assert response.status_code == 202, response.text
        (stored,) = await read_stream(nats_url, "CHECKS")
        assert "ce-sequence" not in stored.headers

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda e: e.pop("id"),
            lambda e: e.update(specversion="0.3"),
            lambda e: e.update(type="org.tongxin.checks.unheard-of.v1"),
            lambda e: e["data"].update(outcome="maybe"),
            lambda e: e["data"].pop("expires_on"),
            lambda e: e["data"].update(volunteer_id="not-a-uuid"),
            lambda e: e["data"].update(extra="field"),
            lambda e: e.update(time="yesterday"),
            lambda e: e.update(datacontenttype="text/xml"),
        ],
    )
    async def test_a_malformed_cloudevent_is_refused(
        self, ingest: httpx.AsyncClient, nats_url: str, mutate: Any
    ) -> None:
        event = police_result("00000000-0000-4000-8000-000000000001", "chk-1")
        mutate(event)
        response = await ingest.post("/events", json=event, headers=CLOUDEVENTS_JSON)
        assert_problem(response, 400, "malformed-cloudevent")
        assert await stream_last_seq(nats_url, "CHECKS") == 0

    async def test_not_json_and_unknown_content_types_are_refused(
        self, ingest: httpx.AsyncClient, nats_url: str
    ) -> None:
        response = await ingest.post("/events", content=b"{", headers=CLOUDEVENTS_JSON)
        assert_problem(response, 400, "malformed-cloudevent")
        response = await ingest.post(
            "/events", content=b"<xml/>", headers={"content-type": "text/xml"}
        )
        assert_problem(response, 400, "malformed-cloudevent")
        assert await stream_last_seq(nats_url, "CHECKS") == 0

    async def test_a_retried_event_is_stored_once(
        self, ingest: httpx.AsyncClient, nats_url: str
    ) -> None:
        event = police_result("00000000-0000-4000-8000-000000000001", "chk-1")
        first = await ingest.post("/events", json=event, headers=CLOUDEVENTS_JSON)
        again = await ingest.post("/events", json=event, headers=CLOUDEVENTS_JSON)
        assert first.status_code == again.status_code == 202
        assert again.json()["duplicate"] is True
        assert await stream_last_seq(nats_url, "CHECKS") == 1
