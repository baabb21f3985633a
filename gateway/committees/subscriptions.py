"""Subscriptions of the committees feature: a department's new assignments, as they come."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from gateway import access
from gateway.committees import state
from gateway.committees.policy import READS
from gateway.committees.types import Suggestion
from gateway.context import Authenticated
from gateway.core.subscriptions import changes
from gateway.errors import forbidden


@strawberry.type
class CommitteesSubscription:
    @strawberry.subscription(
        description="Suggestions assigned or escalated to a department (edu: its schools), "
        "as they are. A department's staff follow their own; edu's and viewers any.",
        permission_classes=[Authenticated],
    )
    async def new_assignments(
        self,
        info: strawberry.Info,
        department: Annotated[str, strawberry.argument(description="Department code.")],
    ) -> AsyncGenerator[Suggestion, None]:
        principal = await access.caller(info)
        anyone = access.admit(READS, principal, "list-suggestions")
        if not anyone and principal.department not in (READS.owner, department):
            raise forbidden("a department follows its own assignments")
        readmodel = state.readmodel(info)
        prefix = f"assigned:{department}:"
        async with aclosing(changes(info, state.broadcaster(info))) as changed:
            async for key in changed:
                if not key.startswith(prefix):
                    continue
                row = await asyncio.to_thread(readmodel.suggestion, key[len(prefix) :])
                if row is None:
                    continue
                await access.caller(info)  # Never push on an expired token.
                yield Suggestion.from_row(row)
