"""Queries of the feeds feature: partners' endpoints and agreements, for prop staff."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry

from gateway import access
from gateway.context import Authenticated, context_of
from gateway.core.pagination import check_first
from gateway.feeds.policy import READS
from gateway.feeds.readmodel import FeedsReadModel
from gateway.feeds.types import FeedAgreement, FeedEndpoint

NAME = "feeds"


def readmodel(info: strawberry.Info) -> FeedsReadModel:
    found = context_of(info).feature(NAME).readmodel
    if not isinstance(found, FeedsReadModel):
        raise TypeError("the feeds feature runs on a FeedsReadModel")
    return found


@strawberry.type
class FeedsQuery:
    @strawberry.field(
        description="Partners' webhook endpoints with their delivery figures (prop's admins "
        "and coordinators).",
        permission_classes=[Authenticated],
    )
    async def feed_endpoints(
        self,
        info: strawberry.Info,
        partner_id: Annotated[
            str | None, strawberry.argument(description="Only this partner's.")
        ] = None,
        first: int = 50,
    ) -> list[FeedEndpoint]:
        access.require(READS, await access.caller(info), "read-partner-feeds")
        rows = await asyncio.to_thread(readmodel(info).endpoints, partner_id, check_first(first))
        return [FeedEndpoint.from_row(row) for row in rows]

    @strawberry.field(
        description="What each partner is agreed to receive (prop's admins and coordinators).",
        permission_classes=[Authenticated],
    )
    async def feed_agreements(self, info: strawberry.Info) -> list[FeedAgreement]:
        access.require(READS, await access.caller(info), "read-partner-feeds")
        found = await asyncio.to_thread(readmodel(info).agreements)
        return [FeedAgreement(partner_id=p, event_types=t) for p, t in found.items()]
