"""Department reports reach the alliance's targets through the ingest, each with its own
department's credential; the ledger counts each once and a rebuild comes out identical;
bad definitions are refused as problem+json with nothing appended. On PostgreSQL and a
real nats-server."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from contracts import reports
from services.alliance.application import AllianceApplication
from services.alliance.main import create_service as create_alliance
from services.ingest.main import create_service as create_ingest
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.support.alliance import SAMPLES, edu_admin, report
from tests.support.apps import CLOUDEVENTS_JSON, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(180)

REPORT_TYPES = {cls.event_type() for cls in reports.REPORTS}


@pytest.fixture
def settings(pg_settings: Settings, nats_url: str, dev_issuer: DevIssuer) -> Settings:
    return pg_settings.model_copy(
        update={
            "nats_urls": nats_url,
            "auth_jwks_url": str(dev_issuer.jwks_path),
            "relay_idle_s": 0.01,
            "consumer_max_deliver": 3,
        }
    )


@pytest.fixture
async def ingest(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_ingest(settings)) as client:
        yield client


def application(client: httpx.AsyncClient) -> AllianceApplication:
    app = client.app  # type: ignore[attr-defined]
    found = app.state.application
    assert isinstance(found, AllianceApplication)
    return found


async def counted(alliance: httpx.AsyncClient) -> dict[str, int]:
    response = await alliance.post("/figures/ledger", json={})
    assert response.status_code == 200, response.text
    return {t: n for t, n in response.json()["events"].items() if t in REPORT_TYPES}


async def test_every_department_reports_with_its_own_credential_and_it_counts_once(
    settings: Settings, ingest: httpx.AsyncClient, dev_issuer: DevIssuer
) -> None:
    today = datetime.now(UTC).date()
    app = create_alliance(settings)
    async with running(app, edu_admin(dev_issuer)) as alliance:
        alliance.app = app  # type: ignore[attr-defined]
        # Each department system publishes one report with its own credential.
        for cls in SAMPLES:
            token = dev_issuer.token(
                role="department-system", department=cls.department(), subject="sys"
            )
            answer = await ingest.post(
                "/events",
                json=report(cls, today),
                headers=CLOUDEVENTS_JSON | {"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 202, (cls.__name__, answer.text)
        # Another department's credential is refused, and nothing is stored.
        civ = dev_issuer.token(role="department-system", department="civ", subject="sys")
        refused = await ingest.post(
            "/events",
            json=report(reports.LegalLectureGiven, today),
            headers=CLOUDEVENTS_JSON | {"Authorization": f"Bearer {civ}"},
        )
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")

        async def all_counted() -> bool:
            return await counted(alliance) == dict.fromkeys(REPORT_TYPES, 1)

        await eventually(all_counted, timeout=30, message="each report counted once")
        before = application(alliance).ledger.checksum()

    # Rebuild: the ledger is emptied and the reactions replay every stream from the start.
    app = create_alliance(settings)
    application_ = app.state.application
    application_.ledger.reset()
    async with running(app, edu_admin(dev_issuer)) as alliance:
        alliance.app = app  # type: ignore[attr-defined]

        async def rebuilt() -> bool:
            return application(alliance).ledger.checksum() == before

        await eventually(rebuilt, timeout=30, message="the rebuilt ledger is identical")
        assert await counted(alliance) == dict.fromkeys(REPORT_TYPES, 1)


async def test_bad_definitions_are_problems_and_append_nothing(
    settings: Settings, dev_issuer: DevIssuer
) -> None:
    app = create_alliance(settings)
    async with running(app, edu_admin(dev_issuer)) as alliance:
        store = app.state.application
        task = await alliance.post(
            "/tasks",
            json={"code": "T06", "title": "Rule of law", "action": "curriculum",
                  "lead": "jus", "supporting": ["pol"], "starts_on": "2026-09-01",
                  "ends_on": "2027-08-31"},
        )  # fmt: skip
        assert task.status_code == 201, task.text
        task_id = task.json()["task_id"]
        head = store.recorder.max_notification_id()
        lecture = reports.LegalLectureGiven.event_type()
        bad = {
            "unknown-event-type": (
                "/targets",
                {"task_id": task_id, "title": "x", "metric": "count", "period": "term",
                 "threshold": 1, "numerator": {"event_types": ["org.tongxin.care.visit.v1"]}},
            ),
            "threshold-out-of-range": (
                "/targets",
                {"task_id": task_id, "title": "x", "metric": "share", "period": "term",
                 "threshold": 150, "numerator": {"event_types": [lecture]},
                 "denominator": {"event_types": [lecture]}},
            ),
            "milestone-outside-task": (
                f"/tasks/{task_id}/milestones",
                {"title": "Too early", "answerable": "jus", "due_on": "2026-08-01"},
            ),
            "unknown-facet": (
                "/targets",
                {"task_id": task_id, "title": "x", "metric": "count", "period": "term",
                 "threshold": 1,
                 "numerator": {"event_types": [lecture], "where": {"attendance": "5"}}},
            ),
        }  # fmt: skip
        for code, (path, body) in bad.items():
            answer = await alliance.post(path, json=body)
            assert answer.status_code == 422, (code, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["code"] == code
        # A viewer may read figures but not keep the plan.
        viewer = dev_issuer.token(role="viewer", department="edu", subject="dashboard")
        refused = await alliance.post(
            "/tasks",
            json={"code": "T99", "title": "x", "action": "care", "lead": "edu",
                  "starts_on": "2026-09-01", "ends_on": "2027-08-31"},
            headers={"Authorization": f"Bearer {viewer}"},
        )  # fmt: skip
        assert refused.status_code == 403
        assert store.recorder.max_notification_id() == head


async def test_a_department_system_on_the_connector_reports_and_the_alliance_counts_it(
    settings: Settings, ingest: httpx.AsyncClient, dev_issuer: DevIssuer
) -> None:
    app = create_alliance(settings)
    async with running(app, edu_admin(dev_issuer)) as alliance:
        # The departments' reporting system, a process of its own on the department
        # connector (faststream), sends one report of each department on NATS.
        env = os.environ | {
            "TONGXIN_NATS_URLS": settings.nats_urls,
            "TONGXIN_REPORTS_EVERY_S": "86400",  # one slot all day: a second run repeats it
        }
        for _ in range(2):
            system = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "departments.reports", "--once", env=env
            )
            assert await asyncio.wait_for(system.wait(), 120) == 0

        async def all_counted() -> bool:
            return await counted(alliance) == dict.fromkeys(REPORT_TYPES, 1)

        await eventually(all_counted, timeout=60, message="each department's report counted once")
