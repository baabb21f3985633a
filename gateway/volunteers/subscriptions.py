"""Subscriptions of the volunteers feature: shifts pushed as the projection changes them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from gateway.broadcast import TooManySubscribersError
from gateway.context import Authenticated, context_of
from gateway.errors import UNAVAILABLE, coded
from gateway.volunteers.types import Shift


@strawberry.type
class VolunteersSubscription:
    @strawberry.subscription(
        description="A shift, each time the read model changes it (publication, places).",
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
        try:
            async with context.broadcaster.subscribe() as queue:
                while True:
                    shift_id = await queue.get()
                    row = await asyncio.to_thread(context.readmodel.shift, shift_id)
                    if row is None or (school_id is not None and row.school_id != school_id):
                        continue
                    yield Shift.from_row(row)
        except TooManySubscribersError as exc:
            raise coded(str(exc), UNAVAILABLE) from None
