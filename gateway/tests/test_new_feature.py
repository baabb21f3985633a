"""A new feature is a folder and a manifest entry: the gateway then runs it in full.

A throwaway feature (`probe`, projecting the police checks stream) is put in place as its
folder would be, and the manifest is given its entry; nothing else changes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import strawberry

from contracts.events import ContractEvent
from contracts.platform import GatewayFeature
from gateway import features
from gateway.context import Authenticated, context_of
from gateway.core.feature import Feature
from gateway.core.projection import SqliteProjection
from gateway.main import create_gateway
from gateway.tests.support import Stream, registered
from services.kit.auth import DevIssuer
from services.kit.settings import Settings


class ProbeReadModel(SqliteProjection):
    SCHEMA = "CREATE TABLE IF NOT EXISTS seen (type TEXT NOT NULL);"
    TABLES = ("seen",)
    DUMPED = {"seen": "type"}

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        conn.execute("INSERT INTO seen (type) VALUES (?)", (type(event).__name__,))

    def count(self) -> int:
        with self._locked() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM seen").fetchone()[0])


@strawberry.type
class ProbeQuery:
    @strawberry.field(description="Events the probe has seen.", permission_classes=[Authenticated])
    async def probe_seen(self, info: strawberry.Info) -> int:
        readmodel = context_of(info).feature("probe").readmodel
        assert isinstance(readmodel, ProbeReadModel)
        return await asyncio.to_thread(readmodel.count)


@pytest.fixture
def probe_feature(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    folder = types.ModuleType("gateway.probe")
    folder.FEATURE = Feature(name="probe", readmodel=ProbeReadModel, query=ProbeQuery)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gateway.probe", folder)
    manifest = features.specs()
    entry = GatewayFeature(name="probe", consumes=("evt.pol.checks.>",))
    monkeypatch.setattr(features, "specs", lambda: (*manifest, entry))
    features.registered.cache_clear()
    yield
    features.registered.cache_clear()


async def test_the_gateway_runs_a_feature_from_its_folder_and_manifest_entry(
    probe_feature: None, tmp_path: Path, issuer: DevIssuer
) -> None:
    settings = Settings(state_dir=tmp_path, auth_jwks_url=str(issuer.jwks_path))
    built = features.build_features(settings)
    assert list(built)[-1] == "probe" and "volunteers" in built
    assert [(p.name, p.stream) for p in built["probe"].projectors] == [
        ("gateway-probe-checks", "CHECKS")
    ]

    app = create_gateway(settings, start_projector=False)
    token = issuer.token(role="viewer")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as client,
    ):
        probe = app.state.features["probe"].readmodel
        probe.apply("gateway-probe-checks", Stream()(registered("v1")))
        answer = await client.post(
            "/graphql",
            json={"query": "{ probeSeen shifts(first: 1) { edges { cursor } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.json() == {"data": {"probeSeen": 1, "shifts": {"edges": []}}}
        checks = (await client.get("/readyz")).json()["checks"]
        assert checks["readmodel:probe"] == {"ok": True, "positions": {"gateway-probe-checks": 1}}
        assert "readmodel:volunteers" in checks
    assert (tmp_path / "data" / "gateway-probe.sqlite3").exists()
