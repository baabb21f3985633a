"""The generated NATS authorization, enforced by a real nats-server.

Departments publish only into their own subjects, partners read only their feeds, and
the services' least privileges still carry the real code paths: the volunteers relay
and police-checks consumer (with dead letters), the gateway projector and its rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import SecretStr

from gateway.__main__ import rebuild
from gateway.main import create_gateway
from services.kit import bus
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.volunteers.main import create_service as create_volunteers
from tests.support.apps import Tokens, police_result, running
from tests.support.nats import NatsServer
from tests.support.waiting import eventually
from tongxin import natsauth
from tongxin.demo import NatsAccount, publish_as_department

pytestmark = pytest.mark.timeout(120)

REFUSAL_WAIT_S = 1.0


@dataclass
class Secured:
    server: NatsServer
    passwords: dict[str, str]
    folder: Path

    def password(self, user: str) -> str:
        return self.passwords[natsauth.password_env(user)]

    def settings(self, user: str, **extra: object) -> Settings:
        return Settings(
            nats_urls=self.server.url,
            nats_user=user,
            nats_password=SecretStr(self.password(user)),
            **extra,  # type: ignore[arg-type]
        )

    def account(self, user: str) -> NatsAccount:
        return NatsAccount(url=self.server.url, user=user, password=self.password(user))


@pytest.fixture(scope="module")
def secured() -> Iterator[Secured]:
    folder = Path(tempfile.mkdtemp(prefix="tongxin-natsauth-"))
    users = natsauth.users()
    passwords = natsauth.ensure_passwords(folder / "nats-passwords.json", users)
    server = NatsServer(
        folder / "nats", extra_config=natsauth.render_authorization(users), env=passwords
    )
    server.start()
    try:
        yield Secured(server, passwords, folder)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Connection:
    nc: Client
    errors: list[Exception]

    def refusals(self) -> list[str]:
        """The server's permission errors (nats-py lower-cases them)."""
        return [str(e).lower() for e in self.errors if "permissions violation" in str(e).lower()]


@contextlib.asynccontextmanager
async def connected(secured: Secured, user: str) -> AsyncIterator[Connection]:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(
        secured.server.url,
        user=user,
        password=secured.password(user),
        inbox_prefix=bus.inbox_prefix(user),
        error_cb=on_error,
        connect_timeout=2,
        max_reconnect_attempts=1,
    )
    try:
        yield Connection(nc, errors)
    finally:
        await nc.close()


async def ensure_system_stream(secured: Secured, boundary: str) -> None:
    """The ingest creates the department systems' streams."""
    async with connected(secured, natsauth.INGEST) as ingest:
        await bus.ensure_stream(ingest.nc.jetstream(timeout=5), boundary, Settings())


async def ensure_service_streams(secured: Secured, *services: str) -> None:
    """Each service's relay creates its own stream; the services not started here, too."""
    for service in services:
        async with connected(secured, f"svc-{service}") as owner:
            await bus.ensure_stream(owner.nc.jetstream(timeout=5), service, Settings())


async def last_seq(secured: Secured, stream: str) -> int:
    async with connected(secured, natsauth.INGEST) as ingest:
        info = await ingest.nc.jetstream(timeout=5).stream_info(stream)
        return int(info.state.last_seq)


async def test_wrong_password_is_refused(secured: Secured) -> None:
    with pytest.raises(Exception, match="[Aa]uthorization"):
        await nats.connect(
            secured.server.url,
            user="dept-pol",
            password="tx-not-the-password-of-pol",
            connect_timeout=2,
            max_reconnect_attempts=0,
            allow_reconnect=False,
        )


async def test_a_department_publishes_into_its_own_subjects(secured: Secured) -> None:
    await ensure_system_stream(secured, "checks")
    before = await last_seq(secured, "CHECKS")
    async with connected(secured, "dept-pol") as pol:
        ack = await pol.nc.jetstream(timeout=5).publish(
            "evt.pol.checks.background-check-completed",
            b"{}",
            headers={"Nats-Msg-Id": f"pol-{uuid4()}"},
        )
        assert ack.stream == "CHECKS"
        assert pol.refusals() == []
    assert await last_seq(secured, "CHECKS") == before + 1


async def test_another_departments_subjects_are_refused(secured: Secured) -> None:
    await ensure_system_stream(secured, "screening")
    before = await last_seq(secured, "SCREENING")
    async with connected(secured, "dept-pol") as pol:
        js = pol.nc.jetstream(timeout=REFUSAL_WAIT_S)
        for subject in ("evt.hlth.screening.result", "evt.cyl.volunteers.volunteer-registered"):
            with pytest.raises(NatsTimeoutError):  # the server drops it: no ack ever comes
                await js.publish(subject, b"{}", timeout=REFUSAL_WAIT_S)
        # Nor may it make a stream of its own to catch subjects.
        with pytest.raises(NatsTimeoutError):
            await js.add_stream(name="POL_GRAB", subjects=["evt.>"])
        await eventually(lambda: len(pol.refusals()) >= 3, timeout=5)
        refused = " ".join(pol.refusals())
    assert '"evt.hlth.screening.result"' in refused
    assert '"evt.cyl.volunteers.volunteer-registered"' in refused
    assert "$js.api.stream.create.pol_grab" in refused
    assert await last_seq(secured, "SCREENING") == before


