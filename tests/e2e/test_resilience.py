"""Nothing acknowledged is lost: a killed relay, a stopped NATS, a poison message; one trace."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.main import create_gateway
from services.kit.settings import Settings
from services.volunteers.main import create_service as create_volunteers
from tests.support.apps import CLOUDEVENTS_JSON, Tokens, police_result, running
from tests.support.environ import settings_env
from tests.support.nats import NatsServer
from tests.support.streams import read_stream, stream_last_seq
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(240)


async def register_many(volunteers: httpx.AsyncClient, count: int, prefix: str) -> list[str]:
    ids = []
    for n in range(count):
        response = await volunteers.post(
            "/volunteers",
            json={"display_name": f"{prefix} {n}", "kind": "youth"},
            headers={"Idempotency-Key": f"{prefix}-{n}"},
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["volunteer_id"])
    return ids


def assert_exactly_once_in_order(messages: list[Any], expected: int) -> None:
    positions = [int(m.headers["ce-sequence"]) for m in messages]
    assert len(positions) == expected, f"{len(positions)} messages for {expected} events"
    assert positions == sorted(set(positions)), "duplicates or out of order"
    ids = [m.headers["Nats-Msg-Id"] for m in messages]
    assert len(set(ids)) == len(ids)


class TestRelayKilledMidStream:
    async def test_the_stream_holds_every_event_once_in_order(
        self, settings: Settings, tokens: Tokens
    ) -> None:
        # Commands are accepted by the API while the relay runs as a process of its own.
        api_settings = settings.model_copy(update={"relay_in_process": False})
        async with running(create_volunteers(api_settings), tokens.coordinator()) as volunteers:
            await register_many(volunteers, 600, "Killed-relay")

        # A one-second duplicate window: the restart below comes after it, so only the
        # relay's own stored position (not JetStream's dedup) can prevent a republish.
        relay_settings = settings.model_copy(update={"relay_batch": 5, "duplicate_window_s": 1.0})
        env = settings_env(relay_settings)
        command = [sys.executable, "-m", "services.volunteers", "relay"]
        quiet = {"stdout": asyncio.subprocess.DEVNULL, "stderr": asyncio.subprocess.DEVNULL}
        relay = await asyncio.create_subprocess_exec(*command, env=env, **quiet)
        try:
            # Kill it while it is publishing.
            seen = await eventually(
                lambda: stream_last_seq(settings.nats_urls, "VOLUNTEERS"), timeout=60
            )
            relay.send_signal(signal.SIGKILL)
            await asyncio.wait_for(relay.wait(), 10)
            assert seen < 600, "the relay finished before it could be killed"
        finally:
            if relay.returncode is None:
                relay.kill()
                await relay.wait()

        await asyncio.sleep(1.5)
        restarted = await asyncio.create_subprocess_exec(*command, env=env, **quiet)
        try:
            await eventually(
                lambda: _equals(stream_last_seq(settings.nats_urls, "VOLUNTEERS"), 600),
                timeout=90,
                interval=0.2,
            )
        finally:
            restarted.send_signal(signal.SIGTERM)
            await asyncio.wait_for(restarted.wait(), 20)
        assert_exactly_once_in_order(await read_stream(settings.nats_urls, "VOLUNTEERS"), 600)


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)


class TestNatsDown:
    @pytest.fixture
    def store_settings(self, tmp_path: Path) -> Settings:
        return Settings(store="sqlite", state_dir=tmp_path / "state")

    async def test_commands_succeed_and_everything_arrives_after_nats_returns(
        self,
        own_nats_server: NatsServer,
        settings: Settings,
        tokens: Tokens,
        tmp_path: Path,
    ) -> None:
        settings = settings.model_copy(update={"nats_urls": own_nats_server.url})
        gateway_app = create_gateway(settings, readmodel_dir=tmp_path / "readmodels")
        async with (
            running(create_volunteers(settings), tokens.coordinator()) as volunteers,
            running(gateway_app, tokens.coordinator()) as gateway,
        ):
            await register_many(volunteers, 5, "Before")
            await eventually(lambda: _equals(stream_last_seq(own_nats_server.url, "VOLUNTEERS"), 5))

            # NATS goes away: commands keep succeeding.
            own_nats_server.stop()
            await register_many(volunteers, 20, "During")
            ready = (await volunteers.get("/readyz")).json()
            assert ready["ready"] is True and ready["checks"]["store"]["ok"] is True

            # NATS returns: every event reaches the stream and the read model.
            own_nats_server.start()
            await eventually(
                lambda: _equals(stream_last_seq(own_nats_server.url, "VOLUNTEERS"), 25),
                timeout=60,
                interval=0.2,
            )
            assert_exactly_once_in_order(await read_stream(own_nats_server.url, "VOLUNTEERS"), 25)

            async def all_projected() -> bool:
                response = await gateway.post(
                    "/graphql",
                    json={"query": "{ volunteers(first: 100) { edges { node { id } } } }"},
                )
                edges = response.json()["data"]["volunteers"]["edges"]
                return len(edges) == 25

            await eventually(all_projected, timeout=60, interval=0.2)


class TestPoisonMessage:
    @pytest.fixture
    def store_settings(self, tmp_path: Path) -> Settings:
        return Settings(store="sqlite", state_dir=tmp_path / "state")

    async def test_a_poison_message_is_dead_lettered_and_later_events_apply(
        self,
        volunteers: httpx.AsyncClient,
        ingest: httpx.AsyncClient,
        settings: Settings,
    ) -> None:
        (volunteer_id,) = await register_many(volunteers, 1, "Poisoned")
        check = await volunteers.post(f"/volunteers/{volunteer_id}/background-checks", json={})

        # A police system publishes garbage straight to NATS, into its own subject.
        nc = await nats.connect(settings.nats_urls)
        try:
            js = nc.jetstream()
            await eventually(lambda: _stream_exists(js, "CHECKS"), timeout=20)
            await js.publish(
                "evt.pol.checks.background-check-completed",
                b"\x00 not a cloudevent",
                headers={
                    "ce-specversion": "1.0",
                    "ce-id": "x",
                    "ce-source": "/pol",
                    "ce-type": "?",
                },
            )
        finally:
            await nc.close()

        # A valid result published after it still applies.
        event = police_result(volunteer_id, check.json()["check_id"])
        assert (
            await ingest.post("/events", json=event, headers=CLOUDEVENTS_JSON)
        ).status_code == 202

        async def passed() -> bool:
            body = (await volunteers.get(f"/volunteers/{volunteer_id}")).json()
            return bool(body["check"]["status"] == "passed")

        await eventually(passed, timeout=30)
        dead = await read_stream(settings.nats_urls, "DEAD_LETTERS")
        assert len(dead) == 1
        assert dead[0].headers["tongxin-dlq-consumer"] == "volunteers-police-checks"
        assert (
            dead[0].subject
            == "dlq.volunteers-police-checks.evt.pol.checks.background-check-completed"
        )


async def _stream_exists(js: Any, name: str) -> bool:
    try:
        await js.stream_info(name)
    except Exception:
        return False
    return True


class TestOneTrace:
    @pytest.fixture
    def store_settings(self, tmp_path: Path) -> Settings:
        return Settings(store="sqlite", state_dir=tmp_path / "state")

    @pytest.fixture
    async def gateway(
        self, settings: Settings, tokens: Tokens, tmp_path: Path
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_gateway(settings, readmodel_dir=tmp_path / "readmodels")
        async with running(app, tokens.coordinator()) as client:
            yield client

    async def test_one_trace_spans_command_publish_and_projection(
        self,
        span_exporter: InMemorySpanExporter,
        volunteers: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
    ) -> None:
        response = await volunteers.post(
            "/volunteers", json={"display_name": "Traced", "kind": "teacher"}
        )
        assert response.status_code == 201

        def spans_named(prefix: str) -> list[Any]:
            return [s for s in span_exporter.get_finished_spans() if s.name.startswith(prefix)]

        projected = await eventually(
            lambda: spans_named("process org.tongxin.volunteers.volunteer-registered"),
            timeout=20,
        )
        published = spans_named("publish evt.cyl.volunteers.volunteer-registered")
        commands = [s for s in span_exporter.get_finished_spans() if "/volunteers" in s.name]
        assert commands, [s.name for s in span_exporter.get_finished_spans()]
        trace_id = commands[0].context.trace_id
        assert published[0].context.trace_id == trace_id
        assert projected[0].context.trace_id == trace_id
        assert projected[0].parent is not None
        await asyncio.sleep(0)
