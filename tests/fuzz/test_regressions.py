"""What the fuzzers found, pinned: each case once failed before its fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.ingest.main import create_service as create_ingest
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.kit.wire import MalformedEventError, from_structured
from services.volunteers.main import create_service as create_volunteers
from tests.support.apps import police_result

VOLUNTEER = "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires_on", 0.0),  # was read as 1970-01-01
        ("expires_on", 20991231),
        ("completed_at", 1_700_000_000),  # was read as a Unix time
    ],
)
def test_a_posted_event_is_read_strictly(field: str, value: Any) -> None:
    event = police_result(VOLUNTEER, "chk-1")
    event["data"][field] = value
    with pytest.raises(MalformedEventError):
        from_structured(event, tolerant=False)


def test_a_strictly_read_event_still_accepts_its_json_forms() -> None:
    envelope = from_structured(police_result(VOLUNTEER, "chk-1"), tolerant=False)
    assert str(envelope.data.expires_on) == "2099-12-31"  # type: ignore[attr-defined]


@pytest.fixture
def offline_settings(tmp_path: Path, dev_issuer: DevIssuer) -> Settings:
    return Settings(
        store="sqlite", state_dir=tmp_path / "state", auth_jwks_url=str(dev_issuer.jwks_path)
    )


@pytest.mark.parametrize("create", [create_volunteers, create_ingest])
def test_every_refusal_is_documented_as_problem_json(
    offline_settings: Settings, create: Callable[[Settings], FastAPI]
) -> None:
    # FastAPI documented a 422 HTTPValidationError in application/json, never sent.
    document = create(offline_settings).openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("4") or path != "/readyz" and status.startswith("5"):
                    assert list(response["content"]) == ["application/problem+json"], (
                        f"{method.upper()} {path} {status}"
                    )
            if operation.get("security"):
                assert {"401", "403"} <= operation["responses"].keys()


async def test_a_wrong_method_is_405_with_allow(offline_settings: Settings) -> None:
    # The problem handler dropped Starlette's headers, so the Allow header was lost.
    app = create_volunteers(offline_settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://volunteers"
    ) as client:
        response = await client.delete("/shifts")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == "application/problem+json"
