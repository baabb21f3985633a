"""The courses API under generated input: no 5xx, only documented answers, no stray events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis

from services.courses.domain import TEN_HAVES
from services.courses.main import create_service
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.fuzz.conftest import SCHOOL, bearer, intruders
from tests.fuzz.harness import Fuzzer, cases_wanted
from tests.support.apps import served

pytestmark = pytest.mark.timeout(3600)

COURSE = {
    "title": "Talking with teenagers",
    "problem": "Doors slam.",
    "stages": ["middle"],
    "themes": ["parent-child-communication"],
    "steps": ["video", "discussion", "summary", "homework", "micro-lesson"],
}


def seed(base_url: str, token: str) -> dict[str, list[str]]:
    """Parent schools, courses, sessions and parents that exist, so cases can name them."""
    headers = {"Authorization": f"Bearer {token}"}
    ids: dict[str, list[str]] = {
        "parent_school_id": [],
        "course_id": [],
        "session_id": [],
        "parent_id": [],
    }
    starts = datetime.now(UTC) + timedelta(days=30)
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:

        def created(path: str, body: dict[str, object], key: str) -> None:
            response = client.post(path, json=body)
            assert response.status_code == 201, response.text
            ids[key].append(response.json()[key])

        for level, kind, host in (("school", "school", SCHOOL), ("community", "community", "c1")):
            body = {"name": "P", "level": level, "host_kind": kind, "host_id": host}
            created("/parent-schools", body | {"district": "321002"}, "parent_school_id")
        client.post(
            f"/parent-schools/{ids['parent_school_id'][0]}/evidence",
            json={"item": TEN_HAVES[0], "document_ref": "d1", "dated": "2026-09-01"},
        )
        created("/courses", COURSE, "course_id")
        for school in (SCHOOL, "another-school"):
            body = {"name": "Parent", "school_id": school, "class_id": "1-1", "district": "321002"}
            created("/parents", body, "parent_id")
        session = {
            "course_id": ids["course_id"][0],
            "mode": "in-person",
            "parent_school_id": ids["parent_school_id"][0],
            "school_id": SCHOOL,
            "district": "321002",
            "lecturer_kind": "teacher",
            "lecturer_id": "t1",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": 3,
        }
        created("/sessions", session, "session_id")
    return ids


def test_generated_requests_get_documented_answers_and_change_nothing_when_refused(
    fuzz_settings: Settings, dev_issuer: DevIssuer, tmp_path: Path
) -> None:
    app = create_service(fuzz_settings)
    recorder = app.state.application.recorder
    coordinator = dev_issuer.token(role="coordinator", department="edu", subject="coord-1")
    with served(app) as base_url:
        ids = seed(base_url, coordinator)
        callers = bearer(
            coordinator=coordinator,
            school_staff=dev_issuer.token(
                role="school-staff", department="edu", scope=f"school:{SCHOOL}"
            ),
            parent=dev_issuer.token(role="parent", subject=ids["parent_id"][0], scope=""),
            wf=dev_issuer.token(role="coordinator", department="wf"),
            viewer=dev_issuer.token(role="viewer", department="edu"),
        )
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        fuzzer = Fuzzer(
            service="courses",
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
