"""The per-request GraphQL context, and authentication of every operation."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
from fastapi.requests import HTTPConnection
from strawberry.fastapi import BaseContext
from strawberry.permission import BasePermission

from gateway.broadcast import ShiftBroadcaster
from gateway.errors import UNAUTHENTICATED
from gateway.readmodel import VolunteersReadModel
from gateway.volunteers.client import VolunteersClient
from gateway.volunteers.loaders import Loaders, create_loaders
from services.kit.auth import AuthError, JwksVerifier, Principal


class GatewayContext(BaseContext):
    """What resolvers use: the read model, loaders, the command client and the caller."""

    def __init__(
        self,
        *,
        readmodel: VolunteersReadModel,
        verifier: JwksVerifier,
        volunteers: VolunteersClient,
        broadcaster: ShiftBroadcaster,
    ) -> None:
        super().__init__()
        self.readmodel = readmodel
        self.verifier = verifier
        self.volunteers = volunteers
        self.broadcaster = broadcaster
        self.loaders: Loaders = create_loaders(readmodel)
        self._principal: Principal | None = None

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
        """The verified caller; raises `AuthError` when the token is missing or bad."""
        if self._principal is None:
            scheme, _, token = self._authorization().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("a bearer token is required")
            # Verification may read the JWKS file or URL: keep it off the event loop.
            self._principal = await asyncio.to_thread(self.verifier.verify, token.strip())
        return self._principal

    @property
    def principal(self) -> Principal:
        """The caller, once `authenticate` has succeeded (permissions see to that)."""
        if self._principal is None:
            raise AuthError("not authenticated")
        return self._principal


async def context_getter(connection: HTTPConnection) -> GatewayContext:
    """FastAPI dependency for both HTTP and websocket requests."""
    state = connection.app.state
    return GatewayContext(
        readmodel=state.readmodel,
        verifier=state.verifier,
        volunteers=state.volunteers_client,
        broadcaster=state.broadcaster,
    )


def context_of(info: strawberry.Info) -> GatewayContext:
    context = info.context
    if not isinstance(context, GatewayContext):
        raise TypeError("the gateway's resolvers need a GatewayContext")
    return context


class Authenticated(BasePermission):
    """Any verified caller: volunteers' names and hours are personal data."""

    message = "a valid bearer token is required"
    error_extensions = {"code": UNAUTHENTICATED}

    async def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        try:
            await context_of(info).authenticate()
        except AuthError:
            return False
        return True
