"""A service's personal data, together: per-person keys and the access log.

A service whose application declares `personal: PersonalData | None` gets one opened
by the runtime (`services.kit.runtime.ServiceParts`) on its own database, and closed
with it.

The master key is `TONGXIN_CIPHER_KEY`. The embedded default (SQLite) may run without
one: a key is then made once in the state folder (`keys/<service>-personal.key`, 0600),
beside the database it protects, so a newcomer's `make run` works. PostgreSQL refuses
to start without the key: a key kept in a container's folder would be lost with it,
and every name with it.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from services.kit.errors import ConflictError
from services.kit.privacy.audit import AccessLog
from services.kit.privacy.datakeys import DataKeys, master_key
from services.kit.settings import Settings

MASTER_KEY_BYTES = 32


class PersonErasedProblem(ConflictError):
    """The person was erased: no new personal data is kept for them."""

    code = "person-erased"


@dataclass
class PersonalData:
    keys: DataKeys
    log: AccessLog

    @classmethod
    def open(cls, settings: Settings, service: str) -> PersonalData:
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
    """`TONGXIN_CIPHER_KEY`, or (SQLite only) the key file in the state folder."""
    if settings.cipher_key.get_secret_value():
        return master_key(settings)
    if settings.store == "postgres":
        raise ValueError(f"{service} keeps personal data: set TONGXIN_CIPHER_KEY (its master key)")
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
                file.write(base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode())
    key = base64.b64decode(path.read_text().strip(), validate=True)
    if len(key) < 16:
        raise ValueError(f"{path} holds no usable key")
    return key
