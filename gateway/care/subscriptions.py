"""Subscriptions of the care feature: a worklist item pushed each time its file changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from gateway import access
from gateway.care import state
from gateway.care.policy import READS
from gateway.care.queries import city_today, may_see
from gateway.care.types import WorklistItem
from gateway.context import Authenticated
from gateway.core.subscriptions import changes

FILE_KEY = "file:"


@strawberry.type
class CareSubscription:
    @strawberry.subscription(
        description="A file of the caller's worklist, each time the read model changes it "
        "(opened, visited, reviewed, status, lead), whether or not anything is due now. "
        "Ends with an UNAUTHENTICATED error when the connection's token expires.",
        permission_classes=[Authenticated],
    )
    async def care_worklist_changed(
        self, info: strawberry.Info
    ) -> AsyncGenerator[WorklistItem, None]:
        readmodel = state.readmodel(info)
        principal = await access.caller(info)
        access.admit(READS, principal, "read-worklist")
        async with aclosing(changes(info, state.broadcaster(info))) as changed:
            async for key in changed:
                if not key.startswith(FILE_KEY):
                    continue
                row = await asyncio.to_thread(readmodel.file, key[len(FILE_KEY) :])
                if row is None or not await asyncio.to_thread(may_see, readmodel, principal, row):
                    continue
                await access.caller(info)  # Never push on an expired token.
                yield WorklistItem.of(row, city_today().date())
