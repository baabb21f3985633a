"""Register, rename and erase a person with a unique name, then read every message of
every Tongxin stream through NATS: the name appears nowhere."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.volunteers.main import create_service
from tests.support.apps import running
from tests.support.streams import StoredMessage, nats_client, read_stream
from tests.support.waiting import eventually

pytestmark = [pytest.mark.nats, pytest.mark.timeout(90)]


async def every_message(url: str) -> list[StoredMessage]:
    async with nats_client(url) as nc:
        names = [info.config.name for info in await nc.jetstream(timeout=5).streams_info()]
    return [m for name in names if name for m in await read_stream(url, name)]


async def test_no_name_travels_on_the_bus(
    nats_url: str, dev_issuer: DevIssuer, tmp_path: Path
) -> None:
    settings = Settings(
        state_dir=tmp_path,
        nats_urls=nats_url,
        auth_jwks_url=str(dev_issuer.jwks_path),
        relay_in_process=True,
    )
    name, new_name = f"Ming-{uuid4().hex}", f"Hong-{uuid4().hex}"
    owner = dev_issuer.token(role="coordinator", department="cyl", subject="c-1")
    async with running(create_service(settings), token=owner) as client:
        body = {"display_name": name, "kind": "five-elders", "school_id": "s1"}
        vid = (await client.post("/volunteers", json=body)).json()["volunteer_id"]
        assert (await client.post(f"/volunteers/{vid}/background-checks", json={})).is_success
        response = await client.put(
            f"/volunteers/{vid}/display-name", json={"display_name": new_name}
        )
        assert response.is_success, response.text
        names = (await client.post("/volunteers/names", json={"ids": [vid]})).json()
        assert names["names"] == {vid: new_name}
        assert (await client.post(f"/volunteers/{vid}/erase", json={})).is_success

        async def published() -> list[StoredMessage] | None:
            messages = await every_message(nats_url)
            types = {m.headers.get("ce-type") for m in messages}
            return messages if "org.tongxin.volunteers.volunteer-erased.v1" in types else None

        messages = await eventually(published, timeout=30, message="the erasure was not published")

    types = sorted({m.headers["ce-type"] for m in messages})
    assert types == [
        "org.tongxin.volunteers.background-check-requested.v1",
        "org.tongxin.volunteers.volunteer-erased.v1",
        "org.tongxin.volunteers.volunteer-registered.v2",
    ]
    for message in messages:
        for text in (name, new_name):
            assert text.encode() not in message.data, message.subject
            assert not any(text in value for value in message.headers.values()), message.subject
    assert all(vid.encode() in m.data for m in messages)
