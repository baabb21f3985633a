"""The department connector's subscriber on a real nats-server: public security's system
answers a background-check request from the volunteers' stream through its own durable
once the check is due, and its answer lands once in its own stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import nats
import pytest

from contracts.checks import BackgroundCheckCompleted
from contracts.volunteers import BackgroundCheckRequested
from departments.checks import system
from services.kit import bus
from services.kit.settings import Settings
from services.kit.wire import envelope_for, from_nats
from tests.support.waiting import eventually
from tongxin.connector import ConnectorSettings, DepartmentConnector

pytestmark = pytest.mark.timeout(120)

VOLUNTEER = "0b7f2a4e-5c1d-4e8f-9a3b-2c6d7e8f9a01"


async def test_public_security_answers_a_requested_check_once(nats_url: str) -> None:
    settings = Settings(nats_urls=nats_url)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(timeout=10)
        for boundary in ("volunteers", "checks"):
            await bus.ensure_stream(js, boundary, settings)
        # The volunteers service requested a check (as its relay publishes it).
        request = BackgroundCheckRequested(
            volunteer_id=VOLUNTEER, check_id="chk-1", requested_at=datetime.now(UTC)
        )
        envelope = envelope_for(request, id="volunteers-1", source="/volunteers", subject=None)
        await js.publish(envelope.nats_subject(), envelope.payload(), headers=envelope.headers())

        pol = DepartmentConnector(ConnectorSettings(department="pol", nats_urls=nats_url))
        # A check takes two seconds: the first delivery is asked for again, not held.
        system(pol, answer_after_s=2)
        stop = asyncio.Event()
        async with pol.running(stop):
            answers = await js.pull_subscribe(
                "evt.pol.checks.background-check-completed", stream="CHECKS"
            )

            async def answered() -> list[BackgroundCheckCompleted]:
                try:
                    messages = await answers.fetch(10, timeout=1)
                except TimeoutError:
                    return []
                for message in messages:
                    await message.ack()
                return [
                    from_nats(m.subject, m.headers, m.data).data  # type: ignore[misc]
                    for m in messages
                ]

            found = await eventually(answered, timeout=60, message="the check is answered")
        assert [(a.check_id, a.volunteer_id, a.outcome) for a in found] == [
            ("chk-1", VOLUNTEER, "passed")
        ]
        # The request was acknowledged: the durable has nothing pending.
        info = await js.consumer_info("VOLUNTEERS", "pol-background-check-requested")
        assert info.num_pending == 0 and info.num_ack_pending == 0
    finally:
        await nc.close()
