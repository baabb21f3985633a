"""Per-person encryption of personal fields, and erasure by destroying the key.

Each person gets their own 256-bit data key the first time one of their fields is
encrypted. A field becomes a token `pd1:<kid>:<nonce>:<ciphertext>` (base64url parts;
AES-256-GCM with a random 96-bit nonce); the associated data binds it to the person
and the field name, so a token copied onto another person or field does not open.
Keys live in the service's own database wrapped (AES-256-GCM) by a key derived from the
service's master key (`TONGXIN_CIPHER_KEY`), never in events and never on the bus.

Erasing a person deletes their key and leaves a tombstone. From then on:
- `decrypt` of any of their tokens returns `ERASED` (history still loads; it never
  raises for an erased person),
- `encrypt` for them is refused (`PersonErasedError`), so they stay erased.

Limits, on purpose: another process may keep an unwrapped key in its cache for up to
`cache_ttl_s` after an erasure (it cannot encrypt anything readable later: the key is
gone from the table). Copies of the key table made before the erasure (backups, WAL
archives, PostgreSQL row versions not yet vacuumed) still hold the wrapped key:
backups must expire within the erasure deadline.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.kit.privacy.database import SqliteDatabase, postgres_pool, sqlite_path
from services.kit.privacy.datakey_store import (
    DataKeyStore,
    KeyRecord,
    PostgresDataKeyStore,
    SqliteDataKeyStore,
)
from services.kit.settings import Settings

TOKEN_PREFIX = "pd1"
NONCE_BYTES = 12
# The wrapping key is derived, not the master key itself: the same master key also
# encrypts the whole event store (eventsourcing's AESCipher).
WRAP_INFO = b"tongxin/datakeys/wrap/v1"


class Erased(Enum):
    """What a personal field reads as once its person is erased."""

    ERASED = "erased"

    def __str__(self) -> str:
        return "[erased]"


ERASED = Erased.ERASED
Decrypted = str | Literal[Erased.ERASED]


class PersonErasedError(Exception):
    """New personal data for a person who has been erased."""


class DataKeyError(Exception):
    """A token that is not one of this service's: malformed, unknown key, or tampered."""


@dataclass
class _CachedKey:
    person_id: str
    kid: str
    cipher: AESGCM | None  # None: erased
    until: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _field_ad(person_id: str, field: str) -> bytes:
    # JSON, so no choice of person id or field name can make two pairs encode alike.
    return json.dumps([TOKEN_PREFIX, person_id, field]).encode("utf-8")


def _wrap_ad(person_id: str, kid: str) -> bytes:
    return json.dumps(["wrap", person_id, kid]).encode("utf-8")


def master_key(settings: Settings) -> bytes:
    """The service's master key from `TONGXIN_CIPHER_KEY` (base64, at least 16 bytes)."""
    text = settings.cipher_key.get_secret_value()
    if not text:
        raise ValueError("personal data needs a master key: set TONGXIN_CIPHER_KEY")
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("TONGXIN_CIPHER_KEY is not base64") from None
    if len(key) < 16:
        raise ValueError("TONGXIN_CIPHER_KEY is shorter than 16 bytes")
    return key


