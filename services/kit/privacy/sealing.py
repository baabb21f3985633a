"""Sealed payloads: personal data a department sends to one service, readable only there.

A receiving service holds EC P-256 key pairs and serves the public halves as a JWKS
(`SealingKeys.jwks()`, `jwks_router`). The sender seals with `seal(payload, jwks)`:
JWE compact serialization, `{"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": …}`.
Only the service that holds the private key opens it (`open_sealed`); anyone on the
path (the ingest, the bus, a log) sees an envelope and can check it is well formed
and addressed to the right service (`check_envelope`) without being able to read it.

Refused with `SealError` (a reason a sender can act on): a token for another key, a
different algorithm or encryption, compression (`zip`), critical extensions, a
malformed or altered token. Nothing about the payload is in any error.

Keys: `<state_dir>/keys/<service>-sealing-key.pem` (made once, 0600), or a mounted
secret given as `key_file`. The file may hold several PEM private keys, newest first:
the newest is advertised first (senders seal to it), every one still opens, so a key
can be rotated without refusing what is in flight.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from services.kit.settings import Settings

ALG = "ECDH-ES+A256KW"
ENC = "A256GCM"
ALGORITHMS = [ALG, ENC]
CURVE = "P-256"
# The ingest's request body limit is far lower; this bounds work done on a token
# that arrives by another path.
MAX_TOKEN_CHARS = 1024 * 1024
# Header parameters a sealed payload may carry; anything else is refused rather than
# ignored (a sender who sets `zip` or `crit` expects behaviour we do not give).
ALLOWED_HEADER = {"alg", "enc", "kid", "epk", "typ", "cty"}
WRAPPED_KEY_BYTES = 40  # A256KW of a 32-byte content key
IV_BYTES = 12
TAG_BYTES = 16

Jwks = Mapping[str, Any]


class SealError(Exception):
    """A sealed payload that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class Envelope:
    """What anyone can learn from a sealed payload without the private key."""

    kid: str
    alg: str
    enc: str
    typ: str | None = None


def _b64decode(part: str) -> bytes:
    if not part or "=" in part:
        raise SealError("a part of the token is empty or padded")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise SealError("a part of the token is not base64url") from None


def _enc_keys(jwks: Jwks) -> dict[str, Mapping[str, Any]]:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise SealError("the JWKS has no keys list")
    usable: dict[str, Mapping[str, Any]] = {}
    for key in keys:
        if (
            isinstance(key, Mapping)
            and key.get("kty") == "EC"
            and key.get("crv") == CURVE
            and key.get("use", "enc") == "enc"
            and key.get("alg", ALG) == ALG
            and isinstance(key.get("kid"), str)
        ):
            usable[key["kid"]] = key
    return usable


