"""A service's personal data, together: per-person keys and the access log.

A service whose application declares `personal: PersonalData | None` gets one opened
by the runtime (`services.kit.runtime.ServiceParts`) on its own database, and closed
with it.

The master key is `TONGXIN_CIPHER_KEY`. Without one (a first `make run`, compose with its
dev defaults) a key is made once and kept beside the data it wraps: in the state folder
on SQLite (`keys/<service>-personal.key`, 0600), in the service's own database on
PostgreSQL (a container's folder does not outlive it), with a warning. Erasure works the
same either way (a destroyed data key is gone whatever the master key); what the master
key adds, kept apart, is that a copy of the database alone opens nothing.
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from services.kit.errors import ConflictError
from services.kit.privacy.audit import AccessLog
from services.kit.privacy.database import postgres_pool
from services.kit.privacy.datakeys import DataKeys, master_key
from services.kit.settings import Settings

MASTER_KEY_BYTES = 32
MASTER_TABLE = "personal_data_master_key"
log = logging.getLogger(__name__)


class PersonErasedProblem(ConflictError):
    """The person was erased: no new personal data is kept for them."""

    code = "person-erased"


@dataclass
class PersonalData:
    keys: DataKeys
    log: AccessLog

    @classmethod
    def open(cls, settings: Settings, service: str, *, master: bytes | None = None) -> PersonalData:
        """The service's data keys and access log; `master` defaults to `local_master_key`."""
        if master is None:
            master = local_master_key(settings, service)
        keys = DataKeys.open(settings, service, master=master)
        try:
            log = AccessLog.open(settings, service)
        except BaseException:
            keys.close()
            raise
        return cls(keys, log)

    def close(self) -> None:
        try:
            self.keys.close()
        finally:
            self.log.close()


@runtime_checkable
class UsesPersonalData(Protocol):
    """An application that keeps personal data; the runtime gives it its `PersonalData`."""

    personal: PersonalData | None


def local_master_key(settings: Settings, service: str) -> bytes:
    """`TONGXIN_CIPHER_KEY`, else one made once beside the data (see the module docstring)."""
    if settings.cipher_key.get_secret_value():
        return master_key(settings)
    log.warning(
        "%s: no TONGXIN_CIPHER_KEY; its personal data keys are wrapped by a key kept beside "
        "them (set one outside development)",
        service,
    )
    if settings.store == "postgres":
        return _master_in_database(settings, service)
    path = Path(settings.state_dir) / "keys" / f"{service}-personal.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            # O_EXCL: two processes starting together keep one key, not two.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(_new_key())
    return _decoded(path.read_text(), str(path))


def _master_in_database(settings: Settings, service: str) -> bytes:
    pool = postgres_pool(settings, service, max_size=1)
    try:
        with pool.connection() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MASTER_TABLE} ("
                " id INTEGER PRIMARY KEY CHECK (id = 1), key TEXT NOT NULL)"
            )
            # Two processes starting together keep the first key written.
            conn.execute(
                f"INSERT INTO {MASTER_TABLE} (id, key) VALUES (1, %s) ON CONFLICT (id) DO NOTHING",
                (_new_key(),),
            )
            row = conn.execute(f"SELECT key FROM {MASTER_TABLE} WHERE id = 1").fetchone()
    finally:
        pool.close()
    return _decoded(row[0], MASTER_TABLE)


def _new_key() -> str:
    return base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode()


def _decoded(text: str, where: str) -> bytes:
    key = base64.b64decode(text.strip(), validate=True)
    if len(key) < 16:
        raise ValueError(f"{where} holds no usable key")
    return key
