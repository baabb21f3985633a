"""The service's own database, for the privacy tables kept beside its event store.

SQLite: the service's store file (`<state_dir>/data/<service>.sqlite3`), one connection
per table owner, serialised by a lock in the process and by `BEGIN IMMEDIATE` across
processes. PostgreSQL: the service's database (or schema), through a small pool.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool

from services.kit.settings import Settings


def sqlite_path(settings: Settings, service: str) -> Path:
    """The same file as the service's event store (`services.kit.eventstore.store_env`)."""
    folder = Path(settings.state_dir) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{service}.sqlite3"


class SqliteDatabase:
    """One connection, used by one thread at a time; writes take the file's write lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # Autocommit mode: transactions are begun explicitly, so a writer can take
        # the file's write lock up front (BEGIN IMMEDIATE) instead of upgrading later.
        self._conn = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        # Deleted rows are overwritten with zeros rather than left in free pages:
        # an erased person's key must not survive in the file.
        self._conn.execute("PRAGMA secure_delete=ON")
        self._lock = threading.Lock()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction holding the database's write lock from its first statement."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def postgres_pool(settings: Settings, service: str, *, max_size: int | None = None) -> Any:
    """A psycopg pool on the service's database; its schema first on the search path."""
    kwargs: dict[str, Any] = {
        "host": settings.postgres_host,
        "port": settings.postgres_port,
        "user": settings.postgres_user,
        "password": settings.postgres_password.get_secret_value(),
        "dbname": settings.postgres_dbname or service,
        "connect_timeout": 5,
    }
    schema = settings.postgres_schema
    if schema:
        # It goes into a connection option string: a plain identifier only.
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
            raise ValueError(f"unsupported schema name {schema!r}")
        kwargs["options"] = f"-c search_path={schema}"
    pool = ConnectionPool(
        kwargs=kwargs,
        min_size=1,
        max_size=max_size or settings.postgres_pool_size,
        open=True,
        name=f"{service}-privacy",
    )
    if schema:
        with pool.connection() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    return pool
