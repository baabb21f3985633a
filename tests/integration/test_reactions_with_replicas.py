"""Two API replicas on one store: the reactions run once, in the relay process, in order.

Production runs several volunteers API replicas and one relay process. The police-checks
reaction must have one reader: two readers on one durable split the stream between them
(and apply it out of order), and a replica restarting would recreate the durable under
the other. Here two replicas take commands while public security's results arrive; the
results are recorded only by the relay process, each once, in the order they were
published, across a relay killed and started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from nats.js.errors import NotFoundError

from services.ingest.main import create_service as create_ingest
from services.kit.application import ServiceApplication
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.volunteers.main import create_service as create_volunteers
from services.volunteers.reactions import POLICE_CHECKS_CONSUMER
from tests.support.apps import CLOUDEVENTS_JSON, police_result, running
from tests.support.environ import settings_env
from tests.support.streams import nats_client
from tests.support.waiting import eventually, free_port

pytestmark = [pytest.mark.nats, pytest.mark.timeout(240)]

VOLUNTEERS = 90


def recorded(app: ServiceApplication) -> list[str]:
    """The volunteers whose check was recorded, in the order the store holds it."""
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    return [
        str(n.originator_id) for n in notifications if n.topic.endswith("BackgroundCheckRecorded")
    ]


@contextlib.asynccontextmanager
async def relay_process(settings: Settings) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.volunteers",
        "relay",
        env=settings_env(settings),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def post_results(ingest: httpx.AsyncClient, results: list[tuple[str, str]]) -> None:
    for volunteer_id, check_id in results:
        response = await ingest.post(
            "/events", json=police_result(volunteer_id, check_id), headers=CLOUDEVENTS_JSON
        )
        assert response.status_code == 202, response.text


async def durable_exists(nats_url: str) -> bool:
    async with nats_client(nats_url) as nc:
        try:
            await nc.jetstream(timeout=5).consumer_info("CHECKS", POLICE_CHECKS_CONSUMER)
        except NotFoundError:
            return False
        return True


async def test_reactions_run_once_in_the_relay_process_not_in_the_replicas(
    pg_settings: Settings, nats_url: str, dev_issuer: DevIssuer
) -> None:
    settings = pg_settings.model_copy(
        update={
            "nats_urls": nats_url,
            "auth_jwks_url": str(dev_issuer.jwks_path),
            "relay_in_process": False,  # the production shape: the relay runs on its own
            "relay_idle_s": 0.01,
            "consumer_batch": 7,  # many small batches: two readers would interleave
        }
    )
    relay_port = free_port()
    relay_settings = settings.model_copy(update={"relay_http_port": relay_port})
    coordinator = dev_issuer.token(role="coordinator", department="cyl", scope="city")
    police = dev_issuer.token(role="department-system", department="pol", subject="pol-checks")
    first, second = create_volunteers(settings), create_volunteers(settings)
    store: ServiceApplication = first.state.application

    async with (
        running(first, coordinator) as one,
        running(second, coordinator) as two,
        running(create_ingest(settings), police) as ingest,
    ):
        checks: list[tuple[str, str]] = []
        for n in range(VOLUNTEERS):
            replica = (one, two)[n % 2]
            body = {"display_name": f"Volunteer {n}", "kind": "youth"}
            volunteer_id = (await replica.post("/volunteers", json=body)).json()["volunteer_id"]
            response = await (two, one)[n % 2].post(
                f"/volunteers/{volunteer_id}/background-checks", json={}
            )
            assert response.status_code == 202, response.text
            checks.append((volunteer_id, response.json()["check_id"]))
        order = checks[:]
        random.Random(8).shuffle(order)
        first_third, second_third, last_third = order[:30], order[30:60], order[60:]

        for replica in (one, two):
            report = (await replica.get("/readyz")).json()["checks"]
            assert not [name for name in report if name.startswith("reaction:")], report

        # Results arrive while only the replicas run: nobody records them.
        await post_results(ingest, first_third)
        await asyncio.sleep(2.0)
        assert recorded(store) == []
        assert not await durable_exists(nats_url)

        async with relay_process(relay_settings) as relay:
            await eventually(
                lambda: len(recorded(store)) == 30, timeout=60, message="the relay applied"
            )
            await post_results(ingest, second_third)
            await eventually(lambda: len(recorded(store)) == 60, timeout=60)
            relay.send_signal(signal.SIGKILL)
            await relay.wait()

        # The relay process is away: results wait in the stream, nothing is lost.
        await post_results(ingest, last_third)
        async with relay_process(relay_settings) as relay:
            await eventually(lambda: len(recorded(store)) == VOLUNTEERS, timeout=60)

            async def reaction_report() -> dict[str, Any] | None:
                with contextlib.suppress(httpx.TransportError):
                    async with httpx.AsyncClient() as client:
                        response = await client.get(f"http://127.0.0.1:{relay_port}/readyz")
                        report: dict[str, Any] = response.json()["checks"]
                        reaction = report[f"reaction:{POLICE_CHECKS_CONSUMER}"]
                        return reaction if reaction["position"] == VOLUNTEERS else None
                return None

            reaction = await eventually(reaction_report, timeout=30)
            assert reaction["ok"] is True
            relay.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(relay.wait(), 20) == 0

        assert recorded(store) == [volunteer_id for volunteer_id, _ in order]
        statuses = {
            (await one.get(f"/volunteers/{volunteer_id}")).json()["check"]["status"]
            for volunteer_id, _ in checks
        }
        assert statuses == {"passed"}
