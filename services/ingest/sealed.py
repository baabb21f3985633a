"""Personal data a department sends to one service travels sealed to it; the ingest checks.

A contract field classified `sealed` (`contracts.events.classified(..., sealed_to=...)`)
holds a JWE compact token sealed to the receiving service's public key. Before anything
is published, the ingest checks each such token's envelope (`check_envelope`) against the
keys that service serves (`/.well-known/jwks.json`, `services.kit.privacy.sealing`): a
token sealed to another key, malformed or with another algorithm is refused with the
reason, and nothing is published. The ingest cannot open a token, and does not try.

Departments that publish straight onto NATS skip this check: the receiver opens each
token itself (`open_sealed`), which refuses the same tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from contracts.events import ContractEvent
from services.kit.errors import DomainError
from services.kit.privacy.sealing import Jwks, SealError, check_envelope
from services.kit.settings import Settings

JWKS_PATH = "/.well-known/jwks.json"
# Keys change rarely (a rotation adds one ahead of use); a token naming an unknown kid
# makes the ingest look again at once, so a rotation is never refused for long.
JWKS_TTL_S = 300.0

FetchJwks = Callable[[str], Awaitable[Jwks]]


class SealedFieldRefusedError(DomainError):
    """A sealed field is not sealed to its receiving service's key."""

    status = 422
    code = "sealed-field-refused"


class ReceiverKeysUnavailableError(DomainError):
    """The receiving service's public keys could not be read: nothing was accepted."""

    status = 503
    code = "receiver-keys-unavailable"


class ReceiverKeys:
    """The receiving services' public sealing keys, read from each service and cached."""

    def __init__(
        self, settings: Settings, fetch: FetchJwks | None = None, ttl_s: float = JWKS_TTL_S
    ) -> None:
        self.settings = settings
        self.fetch = fetch or self._fetch_over_http
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Jwks]] = {}
        self._lock = asyncio.Lock()

    async def jwks(self, service: str, *, fresh: bool = False) -> Jwks:
        cached = self._cache.get(service)
        if cached is not None and not fresh and time.monotonic() < cached[0]:
            return cached[1]
        async with self._lock:
            try:
                jwks = await self.fetch(service)
            except Exception as exc:
                raise ReceiverKeysUnavailableError(
                    f"the {service} service's sealing keys could not be read; retry later"
                ) from exc
            self._cache[service] = (time.monotonic() + self.ttl_s, jwks)
            return jwks

    async def _fetch_over_http(self, service: str) -> Jwks:
        url = self.settings.service_url(service).rstrip("/") + JWKS_PATH
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(url)
            response.raise_for_status()
            document: Any = response.json()
        if not isinstance(document, dict):
            raise ValueError(f"{url} is not a JWKS document")
        return document


async def check_sealed_fields(event: ContractEvent, keys: ReceiverKeys) -> None:
    """Refuse the event unless each sealed field is sealed to its receiver's current keys."""
    for field, service in type(event).sealed_fields().items():
        token = getattr(event, field)
        if not isinstance(token, str) or token.count(".") != 4:
            # Not even the form of a sealed payload: refused without asking its receiver,
            # so whether that service is up does not decide it.
            raise SealedFieldRefusedError(
                f"field {field!r} must be sealed to the {service} service's key: "
                "not a JWE compact token (five dot-separated parts)"
            )
        try:
            check_envelope(token, await keys.jwks(service))
        except SealError:
            try:
                # Perhaps sealed to a key the receiver added since the keys were read.
                check_envelope(token, await keys.jwks(service, fresh=True))
            except SealError as exc:
                raise SealedFieldRefusedError(
                    f"field {field!r} must be sealed to the {service} service's key: {exc}"
                ) from None
