"""Subscriptions of the learning map: places left on a slot, pushed as they change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from gateway import access
from gateway.context import Authenticated
from gateway.core.subscriptions import changes
from gateway.resources import state
from gateway.resources.policy import READS
from gateway.resources.types import SlotPlaces


@strawberry.type
class ResourcesSubscription:
    @strawberry.subscription(
        description="Places left on a slot, each time a booking, cancellation, waitlist move "
        "or release changes them. Ends with UNAUTHENTICATED when the token expires.",
        permission_classes=[Authenticated],
    )
    async def slot_places(
        self,
        info: strawberry.Info,
        slot_id: Annotated[strawberry.ID, strawberry.argument(description="Slot id.")],
    ) -> AsyncGenerator[SlotPlaces, None]:
        readmodel = state.readmodel(info)
        access.require(READS, await access.caller(info), "read-map")
        async with aclosing(changes(info, state.broadcaster(info))) as changed:
            async for key in changed:
                if key != str(slot_id):
                    continue
                row = await asyncio.to_thread(readmodel.slot, key)
                if row is None:
                    continue
                await access.caller(info)  # Never push on an expired token.
                yield SlotPlaces.from_row(row)
