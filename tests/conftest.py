"""Shared fixtures: a real nats-server and embedded PostgreSQL per test session.

Fixtures (see tests/support for the classes):
- `nats_server` (session): one `NatsServer` for the whole session; raw, streams persist.
- `nats_url` (function): the session server's URL after deleting every stream, so each
  test starts from an empty JetStream.
- `own_nats_server` (function): a private `NatsServer` (own port and store dir) for tests
  that stop, kill or restart NATS; removed afterwards.
- `postgres_server` (session): the embedded PostgreSQL (`tests.support.postgres.PostgresServer`).
- `pg_settings` (function): `Settings(store="postgres", ...)` on a fresh database (dropped after).
- `sqlite_settings` (function): `Settings(store="sqlite", state_dir=tmp_path / "state")`.
- `dev_issuer` (function): `DevIssuer(tmp_path / "keys")`.
- `span_exporter` (function): the session's `InMemorySpanExporter`, cleared for each test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.kit.telemetry import setup_tracing
from tests.support.nats import NatsServer
from tests.support.postgres import PostgresServer
from tests.support.streams import delete_all_streams

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="session")
def _session_dir() -> Iterator[Path]:
    """A folder of this session's own for its servers' data.

    Not under pytest's numbered base temp: pytest removes old numbered folders when
    another session starts, which would pull the data from under a running server.
    """
    folder = Path(tempfile.mkdtemp(prefix="tongxin-tests-"))
    os.chmod(folder, 0o755)  # the embedded PostgreSQL runs as another user when root
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server(_session_dir: Path) -> Iterator[NatsServer]:
    server = NatsServer(_session_dir / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nats_url(nats_server: NatsServer) -> str:
    if not nats_server.running:  # a test stopped the shared server: bring it back
        nats_server.start()
    await delete_all_streams(nats_server.url)
    return nats_server.url


@pytest.fixture
def own_nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def postgres_server(_session_dir: Path) -> Iterator[PostgresServer]:
    (_session_dir / "pg").mkdir(mode=0o755)
    server = PostgresServer.start(_session_dir / "pg" / "pgdata")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_settings(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Settings]:
    dbname = postgres_server.create_database()
    try:
        yield postgres_server.settings(dbname, state_dir=tmp_path / "state")
    finally:
        with contextlib.suppress(Exception):
            postgres_server.drop_database(dbname)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(store="sqlite", state_dir=tmp_path / "state")


@pytest.fixture
def dev_issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path / "keys")


@pytest.fixture(scope="session")
def _tracing() -> InMemorySpanExporter:
    setup_tracing("tests", SimpleSpanProcessor(_EXPORTER))
    return _EXPORTER


@pytest.fixture
def span_exporter(_tracing: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    _tracing.clear()
    yield _tracing
    _tracing.clear()
