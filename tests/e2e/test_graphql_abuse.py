"""Abusive GraphQL documents are refused before they run, each with a code a client can act on.

Against the gateway as production runs it (introspection and GraphiQL off), with a
read model on disk; the refusals happen before any resolver, so no upstream is needed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.main import create_gateway
from gateway.schema import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from services.kit.auth import DevIssuer
from services.kit.settings import Settings

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def production(tmp_path: Path, dev_issuer: DevIssuer) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        auth_jwks_url=str(dev_issuer.jwks_path),
        gateway_introspection=False,
    )


async def started(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_gateway(
        settings,
        readmodel_dir=tmp_path / "readmodels",
        start_projector=False,
        introspection=settings.gateway_introspection,
        graphql_ide=settings.gateway_introspection,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway") as client,
    ):
        yield client


@pytest.fixture
async def gateway(
    production: Settings, tmp_path: Path, dev_issuer: DevIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in started(production, tmp_path):
        client.headers["Authorization"] = (
            f"Bearer {dev_issuer.token(role='coordinator', department='cyl')}"
        )
        yield client


async def refused(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The errors of a document that must not run at all."""
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result.get("data") is None, result
    assert result["errors"], result
    return result["errors"]  # type: ignore[no-any-return]


def codes(errors: list[dict[str, Any]]) -> set[str]:
    return {error.get("extensions", {}).get("code") for error in errors}


def nested(depth: int) -> str:
    inner = "id"
    for _ in range(depth):
        inner = f"signUps {{ shift {{ signUps {{ volunteer {{ {inner} }} }} }} }}"
    return f"{{ volunteers {{ edges {{ node {{ {inner} }} }} }} }}"


class TestCostLimits:
    async def test_a_depth_bomb_is_too_deep(self, gateway: httpx.AsyncClient) -> None:
        errors = await refused(gateway, nested(3))
        assert codes(errors) == {"QUERY_TOO_DEEP"}
        assert f"maximum operation depth of {MAX_DEPTH}" in errors[0]["message"]

    async def test_an_alias_flood_has_too_many_aliases(self, gateway: httpx.AsyncClient) -> None:
        aliases = " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 1))
        errors = await refused(gateway, f"{{ {aliases} }}")
        assert codes(errors) == {"TOO_MANY_ALIASES"}

    async def test_aliases_up_to_the_cap_run(self, gateway: httpx.AsyncClient) -> None:
        aliases = " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES))
        response = await gateway.post("/graphql", json={"query": f"{{ {aliases} }}"})
        assert response.json() == {"data": {f"a{i}": "Query" for i in range(MAX_ALIASES)}}

    @pytest.mark.parametrize("field", ["volunteers", "shifts", "schoolHours"])
    async def test_a_page_above_the_cap_is_bad_user_input(
        self, gateway: httpx.AsyncClient, field: str
    ) -> None:
        response = await gateway.post(
            "/graphql",
            json={
                "query": f"query($n: Int!) {{ {field}(first: $n) {{ edges {{ cursor }} }} }}",
                "variables": {"n": 1_000_000},
            },
        )
        errors = response.json()["errors"]
        assert codes(errors) == {"BAD_USER_INPUT"}
        assert errors[0]["path"] == [field]


