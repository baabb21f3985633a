"""The care feature's part of the request context, typed."""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.care.readmodel import CareReadModel
from gateway.context import context_of
from gateway.core.broadcast import Broadcaster
from gateway.core.service import Accepted
from gateway.errors import BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, SERVICE_UNAVAILABLE, coded

NAME = "care"


def readmodel(info: strawberry.Info) -> CareReadModel:
    found = context_of(info).feature(NAME).readmodel
    if not isinstance(found, CareReadModel):
        raise TypeError("the care feature runs on a CareReadModel")
    return found


def broadcaster(info: strawberry.Info) -> Broadcaster:
    return context_of(info).feature(NAME).broadcaster


async def ask(info: strawberry.Info, path: str, params: dict[str, str]) -> dict[str, Any]:
    """A read only the care service answers (personal data), as the caller: it decides
    whether the caller may, and logs the read under the caller's name."""
    context = context_of(info)
    answer = await context.service(NAME).get(path, params, token=context.principal.token)
    if isinstance(answer, Accepted):
        return answer.body
    code = {403: FORBIDDEN, 404: NOT_FOUND, 422: BAD_USER_INPUT}.get(
        answer.status, SERVICE_UNAVAILABLE
    )
    raise coded(answer.message, code)
