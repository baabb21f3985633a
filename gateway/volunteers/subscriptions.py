"""Subscriptions of the volunteers feature: shifts pushed as the projection changes them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from gateway import access
from gateway.context import Authenticated, GatewayContext, context_of
from gateway.core.broadcast import TooManySubscribersError
from gateway.errors import UNAUTHENTICATED, UNAVAILABLE, coded
from gateway.volunteers import state
from gateway.volunteers.types import Shift


@strawberry.type
class VolunteersSubscription:
    @strawberry.subscription(
        description="A shift, each time the read model changes it (publication, places). "
        "Ends with an UNAUTHENTICATED error when the connection's token expires.",
        permission_classes=[Authenticated],
    )
    async def shift_changed(
        self,
        info: strawberry.Info,
        school_id: Annotated[
            str | None, strawberry.argument(description="Only shifts at this school.")
        ] = None,
    ) -> AsyncGenerator[Shift, None]:
        context = context_of(info)
        readmodel = state.readmodel(info)
        await access.caller(info)
        try:
            async with state.broadcaster(info).subscribe() as queue:
                while True:
                    shift_id = await _next_before_expiry(context, queue)
                    row = await asyncio.to_thread(readmodel.shift, shift_id)
                    if row is None or (school_id is not None and row.school_id != school_id):
                        continue
                    await access.caller(info)  # Never push on an expired token.
                    yield Shift.from_row(row)
        except TooManySubscribersError as exc:
            raise coded(str(exc), UNAVAILABLE) from None


async def _next_before_expiry(context: GatewayContext, queue: asyncio.Queue[str]) -> str:
    """The next changed shift id; UNAUTHENTICATED (ending the subscription) at token expiry."""
    while True:
        expires_at = context.expires_at
        left = None if expires_at is None else expires_at - time.time()
        if left is not None and left <= 0:
            raise coded("the bearer token has expired", UNAUTHENTICATED)
        try:
            return await asyncio.wait_for(queue.get(), left)
        except TimeoutError:
            continue
