"""Subscriptions of the courses feature: a session's places, pushed as they change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from gateway import access
from gateway.context import Authenticated
from gateway.core.subscriptions import changes
from gateway.courses import state
from gateway.courses.policy import READS
from gateway.courses.types import Session


@strawberry.type
class CoursesSubscription:
    @strawberry.subscription(
        description="A session each time its places, waitlist or attendance change. Ends with "
        "an UNAUTHENTICATED error when the connection's token expires.",
        permission_classes=[Authenticated],
    )
    async def session_places(
        self,
        info: strawberry.Info,
        session_id: Annotated[strawberry.ID, strawberry.argument(description="The session.")],
    ) -> AsyncGenerator[Session, None]:
        readmodel = state.readmodel(info)
        access.require(READS, await access.caller(info), "read-catalogue")
        wanted = str(session_id)
        async with aclosing(changes(info, state.broadcaster(info))) as changed:
            async for changed_id in changed:
                if changed_id != wanted:
                    continue
                row = await asyncio.to_thread(readmodel.session, wanted)
                if row is None:
                    continue
                await access.caller(info)  # Never push on an expired token.
                yield Session.from_row(row)