class DataKeys:
    """Encrypts, decrypts and erases one service's personal fields; thread-safe."""

    CACHE_SIZE = 10_000
    CACHE_TTL_S = 30.0

    def __init__(
        self,
        store: DataKeyStore,
        master: bytes,
        *,
        cache_size: int = CACHE_SIZE,
        cache_ttl_s: float = CACHE_TTL_S,
    ) -> None:
        self.store = store
        wrapping = HKDF(hashes.SHA256(), length=32, salt=None, info=WRAP_INFO).derive(master)
        self._wrapper = AESGCM(wrapping)
        self._cache_size = cache_size
        self._cache_ttl_s = cache_ttl_s
        self._cache: OrderedDict[str, _CachedKey] = OrderedDict()  # by kid
        self._kid_of: dict[str, str] = {}  # person id -> kid, for the cached keys only
        self._lock = threading.Lock()
        # Counts this process's erasures: a key read from the table before an erasure
        # finished must not be cached after it (see `_remember`).
        self._erasures = 0

    @classmethod
    def open(
        cls,
        settings: Settings,
        service: str,
        *,
        cache_size: int = CACHE_SIZE,
        cache_ttl_s: float = CACHE_TTL_S,
        master: bytes | None = None,
    ) -> DataKeys:
        """The service's data keys, in the database its settings name.

        The master key is `master` when given, else `TONGXIN_CIPHER_KEY`.
        """
        key = master if master is not None else master_key(settings)
        store: DataKeyStore
        if settings.store == "postgres":
            store = PostgresDataKeyStore(postgres_pool(settings, service, max_size=2))
        else:
            store = SqliteDataKeyStore(SqliteDatabase(sqlite_path(settings, service)))
        return cls(store, key, cache_size=cache_size, cache_ttl_s=cache_ttl_s)

    def close(self) -> None:
        self.store.close()

    # -- the API ---------------------------------------------------------------------

    def encrypt(self, person_id: str, field: str, value: str) -> str:
        """A token holding `value`, readable only while the person's key exists."""
        entry = self._key_for_person(person_id)
        if entry.cipher is None:
            raise PersonErasedError(
                f"person {person_id!r} has been erased: no new personal data is kept for them"
            )
        nonce = os.urandom(NONCE_BYTES)
        sealed = entry.cipher.encrypt(nonce, value.encode("utf-8"), _field_ad(person_id, field))
        return f"{TOKEN_PREFIX}:{entry.kid}:{_b64(nonce)}:{_b64(sealed)}"

    def decrypt(self, token: str, *, field: str, person_id: str | None = None) -> Decrypted:
        """The value of a token written for `field`, or ERASED once its person is erased.

        Raises DataKeyError for a token this service never wrote, one moved to another
        field, or altered; with `person_id`, also for a token of someone else.
        """
        _, kid, nonce, sealed = _parse(token)
        entry = self._key_by_kid(kid)
        if person_id is not None and entry.person_id != person_id:
            raise DataKeyError(f"token belongs to another person than {person_id!r}")
        if entry.cipher is None:
            return ERASED
        try:
            plain = entry.cipher.decrypt(nonce, sealed, _field_ad(entry.person_id, field))
        except InvalidTag:
            raise DataKeyError(
                f"token does not open as field {field!r} of its person (moved or altered)"
            ) from None
        return plain.decode("utf-8")

    def prefetch(self, tokens: Iterable[str]) -> None:
        """Read the keys of these tokens missing from the cache in one query, not one each.

        For a page of tokens about to be decrypted. Tokens that are not this service's
        are left for `decrypt` to refuse.
        """
        kids: list[str] = []
        for token in tokens:
            try:
                kid = _parse(token)[1]
            except DataKeyError:
                continue
            if self._cached(kid) is None:
                kids.append(kid)
        if not kids:
            return
        erasures = self._erasures
        for record in self.store.by_kids(list(dict.fromkeys(kids))):
            self._remember(record, erasures)

    def erase(self, person_id: str) -> bool:
        """Destroy the person's key; True if a key was destroyed now (idempotent)."""
        destroyed = self.store.erase(person_id, tombstone_kid=_new_kid())
        with self._lock:
            self._erasures += 1
            kid = self._kid_of.pop(person_id, None)
            if kid is not None:
                self._cache.pop(kid, None)
        return destroyed

    def is_erased(self, person_id: str) -> bool:
        record = self.store.by_person(person_id)
        return record is not None and record.wrapped is None

    # -- keys --------------------------------------------------------------------------

    def _key_for_person(self, person_id: str) -> _CachedKey:
        with self._lock:
            kid = self._kid_of.get(person_id)
        if kid is not None:
            cached = self._cached(kid)
            if cached is not None:
                return cached
        erasures = self._erasures
        # No read first: a person not in the cache is nearly always new, and `create` returns
        # the stored record (their key, or their tombstone) when they are not.
        kid = _new_kid()
        data_key = AESGCM.generate_key(bit_length=256)
        record = self.store.create(KeyRecord(person_id, kid, self._wrap(person_id, kid, data_key)))
        return self._remember(record, erasures)

    def _key_by_kid(self, kid: str) -> _CachedKey:
        cached = self._cached(kid)
        if cached is not None:
            return cached
        erasures = self._erasures
        record = self.store.by_kid(kid)
        if record is None:
            raise DataKeyError(f"no data key {kid!r} in this service (a token from elsewhere?)")
        return self._remember(record, erasures)

    def _cached(self, kid: str) -> _CachedKey | None:
        with self._lock:
            entry = self._cache.get(kid)
            if entry is None:
                return None
            if entry.cipher is not None and time.monotonic() >= entry.until:
                # Live keys are re-read now and then, so an erasure made by another
                # process reaches this one within the TTL. Erasure is final: an erased
                # entry never needs re-reading.
                del self._cache[kid]
                self._kid_of.pop(entry.person_id, None)
                return None
            self._cache.move_to_end(kid)
            return entry

    def _remember(self, record: KeyRecord, erasures: int) -> _CachedKey:
        """A usable entry for `record`, cached unless an erasure ran since it was read.

        The caller still uses it once: its read began before the erasure ended.
        """
        cipher = None
        if record.wrapped is not None:
            cipher = AESGCM(self._unwrap(record))
        entry = _CachedKey(
            record.person_id, record.kid, cipher, time.monotonic() + self._cache_ttl_s
        )
        with self._lock:
            if erasures != self._erasures:
                return entry
            self._cache[record.kid] = entry
            self._kid_of[record.person_id] = record.kid
            while len(self._cache) > self._cache_size:
                _, evicted = self._cache.popitem(last=False)
                if self._kid_of.get(evicted.person_id) == evicted.kid:
                    del self._kid_of[evicted.person_id]
        return entry

    def _wrap(self, person_id: str, kid: str, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._wrapper.encrypt(nonce, data_key, _wrap_ad(person_id, kid))

    def _unwrap(self, record: KeyRecord) -> bytes:
        assert record.wrapped is not None
        nonce, sealed = record.wrapped[:NONCE_BYTES], record.wrapped[NONCE_BYTES:]
        try:
            return self._wrapper.decrypt(nonce, sealed, _wrap_ad(record.person_id, record.kid))
        except InvalidTag:
            raise DataKeyError(
                f"the data key {record.kid!r} does not unwrap: another master key, "
                "or the key table was altered"
            ) from None


def _new_kid() -> str:
    return secrets.token_urlsafe(16)


def is_token(value: str) -> bool:
    """Whether a stored value is a data-key token (rather than plain text from before)."""
    return value.startswith(TOKEN_PREFIX + ":")


def _parse(token: str) -> tuple[str, str, bytes, bytes]:
    parts = token.split(":")
    if len(parts) != 4 or parts[0] != TOKEN_PREFIX:
        raise DataKeyError(f"not a {TOKEN_PREFIX} token")
    try:
        nonce, sealed = _unb64(parts[2]), _unb64(parts[3])
    except (binascii.Error, ValueError):
        raise DataKeyError("token parts are not base64url") from None
    if len(nonce) != NONCE_BYTES or len(sealed) < 16:
        raise DataKeyError("token nonce or ciphertext has the wrong length")
    return parts[0], parts[1], nonce, sealed