def check_envelope(token: str, jwks: Jwks) -> Envelope:
    """Check a sealed payload's form and address, without opening it.

    It must be a JWE compact token of ECDH-ES+A256KW / A256GCM, addressed (`kid`) to a
    key of `jwks` (the receiving service's public keys), with an ephemeral key on P-256
    and parts of the right lengths. Raises SealError otherwise.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise SealError("not a sealed payload (no text, or too long)")
    parts = token.split(".")
    if len(parts) != 5:
        raise SealError("not a JWE compact token (five dot-separated parts)")
    header_part, wrapped_part, iv_part, ciphertext_part, tag_part = parts
    try:
        header = json.loads(_b64decode(header_part))
    except (ValueError, UnicodeDecodeError):
        raise SealError("the token's header is not JSON") from None
    if not isinstance(header, dict):
        raise SealError("the token's header is not a JSON object")
    if header.get("alg") != ALG or header.get("enc") != ENC:
        raise SealError(
            f"sealed with alg={header.get('alg')!r} enc={header.get('enc')!r}; "
            f"only alg={ALG!r} enc={ENC!r} is accepted"
        )
    extra = set(header) - ALLOWED_HEADER
    if extra:
        raise SealError(f"header parameters not accepted: {', '.join(sorted(extra))}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SealError("the token names no key (kid)")
    if kid not in _enc_keys(jwks):
        raise SealError(f"sealed to key {kid!r}, which is not one of the receiving service's keys")
    _check_epk(header.get("epk"))
    if len(_b64decode(wrapped_part)) != WRAPPED_KEY_BYTES:
        raise SealError("the wrapped content key has the wrong length")
    if len(_b64decode(iv_part)) != IV_BYTES:
        raise SealError("the initialisation vector has the wrong length")
    if len(_b64decode(tag_part)) != TAG_BYTES:
        raise SealError("the authentication tag has the wrong length")
    _b64decode(ciphertext_part)
    typ = header.get("typ")
    return Envelope(kid=kid, alg=ALG, enc=ENC, typ=typ if isinstance(typ, str) else None)


def _check_epk(epk: Any) -> None:
    if not isinstance(epk, dict) or epk.get("kty") != "EC" or epk.get("crv") != CURVE:
        raise SealError("the ephemeral key (epk) is not an EC P-256 key")
    try:
        x = int.from_bytes(_b64decode(str(epk.get("x", ""))), "big")
        y = int.from_bytes(_b64decode(str(epk.get("y", ""))), "big")
        # Raises unless (x, y) is on the curve: an off-curve point is how
        # invalid-curve attacks on ECDH pull out a private key.
        ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:
        raise SealError("the ephemeral key (epk) is not a point on P-256") from None


def seal(payload: bytes | Mapping[str, Any], recipient: Jwks, *, kid: str | None = None) -> str:
    """Seal `payload` (bytes, or a JSON object) to the receiving service's JWKS.

    The first usable key is used unless `kid` names another one.
    """
    keys = _enc_keys(recipient)
    if not keys:
        raise SealError(f"the JWKS has no EC {CURVE} encryption key")
    chosen = keys.get(kid) if kid else next(iter(keys.values()))
    if chosen is None:
        raise SealError(f"the JWKS has no key {kid!r}")
    if isinstance(payload, Mapping):
        plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        header = {"alg": ALG, "enc": ENC, "kid": chosen["kid"], "cty": "application/json"}
    else:
        plaintext = bytes(payload)
        header = {"alg": ALG, "enc": ENC, "kid": chosen["kid"]}
    if not plaintext:
        raise SealError("nothing to seal: the payload is empty")
    public = ECKey.import_key(dict(chosen))
    return jwe.encrypt_compact(header, plaintext, public, algorithms=ALGORITHMS)


class SealingKeys:
    """A service's private sealing keys (newest first) and its public JWKS."""

    def __init__(self, keys: Sequence[ECKey]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._keys = {key.thumbprint(): key for key in keys}
        self._order = [key.thumbprint() for key in keys]
        self._jwks = {
            "keys": [
                dict(self._keys[kid].as_dict(private=False, kid=kid, use="enc", alg=ALG))
                for kid in self._order
            ]
        }

    @classmethod
    def generate(cls) -> SealingKeys:
        return cls([ECKey.generate_key(CURVE, private=True)])

    @classmethod
    def load(cls, settings: Settings, service: str, *, key_file: Path | None = None) -> SealingKeys:
        """The keys in `key_file`, else in the state folder (made there, 0600, if absent)."""
        if key_file is not None:
            return cls.from_pem(Path(key_file).read_bytes())
        path = Path(settings.state_dir) / "keys" / f"{service}-sealing-key.pem"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            pem = ECKey.generate_key(CURVE, private=True).as_pem(private=True)
            try:
                # O_EXCL: two processes starting together keep one key, not two.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as file:
                    file.write(pem)
        return cls.from_pem(path.read_bytes())

    @classmethod
    def from_pem(cls, data: bytes) -> SealingKeys:
        marker = b"-----BEGIN"
        blocks = [marker + block for block in data.split(marker)[1:]]
        keys = []
        for block in blocks:
            key = ECKey.import_key(block)
            if not key.is_private or key.as_dict().get("crv") != CURVE:
                raise ValueError(f"sealing keys must be EC {CURVE} private keys")
            keys.append(key)
        return cls(keys)

    def as_pem(self) -> bytes:
        return b"".join(self._keys[kid].as_pem(private=True) for kid in self._order)

    @property
    def kids(self) -> list[str]:
        return list(self._order)

    def jwks(self) -> dict[str, Any]:
        """The public keys, newest first, as a JWKS document (RFC 7517)."""
        return copy.deepcopy(self._jwks)

    def open(self, token: str) -> bytes:
        return open_sealed(token, self)

    def private_key(self, kid: str) -> ECKey:
        return self._keys[kid]


def open_sealed(token: str, keyring: SealingKeys) -> bytes:
    """The payload of a token sealed to one of `keyring`'s keys; SealError otherwise."""
    envelope = check_envelope(token, keyring._jwks)
    try:
        opened = jwe.decrypt_compact(
            token, keyring.private_key(envelope.kid), algorithms=ALGORITHMS
        )
    except JoseError:
        raise SealError(
            f"the token does not open with key {envelope.kid!r}: "
            "sealed to another key under this kid, or altered"
        ) from None
    if opened.plaintext is None:
        raise SealError("the token opened to nothing")
    return opened.plaintext


def jwks_router(keyring: SealingKeys, path: str = "/.well-known/jwks.json") -> APIRouter:
    """A route serving the service's public sealing keys (no authentication: they are public)."""
    router = APIRouter()
    document = keyring.jwks()

    @router.get(path, include_in_schema=False)
    def sealing_jwks() -> dict[str, Any]:
        return document

    return router
