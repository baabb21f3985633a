"""Who answers a suggestion, over HTTP: the department it is assigned to (its staff or its
own system), the school while it is at the school, the city's edu staff once escalated;
no one else. Refusals append nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.committees.main import create_service
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.support.apps import running
from tests.support.apps import store_head as head

SCHOOL = "yz-dongguan-primary"


@pytest.fixture
def dev_issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path / "keys")


@pytest.fixture
async def committees(tmp_path: Path, dev_issuer: DevIssuer) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        store="sqlite",
        state_dir=tmp_path / "state",
        auth_jwks_url=str(dev_issuer.jwks_path),
        relay_in_process=False,
    )
    token = dev_issuer.token(role="coordinator", department="edu", subject="c", scope="city")
    app = create_service(settings)
    async with running(app, token) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def suggestion(committees: httpx.AsyncClient, department: str | None) -> str:
    formed = await committees.post(
        "/committees",
        json={
            "level": "school",
            "scope_id": SCHOOL,
            "district": "guangling",
            "title": "东关小学校级家委会",
            "term_ends_on": "2099-07-31",
        },
    )
    body = {"committee_id": formed.json()["committee_id"], "topic": "safety", "text": "…"}
    if department:
        body["department"] = department
    submitted = await committees.post("/suggestions", json=body)
    assert submitted.status_code == 201, submitted.text
    return str(submitted.json()["suggestion_id"])


@pytest.mark.parametrize(
    ("role", "department", "scope", "assigned_to", "allowed"),
    [
        ("department-system", "pol", "", "pol", True),
        ("coordinator", "pol", "", "pol", True),
        ("department-system", "hlth", "", "pol", False),
        ("school-staff", "pol", "", "pol", False),  # pol has no school staff grant
        ("viewer", "pol", "", "pol", False),
        ("school-staff", "edu", f"school:{SCHOOL}", "pol", False),
        ("school-staff", "edu", f"school:{SCHOOL}", None, True),
        ("school-staff", "edu", "school:yz-meiling-primary", None, False),
        ("department-system", "pol", "", None, False),
    ],
)
async def test_who_answers(
    committees: httpx.AsyncClient,
    dev_issuer: DevIssuer,
    role: str,
    department: str,
    scope: str,
    assigned_to: str | None,
    allowed: bool,
) -> None:
    suggestion_id = await suggestion(committees, assigned_to)
    token = dev_issuer.token(role=role, department=department, subject="x", scope=scope)
    before = head(committees)
    response = await committees.post(
        f"/suggestions/{suggestion_id}/answer",
        json={"text": "已处理。"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == (200 if allowed else 403), response.text
    assert (head(committees) > before) is allowed
