"""Subscriptions of the volunteers feature: shifts pushed as the projection changes them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from gateway import access
from gateway.context import Authenticated
from gateway.core.subscriptions import changed_together
from gateway.volunteers import state
from gateway.volunteers.types import Shift
from services.kit.stages import record


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
        readmodel = state.readmodel(info)
        await access.caller(info)
        # Closed with the subscription, so that its queue goes at once, not when collected.
        async with aclosing(changed_together(info, state.broadcaster(info))) as changed:
            async for shift_ids in changed:
                # As the projector's commit left them; any it did not keep, read together.
                rows = {i: row for i in shift_ids if (row := readmodel.recent_shift(i))}
                if missing := [i for i in shift_ids if i not in rows]:
                    rows |= await asyncio.to_thread(readmodel.shifts_by_id, missing)
                for shift_id in shift_ids:
                    row = rows.get(shift_id)
                    if row is None or (school_id is not None and row.school_id != school_id):
                        continue
                    await access.caller(info)  # Never push on an expired token.
                    record("pushed", (f"{row.id}:{row.places_filled}",))
                    yield Shift.from_row(row)
