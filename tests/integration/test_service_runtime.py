"""A service with its relay in-process runs its reactions there too, and reports them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.volunteers.main import create_service
from tests.support.apps import running
from tests.support.waiting import eventually

pytestmark = pytest.mark.nats


async def test_an_in_process_relay_brings_the_reactions_along(
    nats_url: str, dev_issuer: DevIssuer, tmp_path: Path
) -> None:
    settings = Settings(
        state_dir=tmp_path,
        nats_urls=nats_url,
        auth_jwks_url=str(dev_issuer.jwks_path),
        relay_in_process=True,
    )
    app = create_service(settings)
    async with running(app) as client:

        async def checks() -> dict[str, Any] | None:
            report: dict[str, Any] = (await client.get("/readyz")).json()["checks"]
            connected = report["relay"]["ok"] and report["reaction:volunteers-police-checks"]["ok"]
            return report if connected else None

        report = await eventually(checks, timeout=20)
        assert report["nats"] == {"ok": True, "required": False}
        assert report["reaction:volunteers-police-checks"]["required"] is False
    assert app.state.application.closing.is_set()
