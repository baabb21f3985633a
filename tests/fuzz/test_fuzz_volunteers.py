"""The volunteers API under generated input: no 5xx, only documented answers, no stray events."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis

from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.volunteers.main import create_service
from tests.fuzz.conftest import SCHOOL, bearer, intruders
from tests.fuzz.harness import Fuzzer, cases_wanted
from tests.support.apps import served

pytestmark = pytest.mark.timeout(3600)

SHIFT = {
    "school_id": SCHOOL,
    "post": "safety-post",
    "title": "Morning gate",
    "starts_at": "2026-12-01T07:00:00+08:00",
    "ends_at": "2026-12-01T08:00:00+08:00",
    "capacity": 3,
    "child_facing": True,
}


def seed(base_url: str, token: str) -> dict[str, list[str]]:
    """Volunteers and shifts that exist, so generated cases can name them."""
    headers = {"Authorization": f"Bearer {token}"}
    volunteers, shifts = [], []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for i, school in enumerate((SCHOOL, "another-school", None)):
            body = {"display_name": f"Volunteer {i}", "kind": "parent", "school_id": school}
            response = client.post("/volunteers", json=body)
            assert response.status_code == 201, response.text
            volunteers.append(response.json()["volunteer_id"])
        for school in (SCHOOL, "another-school"):
            response = client.post("/shifts", json=SHIFT | {"school_id": school})
            assert response.status_code == 201, response.text
            shifts.append(response.json()["shift_id"])
    return {"volunteer_id": volunteers, "shift_id": shifts}


def test_generated_requests_get_documented_answers_and_change_nothing_when_refused(
    fuzz_settings: Settings, dev_issuer: DevIssuer, tmp_path: Path
) -> None:
    app = create_service(fuzz_settings)
    recorder = app.state.application.recorder
    coordinator = dev_issuer.token(role="coordinator", department="cyl", subject="coord-1")
    with served(app) as base_url:
        ids = seed(base_url, coordinator)
        callers = bearer(
            coordinator=coordinator,
            school_staff=dev_issuer.token(
                role="school-staff", department="edu", scope=f"school:{SCHOOL}"
            ),
            volunteer=dev_issuer.token(role="volunteer", subject=ids["volunteer_id"][0]),
            viewer=dev_issuer.token(role="viewer", department="edu"),
            department=dev_issuer.token(role="department-system", department="pol"),
        )
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        fuzzer = Fuzzer(
            service="volunteers",
            base_url=base_url,
            schema=schema,
            callers=callers,
            intruders=intruders(dev_issuer, tmp_path, coordinator),
            head=lambda: recorder.max_notification_id() or 0,
            ids=ids,
        )
        tally = fuzzer.run(cases_wanted())
    print(tally.summary())
    assert tally.cases >= cases_wanted()
