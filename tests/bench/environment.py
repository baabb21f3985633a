"""What a bench run stands on: its own nats-server, embedded PostgreSQL and a scratch folder.

Everything is started here and stopped when the `Environment` closes, whatever
the measurements did in between.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from services.kit.settings import Settings
from tests.support.nats import NATS_SERVER, NatsServer
from tests.support.postgres import PostgresServer
from tests.support.streams import delete_all_streams

LIBRARIES = (
    "nats-py",
    "eventsourcing",
    "psycopg",
    "fastapi",
    "uvicorn",
    "strawberry-graphql",
    "pydantic",
    "httpx",
    "orjson",
)


class Environment:
    """A scratch folder, a nats-server and a PostgreSQL server for one bench run."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tongxin-bench-"))
        os.chmod(self.root, 0o755)  # the embedded PostgreSQL runs as another user when root
        self.nats = NatsServer(self.root / "nats")
        self._postgres: PostgresServer | None = None
        self._counter = 0

    def __enter__(self) -> Environment:
        self.nats.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.nats.stop()
        if self._postgres is not None:
            with contextlib.suppress(Exception):
                self._postgres.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def postgres(self) -> PostgresServer:
        """Started on first use, so a run of NATS-only measurements does not wait for it."""
        if self._postgres is None:
            folder = self.root / "pg"
            folder.mkdir(mode=0o755)
            self._postgres = PostgresServer.start(folder / "pgdata")
        return self._postgres

    def folder(self, name: str) -> Path:
        """A fresh folder of the scratch space."""
        self._counter += 1
        path = self.root / f"{self._counter:02d}-{name}"
        path.mkdir(parents=True)
        return path

    def sqlite_settings(self, name: str, **overrides: Any) -> Settings:
        return Settings(
            store="sqlite", state_dir=self.folder(name), nats_urls=self.nats.url, **overrides
        )

    def postgres_settings(self, name: str, **overrides: Any) -> Settings:
        self._counter += 1
        dbname = self.postgres.create_database(f"bench_{self._counter}_{name}")
        return self.postgres.settings(
            dbname, state_dir=self.folder(name), nats_urls=self.nats.url, **overrides
        )

    async def reset_streams(self) -> None:
        """Delete every stream, so a measurement starts from an empty JetStream."""
        await delete_all_streams(self.nats.url)

    def describe(self) -> dict[str, Any]:
        """The machine and the versions the figures were measured with."""
        versions = {}
        for name in LIBRARIES:
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                versions[name] = importlib.metadata.version(name)
        return {
            "cores": os.cpu_count(),
            "machine": platform.machine(),
            "system": platform.platform(),
            "python": platform.python_version(),
            "libraries": versions,
            "nats_server": _nats_server_version(),
            "postgresql": self._postgres_version(),
        }

    def _postgres_version(self) -> str | None:
        if self._postgres is None:
            return None
        with self._postgres.connect() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else None


def _nats_server_version() -> str:
    result = subprocess.run(
        [str(NATS_SERVER), "--version"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or result.stderr.strip()
