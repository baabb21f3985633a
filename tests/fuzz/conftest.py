"""Fixtures for fuzzing: settings on a fresh store and NATS, and the callers a service meets.

The store is SQLite unless TONGXIN_FUZZ_STORE=postgres (the opt-in run may use the
embedded PostgreSQL).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.e2e.conftest import journey_settings

SCHOOL = "yz-dongguan-primary"


@pytest.fixture
def fuzz_settings(
    request: pytest.FixtureRequest, tmp_path: Path, nats_url: str, dev_issuer: DevIssuer
) -> Settings:
    if os.environ.get("TONGXIN_FUZZ_STORE", "sqlite") == "postgres":
        base: Settings = request.getfixturevalue("pg_settings")
    else:
        base = Settings(store="sqlite", state_dir=tmp_path / "state")
    return journey_settings(base, nats_url, dev_issuer)


def bearer(**tokens: str) -> dict[str, dict[str, str]]:
    return {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}


def intruders(issuer: DevIssuer, tmp_path: Path, valid: str) -> dict[str, dict[str, str]]:
    """Header sets that must not authenticate: the ways a token can be missing or wrong."""
    forged = DevIssuer(tmp_path / "forger-keys").token(role="admin")
    expired = issuer.token(role="admin", ttl_s=-60)
    return {
        "anonymous": {},
        "forged": {"Authorization": f"Bearer {forged}"},
        "expired": {"Authorization": f"Bearer {expired}"},
        "truncated": {"Authorization": f"Bearer {valid[: len(valid) // 2]}"},
        "not-a-jwt": {"Authorization": "Bearer not.a.jwt"},
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
        "empty-bearer": {"Authorization": "Bearer "},
    }
