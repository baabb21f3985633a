"""What every subscription does: follow a feature's changes for as long as the caller's
token is good, and say UNAVAILABLE when the gateway has as many subscribers as it takes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from gateway.context import GatewayContext, context_of
from gateway.core.broadcast import Broadcaster, ChangedKeys, TooManySubscribersError
from gateway.errors import UNAUTHENTICATED, UNAVAILABLE, coded


async def changes(info: strawberry.Info, broadcaster: Broadcaster) -> AsyncGenerator[str, None]:
    """The keys of changed items, one at a time, until the connection's token expires.

    At expiry it raises UNAUTHENTICATED, which ends the subscription. Iterate it inside
    `contextlib.aclosing`, so that its subscriber queue goes when the subscription ends.
    """
    async with aclosing(changed_together(info, broadcaster)) as together:
        async for keys in together:
            for key in keys:
                yield key


async def changed_together(
    info: strawberry.Info, broadcaster: Broadcaster
) -> AsyncGenerator[tuple[str, ...], None]:
    """As `changes`, but every key changed since the last ones were taken, at once (each
    once, oldest first): a subscription reads them together instead of one after another."""
    context = context_of(info)
    try:
        async with broadcaster.subscribe() as pending:
            while True:
                yield await _next_before_expiry(context, pending)
    except TooManySubscribersError as exc:
        raise coded(str(exc), UNAVAILABLE) from None


async def _next_before_expiry(context: GatewayContext, pending: ChangedKeys) -> tuple[str, ...]:
    while True:
        expires_at = context.expires_at
        left = None if expires_at is None else expires_at - time.time()
        if left is not None and left <= 0:
            raise coded("the bearer token has expired", UNAUTHENTICATED)
        try:
            return await asyncio.wait_for(pending.take(), left)
        except TimeoutError:
            continue
