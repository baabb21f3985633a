"""The department connector under the generated NATS authorization: one nats-server for the
module, started with the same authorization block `tongxin run` gives it and the users'
passwords in its environment. A department's system, connected as its own user through
the connector, publishes its own report; another department's subject and deleting a
durable (its own included) are refused by the server, not only by the connector."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from pydantic import SecretStr

from contracts.reports import LegalLectureGiven
from contracts.volunteers import BackgroundCheckRequested
from services.kit import bus
from services.kit.settings import Settings
from tests.support.nats import NatsServer
from tests.support.waiting import eventually
from tongxin import natsauth
from tongxin.connector import ConnectorSettings, DepartmentConnector

pytestmark = pytest.mark.timeout(60)

REFUSAL_WAIT_S = 1.0


class Secured:
    def __init__(self, server: NatsServer, passwords: dict[str, str]) -> None:
        self.server = server
        self.passwords = passwords

    def password(self, user: str) -> str:
        return self.passwords[natsauth.password_env(user)]

    def connector(self, department: str) -> DepartmentConnector:
        return DepartmentConnector(
            ConnectorSettings(
                department=department,
                nats_urls=self.server.url,
                nats_password=SecretStr(self.password(f"dept-{department}")),
            )
        )

    @asynccontextmanager
    async def connected(self, user: str) -> AsyncIterator[tuple[Client, list[str]]]:
        """A plain nats-py connection as `user`, with the server's permission refusals."""
        refusals: list[str] = []

        async def on_error(exc: Exception) -> None:
            if "permissions violation" in str(exc).lower():
                refusals.append(str(exc).lower())

        nc = await nats.connect(
            self.server.url,
            user=user,
            password=self.password(user),
            inbox_prefix=bus.inbox_prefix(user),
            error_cb=on_error,
            connect_timeout=2,
            max_reconnect_attempts=1,
        )
        try:
            yield nc, refusals
        finally:
            await nc.close()

    async def last_seq(self, stream: str) -> int:
        async with self.connected(natsauth.INGEST) as (nc, _):
            return int((await nc.jetstream(timeout=5).stream_info(stream)).state.last_seq)


@pytest.fixture(scope="module")
def secured() -> Iterator[Secured]:
    folder = Path(tempfile.mkdtemp(prefix="tongxin-connector-auth-"))
    users = natsauth.users()
    passwords = natsauth.ensure_passwords(folder / "nats-passwords.json", users)
    server = NatsServer(
        folder / "nats", extra_config=natsauth.render_authorization(users), env=passwords
    )
    server.start()
    try:
        yield Secured(server, passwords)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
async def streams(secured: Secured) -> None:
    """The ingest makes the department systems' streams, the volunteers' relay its own."""
    async with secured.connected(natsauth.INGEST) as (nc, _):
        for boundary in ("legal", "checks"):
            await bus.ensure_stream(nc.jetstream(timeout=5), boundary, Settings())
    async with secured.connected("svc-volunteers") as (nc, _):
        await bus.ensure_stream(nc.jetstream(timeout=5), "volunteers", Settings())


def lecture() -> LegalLectureGiven:
    return LegalLectureGiven(
        report_id="jus-auth-1",
        school_id="yz-school",
        district_id="321002",
        held_on=date(2026, 10, 12),
        audience="families",
        attendance=80,
    )


async def test_a_department_publishes_its_own_report_and_no_other(
    secured: Secured, streams: None
) -> None:
    before = await secured.last_seq("LEGAL")
    checks_before = await secured.last_seq("CHECKS")
    jus = secured.connector("jus")
    async with jus.running():
        seq = await jus.publisher(LegalLectureGiven).publish(lecture(), event_id="auth-1")
        assert seq == before + 1
        # Past the typed publisher (which refuses it already), the server refuses a subject
        # of public security's boundary too: no acknowledgement ever comes.
        with pytest.raises(TimeoutError):
            await jus.broker.publish(
                b"{}",
                "evt.pol.checks.background-check-completed",
                stream="CHECKS",
                timeout=REFUSAL_WAIT_S,
            )
    assert await secured.last_seq("LEGAL") == before + 1
    assert await secured.last_seq("CHECKS") == checks_before


async def test_a_department_cannot_delete_a_durable(secured: Secured, streams: None) -> None:
    pol = secured.connector("pol")

    @pol.subscriber(BackgroundCheckRequested)
    async def answer(event: BackgroundCheckRequested) -> None:
        """Nothing to answer here: the durable is what is tested."""

    durable = natsauth.department_durable("pol", "evt.cyl.volunteers.background-check-requested")
    async with pol.running(), secured.connected("dept-pol") as (nc, refusals):
        js = nc.jetstream(timeout=REFUSAL_WAIT_S)
        # Its own durable, made by the connector, is there and readable by pol.
        assert (await js.consumer_info("VOLUNTEERS", durable)).name == durable
        with pytest.raises(TimeoutError):
            await js.delete_consumer("VOLUNTEERS", durable)
        await eventually(lambda: len(refusals) >= 1, timeout=5)
        assert f"$js.api.consumer.delete.volunteers.{durable}" in " ".join(refusals)
        assert (await js.consumer_info("VOLUNTEERS", durable)).name == durable
