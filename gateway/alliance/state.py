"""The alliance feature's part of the request context, typed."""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.alliance.readmodel import AllianceReadModel
from gateway.context import context_of
from gateway.core.broadcast import Broadcaster
from gateway.core.service import Accepted
from gateway.errors import BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, SERVICE_UNAVAILABLE, coded

NAME = "alliance"


def readmodel(info: strawberry.Info) -> AllianceReadModel:
    found = context_of(info).feature(NAME).readmodel
    if not isinstance(found, AllianceReadModel):
        raise TypeError("the alliance feature runs on an AllianceReadModel")
    return found


def broadcaster(info: strawberry.Info) -> Broadcaster:
    return context_of(info).feature(NAME).broadcaster


async def ask(info: strawberry.Info, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A figure computed by the alliance service, asked as the caller (it checks the right)."""
    context = context_of(info)
    answer = await context.service(NAME).post(path, body, token=context.principal.token)
    if isinstance(answer, Accepted):
        return answer.body
    code = {403: FORBIDDEN, 404: NOT_FOUND, 422: BAD_USER_INPUT}.get(
        answer.status, SERVICE_UNAVAILABLE
    )
    raise coded(answer.message, code)