class TestOversizeDocuments:
    async def test_more_tokens_than_the_cap_fail_to_parse(self, gateway: httpx.AsyncClient) -> None:
        query = "{ " + "__typename " * MAX_TOKENS + "}"
        assert len(query.encode()) < 65536  # the token cap, not the body limit, refuses it
        errors = await refused(gateway, query)
        assert codes(errors) == {"GRAPHQL_PARSE_FAILED"}
        assert f"more than {MAX_TOKENS} tokens" in errors[0]["message"]

    async def test_a_body_above_the_limit_is_413(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.post("/graphql", json={"query": "#" + "x" * 100_000 + "\n{ a }"})
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "body-too-large"


class TestMalformedDocuments:
    async def test_a_fragment_cycle_fails_validation(self, gateway: httpx.AsyncClient) -> None:
        query = """
        query { shifts { ...A } }
        fragment A on ShiftConnection { edges { cursor } ...B }
        fragment B on ShiftConnection { pageInfo { hasNextPage } ...A }
        """
        errors = await refused(gateway, query)
        assert codes(errors) == {"GRAPHQL_VALIDATION_FAILED"}
        assert any("within itself" in error["message"] for error in errors)

    async def test_a_syntax_error_fails_to_parse(self, gateway: httpx.AsyncClient) -> None:
        assert codes(await refused(gateway, "{ shifts { ")) == {"GRAPHQL_PARSE_FAILED"}

    async def test_an_unknown_field_fails_validation(self, gateway: httpx.AsyncClient) -> None:
        errors = await refused(gateway, "{ passwords }")
        assert codes(errors) == {"GRAPHQL_VALIDATION_FAILED"}

    async def test_batches_are_refused(self, gateway: httpx.AsyncClient) -> None:
        batch = [{"query": "{ __typename }"}] * 50
        response = await gateway.post("/graphql", json=batch)
        assert response.status_code == 400
        assert "Batching is not enabled" in response.text


class TestDeeplyNestedVariables:
    QUERY = "query($n: Int!) { shifts(first: $n) { edges { cursor } } }"

    async def test_a_nested_list_for_a_scalar_is_bad_user_input(
        self, gateway: httpx.AsyncClient
    ) -> None:
        value = b"[" * 900 + b"]" * 900
        body = b'{"query": "%s", "variables": {"n": %s}}' % (self.QUERY.encode(), value)
        response = await gateway.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
        result = response.json()
        assert result["data"] is None
        assert codes(result["errors"]) == {"BAD_USER_INPUT"}

    async def test_json_nested_past_any_reason_is_400_not_a_crash(
        self, gateway: httpx.AsyncClient
    ) -> None:
        # Used to reach the standard library's recursion limit: a 500.
        value = b"[" * 20_000 + b"]" * 20_000
        body = b'{"query": "%s", "variables": {"n": %s}}' % (self.QUERY.encode(), value)
        response = await gateway.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert "Unable to parse request body as JSON" in response.text

    async def test_a_nested_object_for_an_input_is_bad_user_input(
        self, gateway: httpx.AsyncClient
    ) -> None:
        inner: dict[str, Any] = {}
        for _ in range(200):
            inner = {"shiftId": inner}
        query = "mutation($in: SignUpInput!) { signUp(input: $in) { __typename } }"
        response = await gateway.post(
            "/graphql", json={"query": query, "variables": {"in": inner | {"volunteerId": "v"}}}
        )
        result = response.json()
        assert result["data"] is None
        assert codes(result["errors"]) == {"BAD_USER_INPUT"}


class TestProductionMode:
    async def test_introspection_is_disabled(self, gateway: httpx.AsyncClient) -> None:
        errors = await refused(gateway, "{ __schema { queryType { name } } }")
        assert codes(errors) == {"INTROSPECTION_DISABLED"}
        errors = await refused(gateway, '{ __type(name: "Volunteer") { fields { name } } }')
        assert codes(errors) == {"INTROSPECTION_DISABLED"}

    async def test_graphiql_is_not_served(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/graphql", headers={"Accept": "text/html"})
        assert response.status_code == 404
        assert "graphiql" not in response.text.lower()

    async def test_introspection_works_where_it_is_allowed(
        self, production: Settings, tmp_path: Path, dev_issuer: DevIssuer
    ) -> None:
        development = production.model_copy(update={"gateway_introspection": True})
        async for client in started(development, tmp_path):
            response = await client.post(
                "/graphql", json={"query": "{ __schema { queryType { name } } }"}
            )
            assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_refusals_are_not_logged_as_server_errors(
    gateway: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await refused(gateway, nested(3))
    await refused(gateway, "{ shifts { ")
    response = await gateway.post(
        "/graphql",
        json={"query": TestDeeplyNestedVariables.QUERY, "variables": {"n": "many"}},
    )
    assert codes(response.json()["errors"]) == {"BAD_USER_INPUT"}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
