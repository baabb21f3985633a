"""Fixtures for fuzzing: settings on a fresh store and NATS, and the callers a service meets.

The store is SQLite unless TONGXIN_FUZZ_STORE=postgres (the opt-in run may use the
embedded PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest

from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.e2e.conftest import journey_settings

SCHOOL = "yz-dongguan-primary"
T = TypeVar("T")


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


class StreamHeads:
    """Reads the last sequence of every JetStream stream from synchronous code.

    The fuzzer is synchronous (hypothesis drives it); the NATS client lives on an
    event loop in a thread of its own, connected once for the whole run.
    """

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._nc = self._run(nats.connect(url, connect_timeout=2))

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    async def _heads(self) -> dict[str, int]:
        js = self._nc.jetstream(timeout=5)
        return {str(info.config.name): info.state.last_seq for info in await js.streams_info()}

    def __call__(self) -> dict[str, int]:
        return self._run(self._heads())

    def close(self) -> None:
        self._run(self._nc.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


@pytest.fixture
def stream_heads(nats_url: str) -> Iterator[StreamHeads]:
    heads = StreamHeads(nats_url)
    try:
        yield heads
    finally:
        heads.close()
