"""The alliance's journey, through the public HTTP and GraphQL interfaces, on PostgreSQL and
a real nats-server.

The Education Bureau puts a key task led by the Justice Bureau on the city's list, with a
target (two legal lectures a term at every school). The Justice Bureau's system reports
lectures through the ingest; the target's value moves on the dashboard's subscription
while it watches. Asked as of yesterday, the figure stays yesterday's while today's
reports arrive. Last term is assessed and its scorecards frozen; a late report for that
term then shows as a correction beside them, not as a rewrite.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from contracts import reports
from gateway.main import create_gateway
from services.alliance.main import create_service as create_alliance
from services.alliance.periods import period_of
from services.ingest.main import create_service as create_ingest
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.e2e.conftest import journey_settings
from tests.support.alliance import SCHOOL, edu_admin, report
from tests.support.apps import CLOUDEVENTS_JSON, running, served
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(240)

LECTURE = reports.LegalLectureGiven.event_type()


@pytest.fixture
def settings(pg_settings: Settings, nats_url: str, dev_issuer: DevIssuer) -> Settings:
    return journey_settings(pg_settings, nats_url, dev_issuer)


@pytest.fixture
def alliance_url(settings: Settings) -> Iterator[str]:
    with served(create_alliance(settings)) as url:
        yield url


@pytest.fixture
def gateway_url(settings: Settings, alliance_url: str, tmp_path: Path) -> Iterator[str]:
    gateway_settings = settings.model_copy(update={"service_urls": f"alliance={alliance_url}"})
    with served(create_gateway(gateway_settings, readmodel_dir=tmp_path / "readmodels")) as url:
        yield url


@pytest.fixture
async def jus(settings: Settings, dev_issuer: DevIssuer) -> AsyncIterator[httpx.AsyncClient]:
    token = dev_issuer.token(role="department-system", department="jus", subject="jus-legal")
    async with running(create_ingest(settings), token) as client:
        yield client


async def lecture(jus: httpx.AsyncClient, on: Any) -> None:
    answer = await jus.post(
        "/events", json=report(reports.LegalLectureGiven, on), headers=CLOUDEVENTS_JSON
    )
    assert answer.status_code == 202, answer.text


async def graphql(url: str, token: str, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def moves(url: str, token: str, target_id: str) -> AsyncIterator[list[float | None]]:
    """The values pushed by allianceTargetMoved for one target, as they arrive."""
    seen: list[float | None] = []
    ready = asyncio.Event()

    async def follow() -> None:
        ws_url = url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            await ws.send(orjson.dumps(init).decode())
            assert orjson.loads(await ws.recv())["type"] == "connection_ack"
            query = "subscription($t: ID) { allianceTargetMoved(targetId: $t) { value } }"
            message = {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": query, "variables": {"t": target_id}},
            }
            await ws.send(orjson.dumps(message).decode())
            ready.set()
            async for raw in ws:
                frame = orjson.loads(raw)
                if frame.get("type") == "next":
                    seen.append(frame["payload"]["data"]["allianceTargetMoved"]["value"])

    task = asyncio.create_task(follow())
    await asyncio.wait_for(ready.wait(), 10)
    await asyncio.sleep(0.2)  # The subscription is registered once its first frame is read.
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


class TestAllianceJourney:
    async def test_a_target_moves_live_is_asked_as_of_yesterday_and_is_assessed(
        self,
        alliance_url: str,
        gateway_url: str,
        jus: httpx.AsyncClient,
        dev_issuer: DevIssuer,
    ) -> None:
        today = datetime.now(UTC).date()
        last_term = period_of("term", today).previous()
        admin = {"Authorization": f"Bearer {edu_admin(dev_issuer)}"}
        viewer = dev_issuer.token(role="viewer", department="edu", subject="dashboard")
        async with httpx.AsyncClient(base_url=alliance_url, headers=admin, timeout=30) as edu:
            # Put a key task led by the Justice Bureau on the list, with its target.
            task = await edu.post(
                "/tasks",
                json={"code": "T06", "title": "Rule of law and school safety",
                      "action": "curriculum", "lead": "jus", "supporting": ["pol"],
                      "starts_on": last_term.starts_on.isoformat(),
                      "ends_on": (today + timedelta(days=700)).isoformat()},
            )  # fmt: skip
            assert task.status_code == 201, task.text
            # The target through GraphQL, forwarded with its idempotency key; a share's
            # threshold above 100 is refused with the service's code and appends nothing.
            define = (
                "mutation($i: DefineAllianceTargetInput!) { defineAllianceTarget(input: $i) {"
                " __typename ... on DefineAllianceTargetSuccess { targetId }"
                " ... on AllianceCommandError { code status } } }"
            )
            target_input = {"taskId": task.json()["task_id"], "title": "Two lectures a term",
                            "metric": "COUNT", "numerator": {"eventTypes": [LECTURE]},
                            "groupBy": "SCHOOL", "threshold": 2, "period": "TERM",
                            "idempotencyKey": "journey-target"}  # fmt: skip
            admin_token = edu_admin(dev_issuer)
            first = await graphql(gateway_url, admin_token, define, i=target_input)
            again = await graphql(gateway_url, admin_token, define, i=target_input)
            target_id = first["data"]["defineAllianceTarget"]["targetId"]
            assert again["data"]["defineAllianceTarget"]["targetId"] == target_id
            share = target_input | {"metric": "SHARE", "threshold": 150, "idempotencyKey": None,
                                    "denominator": {"eventTypes": [LECTURE]}}  # fmt: skip
            refused = await graphql(gateway_url, admin_token, define, i=share)
            assert refused["data"]["defineAllianceTarget"] == {
                "__typename": "AllianceCommandError",
                "code": "threshold-out-of-range",
                "status": 422,
            }

            # Only the accepted target reaches the gateway: the refused one appended nothing.
            async def defined() -> bool:
                data = await graphql(gateway_url, viewer, "{ allianceTargets { id } }")
                return [t["id"] for t in data["data"]["allianceTargets"]] == [target_id]

            await eventually(defined, timeout=30, message="the target reaches the gateway")

            # Yesterday's lecture, then today's two: the dashboard sees the value move.
            async with moves(gateway_url, viewer, target_id) as seen:
                await lecture(jus, today - timedelta(days=1))
                await eventually(lambda: 1.0 in seen, timeout=30, message="moved to 1")
                await lecture(jus, today)
                await eventually(lambda: 2.0 in seen, timeout=30, message="moved to 2")

            # As of yesterday the figure is yesterday's while today's reports arrive.
            query = "query($d: Date) { allianceTargets(asOf: $d) { value met asOf } }"
            yesterday = (today - timedelta(days=1)).isoformat()
            before = await graphql(gateway_url, viewer, query, d=yesterday)
            await lecture(jus, today)

            async def three_today() -> bool:
                now = await graphql(gateway_url, viewer, query)
                return bool(now["data"]["allianceTargets"][0]["value"] == 3.0)

            await eventually(three_today, timeout=30, message="today's third lecture counts")
            after = await graphql(gateway_url, viewer, query, d=yesterday)
            assert before == after
            if period_of("term", today - timedelta(days=1)) == period_of("term", today):
                assert after["data"]["allianceTargets"][0]["value"] == 1.0

            # Staff drill down from the number to the reports behind it; the dashboard cannot.
            drill = "query($t: ID!) { allianceContributions(targetId: $t) { eventType school } }"
            jus_staff = dev_issuer.token(role="coordinator", department="jus", subject="jus-1")
            events = await graphql(gateway_url, jus_staff, drill, t=target_id)
            found = events["data"]["allianceContributions"]
            assert len(found) == 3 and {e["school"] for e in found} == {SCHOOL}
            refused = await graphql(gateway_url, viewer, drill, t=target_id)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

            # Last term closes with one lecture reported: jus has not met its target.
            await lecture(jus, last_term.ends_on - timedelta(days=10))
            as_of_last = {"as_of": last_term.ends_on.isoformat()}

            async def counted_last_term(n: int) -> bool:
                answer = await edu.post("/figures/ledger", json=as_of_last)
                return bool(answer.json()["events"].get(LECTURE) == n)

            await eventually(lambda: counted_last_term(1), timeout=30, message="late term")
            close = (
                "mutation($p: String!) { closeAlliancePeriod(input: {period: $p}) {"
                " ... on CloseAlliancePeriodSuccess { period departments }"
                " ... on AllianceCommandError { code } } }"
            )
            closed = await graphql(gateway_url, admin_token, close, p=last_term.label)
            assert closed["data"]["closeAlliancePeriod"]["period"] == last_term.label
            frozen_cards = await edu.post("/figures/scorecards", json={"period": last_term.label})
            jus_card = next(
                c for c in frozen_cards.json()["scorecards"] if c["department"] == "jus"
            )
            assert (jus_card["targets"], jus_card["targets_met"]) == (1, 0)
            again_closed = await graphql(gateway_url, admin_token, close, p=last_term.label)
            assert again_closed["data"]["closeAlliancePeriod"] == {"code": "already-closed"}

            # A late report for last term arrives; the correction shows it, the frozen stays.
            await lecture(jus, last_term.ends_on - timedelta(days=5))
            await eventually(lambda: counted_last_term(2), timeout=30, message="late report")
            corrected = await edu.post(
                "/assessments/corrections",
                json={"period": last_term.label, "reason": "a late lecture report"},
            )
            assert corrected.status_code == 200, corrected.text
            assert corrected.json()["correction"] == 1

            assessments = "{ allianceAssessments { period corrections frozen { department " \
                "targetsMet } current { department targetsMet } } }"  # fmt: skip

            async def shown_as_correction() -> dict[str, Any] | None:
                data = await graphql(gateway_url, viewer, assessments)
                found = data["data"]["allianceAssessments"]
                return found[0] if found and found[0]["corrections"] == 1 else None

            shown = await eventually(shown_as_correction, timeout=30, message="correction")
            assert shown["period"] == last_term.label
            frozen = {c["department"]: c["targetsMet"] for c in shown["frozen"]}
            current = {c["department"]: c["targetsMet"] for c in shown["current"]}
            assert (frozen["jus"], current["jus"]) == (0, 1)
