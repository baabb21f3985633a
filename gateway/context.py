"""The per-request GraphQL context, and authentication of every operation."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import jwt
import strawberry
from fastapi.requests import HTTPConnection
from strawberry.fastapi import BaseContext
from strawberry.permission import BasePermission

from gateway.core.feature import LiveFeature
from gateway.core.service import ServiceClient
from gateway.errors import UNAUTHENTICATED
from services.kit.auth import AuthError, JwksVerifier, Principal, bearer_token

T = TypeVar("T")


class GatewayContext(BaseContext):
    """What resolvers use: the running features (read models, service clients), the caller."""

    def __init__(self, *, features: Mapping[str, LiveFeature], verifier: JwksVerifier) -> None:
        super().__init__()
        self.features = features
        self.verifier = verifier
        self._per_request: dict[str, Any] = {}
        self._principal: Principal | None = None
        self._expires_at: float | None = None

    def feature(self, name: str) -> LiveFeature:
        return self.features[name]

    def service(self, feature: str) -> ServiceClient:
        """The client of `feature`'s service (its mutations, its personal fields)."""
        client = self.features[feature].client
        if client is None:
            raise LookupError(f"feature {feature!r} forwards commands to no service")
        return client

    def per_request(self, key: str, make: Callable[[], T]) -> T:
        """One `make()` per request (per connection for websockets), e.g. a feature's loaders."""
        if key not in self._per_request:
            self._per_request[key] = make()
        found: T = self._per_request[key]
        return found

    def _authorization(self) -> str:
        params = self.connection_params
        if isinstance(params, dict):  # graphql-transport-ws connection_init payload
            for key in ("authorization", "Authorization"):
                value = params.get(key)
                if isinstance(value, str) and value:
                    return value
        if self.request is not None:
            return self.request.headers.get("authorization", "")
        return ""

    async def authenticate(self) -> Principal:
        """The verified caller; raises `AuthError` when the token is missing, bad or expired.

        A websocket connection keeps its context (and token) for as long as it lives:
        the token's expiry is checked again on each call.
        """
        if self._principal is None:
            token = bearer_token(self._authorization())
            # A token verified a moment ago costs a dictionary look-up; a verification may
            # read the JWKS file or URL, so it is kept off the event loop.
            principal = self.verifier.recently_verified(token)
            if principal is None:
                principal = await asyncio.to_thread(self.verifier.verify, token)
            self._expires_at = token_expiry(principal.token)
            self._principal = principal
        if self.expired:
            raise AuthError("the bearer token has expired")
        return self._principal

    @property
    def expires_at(self) -> float | None:
        """When the caller's token expires (epoch seconds), once authenticated."""
        return self._expires_at

    @property
    def expired(self) -> bool:
        return self._expires_at is not None and time.time() >= self._expires_at

    @property
    def principal(self) -> Principal:
        """The caller, once `authenticate` has succeeded (permissions see to that)."""
        if self._principal is None:
            raise AuthError("not authenticated")
        return self._principal


@functools.lru_cache(maxsize=4096)
def token_expiry(token: str) -> float | None:
    """The `exp` claim of a token already verified (the signature is not checked again)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) else None


async def context_getter(connection: HTTPConnection) -> GatewayContext:
    """FastAPI dependency for both HTTP and websocket requests."""
    state = connection.app.state
    return GatewayContext(features=state.features, verifier=state.verifier)


def context_of(info: strawberry.Info) -> GatewayContext:
    context = info.context
    if not isinstance(context, GatewayContext):
        raise TypeError("the gateway's resolvers need a GatewayContext")
    return context


class Authenticated(BasePermission):
    """Any verified caller; what each role may read is decided in `gateway.access`."""

    message = "a valid bearer token is required"
    error_extensions = {"code": UNAUTHENTICATED}

    async def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        try:
            await context_of(info).authenticate()
        except AuthError:
            return False
        return True
