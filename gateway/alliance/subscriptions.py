"""Subscriptions of the alliance feature: a target's figure pushed each time it moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from gateway import access
from gateway.alliance import state
from gateway.alliance.policy import READS
from gateway.alliance.types import TargetMove
from gateway.context import Authenticated
from gateway.core.subscriptions import changes


@strawberry.type
class AllianceSubscription:
    @strawberry.subscription(
        description="A target's figure each time the events it counts move it. Ends with "
        "an UNAUTHENTICATED error when the connection's token expires.",
        permission_classes=[Authenticated],
    )
    async def alliance_target_moved(
        self,
        info: strawberry.Info,
        target_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this target.")
        ] = None,
    ) -> AsyncGenerator[TargetMove, None]:
        readmodel = state.readmodel(info)
        access.require(READS, await access.caller(info), "read-figures")
        async with aclosing(changes(info, state.broadcaster(info))) as changed:
            async for moved in changed:
                if target_id is not None and moved != str(target_id):
                    continue
                row = await asyncio.to_thread(readmodel.target, moved)
                if row is None:
                    continue
                await access.caller(info)  # Never push on an expired token.
                yield TargetMove(
                    target_id=strawberry.ID(row.id),
                    period=row.period,
                    value=row.value,
                    groups=row.groups,
                    groups_met=row.groups_met,
                    moved_at=row.moved_at,
                )
