"""A department's sealed field reaches its receiver only: the ingest checks the envelope
against the receiving service's keys before anything is published."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts import registry
from contracts.events import ContractEvent, classified
from services.ingest.main import create_service
from services.kit import bus
from services.kit.auth import DevIssuer
from services.kit.privacy.sealing import Jwks, SealError, SealingKeys, open_sealed, seal
from services.kit.settings import Settings
from tests.support.apps import running
from tests.support.streams import nats_client

pytestmark = [pytest.mark.nats, pytest.mark.timeout(60)]


class SealedReferral(ContractEvent):
    """Test-only: civil affairs refers a child to care, the child's details sealed to care."""

    boundary = "registry"
    event_name = "test-sealed-referral"
    referral_id: str = classified("id", "Referral id.")
    referral: str = classified("sealed", "The child and the reason (JWE).", sealed_to="care")


@dataclass
class Ingest:
    client: httpx.AsyncClient
    token: str
    nats_url: str
    care: SealingKeys
    fetched: list[str]

    async def post(self, referral: str) -> httpx.Response:
        document = {
            "specversion": "1.0",
            "id": str(uuid4()),
            "source": "/civ/registry",
            "type": SealedReferral.event_type(),
            "datacontenttype": "application/json",
            "data": {"referral_id": "r-1", "referral": referral},
        }
        return await self.client.post(
            "/events",
            json=document,
            headers={
                "Authorization": f"Bearer {self.token}",
                "content-type": "application/cloudevents+json",
            },
        )

    async def stored(self) -> list[bytes]:
        async with nats_client(self.nats_url) as nc:
            js = nc.jetstream(timeout=5)
            stream = bus.stream_name("registry")
            info = await js.stream_info(stream)
            if not info.state.messages:
                return []
            return [
                (await js.get_msg(stream, seq)).data or b""
                for seq in range(info.state.first_seq, info.state.last_seq + 1)
            ]


@pytest.fixture
async def ingest(
    nats_url: str, dev_issuer: DevIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Ingest]:
    monkeypatch.setitem(registry.BY_TYPE, SealedReferral.event_type(), SealedReferral)
    settings = Settings(
        state_dir=tmp_path, nats_urls=nats_url, auth_jwks_url=str(dev_issuer.jwks_path)
    )
    care = SealingKeys.generate()
    fetched: list[str] = []

    async def care_jwks(service: str) -> Jwks:
        fetched.append(service)
        return care.jwks()

    app = create_service(settings)
    app.state.receivers.fetch = care_jwks
    token = dev_issuer.token(role="department-system", department="civ", subject="civ-registry")
    async with running(app) as client:
        yield Ingest(client, token, nats_url, care, fetched)


async def test_a_payload_sealed_to_the_receiver_is_published_and_only_it_opens_it(
    ingest: Ingest,
) -> None:
    payload = {"child": "Zhang Xiaoming", "reason": "left behind"}
    response = await ingest.post(seal(payload, ingest.care.jwks()))
    assert response.status_code == 202, response.text
    assert ingest.fetched == ["care"]
    [body] = await ingest.stored()
    assert b"Zhang Xiaoming" not in body
    published = SealedReferral.model_validate_json(body)
    assert open_sealed(published.referral, ingest.care) == (
        b'{"child":"Zhang Xiaoming","reason":"left behind"}'
    )
    with pytest.raises(SealError):
        open_sealed(published.referral, SealingKeys.generate())


@pytest.mark.parametrize(
    ("referral", "reason"),
    [
        (lambda: seal({"child": "Li Si"}, SealingKeys.generate().jwks()), "not one of the"),
        (lambda: "Li Si, 9, left behind", "not a JWE compact token"),
    ],
    ids=["sealed-to-another-key", "not-sealed"],
)
async def test_anything_else_is_refused_with_the_reason_and_nothing_is_published(
    ingest: Ingest, referral: Any, reason: str
) -> None:
    response = await ingest.post(referral())
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "sealed-field-refused"
    assert "field 'referral' must be sealed to the care service's key" in problem["detail"]
    assert reason in problem["detail"]
    assert "Li Si" not in response.text
    assert await ingest.stored() == []


async def test_a_key_the_receiver_added_since_is_looked_up_again(ingest: Ingest) -> None:
    assert (await ingest.post(seal({"n": 1}, ingest.care.jwks()))).status_code == 202
    rotated = SealingKeys.from_pem(SealingKeys.generate().as_pem() + ingest.care.as_pem())
    ingest.care = rotated
    ingest.client._transport.app.state.receivers.fetch = _serving(rotated)  # type: ignore[attr-defined]
    assert (await ingest.post(seal({"n": 2}, rotated.jwks()))).status_code == 202
    assert len(await ingest.stored()) == 2


def _serving(keys: SealingKeys) -> Any:
    async def fetch(service: str) -> Jwks:
        return keys.jwks()

    return fetch
