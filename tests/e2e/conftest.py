"""Fixtures for journeys: settings on a fresh store and NATS, tokens, running services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.ingest.main import create_service as create_ingest
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.volunteers.main import create_service as create_volunteers
from tests.support.apps import Tokens, running
from tests.support.browser import browser, chromium

__all__ = ["browser", "chromium"]  # the page tests' fixtures


def journey_settings(base: Settings, nats_url: str, issuer: DevIssuer, **extra: object) -> Settings:
    return base.model_copy(
        update={
            "nats_urls": nats_url,
            "auth_jwks_url": str(issuer.jwks_path),
            "relay_idle_s": 0.01,
            "consumer_max_deliver": 3,
        }
        | extra
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The journey runs on both event stores."""
    if request.param == "sqlite":
        return Settings(store="sqlite", state_dir=tmp_path / "state")
    return request.getfixturevalue("pg_settings")  # type: ignore[no-any-return]


@pytest.fixture
def tokens(dev_issuer: DevIssuer) -> Tokens:
    return Tokens(dev_issuer)


@pytest.fixture
def settings(store_settings: Settings, nats_url: str, dev_issuer: DevIssuer) -> Settings:
    return journey_settings(store_settings, nats_url, dev_issuer)


@pytest.fixture
async def volunteers(settings: Settings, tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    app = create_volunteers(settings)
    async with running(app, tokens.coordinator()) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def ingest(settings: Settings, tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_ingest(settings), tokens.police()) as client:
        yield client
