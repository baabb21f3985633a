"""The ingest keeps trying until the department systems' streams exist, and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nats.js.errors import ServiceUnavailableError

from services.ingest.main import create_service, system_boundaries
from services.kit import bus
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.support.apps import running
from tests.support.streams import nats_client
from tests.support.waiting import eventually

pytestmark = pytest.mark.nats


async def test_streams_refused_after_connecting_are_retried_until_they_exist(
    nats_url: str, dev_issuer: DevIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # JetStream answers the connection but refuses the first stream creations (a leader
    # election, a full disk): the ingest must not settle for a connection without streams.
    real_ensure = bus.ensure_stream
    refusals = {"left": 3}

    async def refusing(js: Any, boundary: str, settings: Settings) -> str:
        if refusals["left"]:
            refusals["left"] -= 1
            raise ServiceUnavailableError()
        return await real_ensure(js, boundary, settings)

    monkeypatch.setattr(bus, "ensure_stream", refusing)
    settings = Settings(
        state_dir=tmp_path, nats_urls=nats_url, auth_jwks_url=str(dev_issuer.jwks_path)
    )
    async with running(create_service(settings)) as ingest:
        first = (await ingest.get("/readyz")).json()
        if refusals["left"]:
            assert first["ready"] is False
            assert first["checks"]["streams"]["ok"] is False

        async def ready() -> bool:
            report = (await ingest.get("/readyz")).json()
            return bool(report["ready"])

        await eventually(ready, timeout=20, message="the ingest never got its streams")
        report = (await ingest.get("/readyz")).json()["checks"]
        assert report["streams"] == {"ok": True, "missing": []}
        assert report["nats"]["ok"] is True

    assert refusals["left"] == 0
    async with nats_client(nats_url) as nc:
        js = nc.jetstream(timeout=5)
        for boundary in system_boundaries():
            await js.stream_info(bus.stream_name(boundary))