async def test_a_partner_reads_its_feed_and_nothing_internal(secured: Secured) -> None:
    await ensure_system_stream(secured, "checks")
    async with (
        connected(secured, "partner-city-museum") as partner,
        connected(secured, "svc-feeds") as feeds,
        connected(secured, "dept-pol") as pol,
    ):
        own_feed = await partner.nc.subscribe("feed.city-museum.>")
        internal = await partner.nc.subscribe("evt.>")
        other_feed = await partner.nc.subscribe("feed.normal-university.>")
        await partner.nc.flush()
        await pol.nc.jetstream(timeout=5).publish(
            "evt.pol.checks.background-check-completed", b"{}"
        )
        await feeds.nc.publish("feed.normal-university.story", b"not for the museum")
        await feeds.nc.publish("feed.city-museum.story", b"study tour")
        await feeds.nc.flush()

        message = await own_feed.next_msg(timeout=5)
        assert message.data == b"study tour"
        for refused in (internal, other_feed):
            with pytest.raises(NatsTimeoutError):
                await refused.next_msg(timeout=0.5)
        # No JetStream consumer on an internal stream either.
        with pytest.raises(NatsTimeoutError):
            await partner.nc.jetstream(timeout=REFUSAL_WAIT_S).pull_subscribe(
                "evt.pol.checks.>", durable="museum", stream="CHECKS"
            )
        await eventually(lambda: len(partner.refusals()) >= 3, timeout=5)
        refused_text = " ".join(partner.refusals())
    assert 'subscription to "evt.>"' in refused_text
    assert 'subscription to "feed.normal-university.>"' in refused_text
    assert "$js.api.consumer.info.checks.museum" in refused_text


async def test_no_user_reads_another_users_replies(secured: Secured) -> None:
    async with connected(secured, "svc-gateway") as gateway:
        await gateway.nc.subscribe("_INBOX.svc-volunteers.>")
        await gateway.nc.subscribe("_INBOX.>")
        await gateway.nc.flush()
        await eventually(lambda: len(gateway.refusals()) >= 2, timeout=5)


async def test_services_publish_only_their_own_boundary(secured: Secured) -> None:
    async with connected(secured, "svc-volunteers") as volunteers:
        with pytest.raises(NatsTimeoutError):
            await volunteers.nc.jetstream(timeout=REFUSAL_WAIT_S).publish(
                "evt.pol.checks.background-check-completed", b"{}", timeout=REFUSAL_WAIT_S
            )
        # It reads CHECKS, but may not change it.
        with pytest.raises(NatsTimeoutError):
            await volunteers.nc.jetstream(timeout=REFUSAL_WAIT_S).delete_stream("CHECKS")
        await eventually(lambda: len(volunteers.refusals()) >= 2, timeout=5)


async def test_the_real_code_paths_run_with_their_own_credentials(
    secured: Secured, tmp_path: Path
) -> None:
    """Relay, police-checks consumer (with a dead letter), gateway projector and rebuild."""
    await ensure_system_stream(secured, "checks")
    # The gateway's other features read streams whose services do not run in this test.
    await ensure_service_streams(
        secured, "alliance", "feeds", "care", "courses", "committees", "resources"
    )
    issuer = DevIssuer(tmp_path / "keys")
    tokens = Tokens(issuer)
    common = {"auth_jwks_url": str(issuer.jwks_path), "relay_idle_s": 0.01}
    volunteers_settings = secured.settings(
        "svc-volunteers", store="sqlite", state_dir=tmp_path / "volunteers", **common
    )
    gateway_settings = secured.settings("svc-gateway", state_dir=tmp_path / "gateway", **common)
    volunteers_app = create_volunteers(volunteers_settings)
    gateway_app = create_gateway(gateway_settings, readmodel_dir=tmp_path / "readmodels")
    async with (
        running(volunteers_app, tokens.coordinator()) as volunteers,
        running(gateway_app, tokens.coordinator()),
    ):
        registered = await volunteers.post(
            "/volunteers",
            json={"display_name": "Liu Fang 刘芳", "kind": "parent", "school_id": "yz-school"},
        )
        assert registered.status_code == 201, registered.text
        volunteer_id = registered.json()["volunteer_id"]
        requested = await volunteers.post(f"/volunteers/{volunteer_id}/background-checks", json={})
        assert requested.status_code == 202, requested.text

        # A message that is no CloudEvent is dead-lettered; the real result after it applies.
        async with connected(secured, "dept-pol") as pol:
            await pol.nc.jetstream(timeout=5).publish("evt.pol.checks.garbage", b"not an event")
        event = police_result(volunteer_id, requested.json()["check_id"])
        await publish_as_department(secured.account("dept-pol"), "pol", [event])

        async def recorded() -> bool:
            check = (await volunteers.get(f"/volunteers/{volunteer_id}")).json()["check"]
            return bool(check["status"] == "passed")

        await eventually(recorded, timeout=30, message="the police result reaches the volunteer")
        # Registered, requested, recorded: all three relayed and projected by the gateway.
        await eventually(
            lambda: gateway_app.state.features["volunteers"].projectors[0].position >= 3, timeout=30
        )

    async with connected(secured, "svc-volunteers") as service:
        js = service.nc.jetstream(timeout=5)
        assert (await js.stream_info("VOLUNTEERS")).state.last_seq == 3
        assert (await js.stream_info(bus.DEAD_LETTER_STREAM)).state.messages >= 1
        assert service.refusals() == []

    # The gateway's rebuild deletes its durable and replays the stream.
    positions = await asyncio.wait_for(rebuild(gateway_settings, timeout_s=60), 90)
    assert positions["gateway-volunteers"] == 3
