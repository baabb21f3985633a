"""Bearer-JWT authentication against a JWKS, and the dev issuer of the embedded default.

Claims: `sub`, `role`, `department` (a department code) and `scope` (space
separated: `city`, `school:<id>`, `community:<id>`).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.kit.scope import covers_school

# A partner's token names the partner (contracts/partners.json) in `sub`; a parent's, the
# parent (courses).
Role = Literal[
    "admin",
    "coordinator",
    "school-staff",
    "volunteer",
    "parent",
    "department-system",
    "viewer",
    "partner",
]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]
# Roles that act for schools (scope decides which ones).
STAFF_ROLES: tuple[str, ...] = ("admin", "coordinator", "school-staff")
ALGORITHMS = ["RS256"]


class AuthError(Exception):
    """The bearer token is missing, malformed, forged or expired."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, as proven by a verified token."""

    subject: str
    role: str
    department: str | None
    scope: tuple[str, ...]
    token: str = ""

    def covers_school(self, school_id: str | None) -> bool:
        return covers_school(self.scope, school_id)


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` value; AuthError if there is none."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("a bearer token is required")
    return token.strip()


class JwksVerifier:
    """Verifies RS256 tokens against a JWKS read from a URL or a file."""

    # A client sends the same token with every request; an RS256 check costs about as much
    # CPU as the command's own store write. A verified token is trusted again for a short
    # while (never past its expiry), so a key withdrawn from the JWKS stops working within
    # VERIFIED_TTL_S.
    VERIFIED_TTL_S = 30.0
    VERIFIED_MAX = 4096

    def __init__(self, location: str, *, issuer: str, audience: str) -> None:
        self.location = location
        self.issuer = issuer
        self.audience = audience
        self._client = jwt.PyJWKClient(location, cache_keys=True) if "://" in location else None
        self._keys: dict[str, Any] = {}
        self._loaded_at = 0.0
        self._verified: OrderedDict[str, tuple[Principal, float, float]] = OrderedDict()
        self._verified_lock = threading.Lock()

    def _file_key(self, kid: str) -> Any:
        if kid not in self._keys and time.monotonic() - self._loaded_at > 1.0:
            document = json.loads(Path(self.location).read_text(encoding="utf-8"))
            jwks = jwt.PyJWKSet.from_dict(document)
            self._keys = {key.key_id: key.key for key in jwks.keys if key.key_id}
            self._loaded_at = time.monotonic()
        try:
            return self._keys[kid]
        except KeyError:
            raise AuthError("the token was signed by an unknown key") from None

    def recently_verified(self, token: str) -> Principal | None:
        """The token's principal if it was verified a moment ago (no I/O, no signature check)."""
        with self._verified_lock:
            cached = self._verified.get(token)
            if cached is None:
                return None
            principal, until, expires_at = cached
            if time.monotonic() < until and time.time() < expires_at:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
            return None

    def verify(self, token: str) -> Principal:
        principal = self.recently_verified(token)
        if principal is not None:
            return principal
        principal, expires_at = self._verify(token)
        with self._verified_lock:
            self._verified[token] = (
                principal,
                time.monotonic() + self.VERIFIED_TTL_S,
                expires_at,
            )
            while len(self._verified) > self.VERIFIED_MAX:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        """Check signature and claims; the principal and when the token expires (epoch s)."""
        try:
            header = jwt.get_unverified_header(token)
            if self._client is not None:
                key = self._client.get_signing_key_from_jwt(token).key
            else:
                key = self._file_key(str(header.get("kid", "")))
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except (jwt.PyJWTError, OSError, ValueError) as exc:
            raise AuthError(f"invalid bearer token: {exc}") from None
        role = claims.get("role")
        if role not in ROLES:
            raise AuthError(f"unknown role {role!r}")
        scope = claims.get("scope", "")
        principal = Principal(
            subject=str(claims["sub"]),
            role=role,
            department=claims.get("department"),
            scope=tuple(str(scope).split()) if isinstance(scope, str) else (),
            token=token,
        )
        return principal, float(claims["exp"])


class DevIssuer:
    """Signs tokens with a key kept in the state folder; publishes its JWKS beside it.

    Only for the embedded default and tests: production uses the city's identity provider.
    """

    def __init__(
        self, keys_dir: Path, *, issuer: str = "tongxin-dev", audience: str = "tongxin"
    ) -> None:
        self.keys_dir = Path(keys_dir)
        self.issuer = issuer
        self.audience = audience
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        key_path = self.keys_dir / "dev-signing-key.pem"
        self._key: rsa.RSAPrivateKey
        if key_path.exists():
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError(f"{key_path} does not hold an RSA private key")
            self._key = loaded
        else:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = self._key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            key_path.touch(mode=0o600)
            key_path.write_bytes(pem)
        public = self._key.public_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = hashlib.sha256(der).hexdigest()[:16]
        jwk |= {"kid": self.kid, "use": "sig", "alg": "RS256"}
        self.jwks = {"keys": [jwk]}
        self.jwks_path = self.keys_dir / "jwks.json"
        self.jwks_path.write_text(json.dumps(self.jwks, indent=2), encoding="utf-8")

    def token(
        self,
        *,
        role: str,
        subject: str | None = None,
        department: str | None = None,
        scope: str = "city",
        ttl_s: int = 8 * 3600,
    ) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject or f"dev-{role}-{uuid.uuid4().hex[:8]}",
            "iat": now,
            "exp": now + ttl_s,
            "role": role,
            "scope": scope,
        }
        if department:
            claims["department"] = department
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
