"""One execution per change for every subscriber who would see the same thing.

A thousand dashboards open the same persisted subscription. Run one by one, each would
read the changed row, execute the selection and serialise the result on every change.
Here subscribers of the same document, variables and visibility (role, department and
scope: what every policy decides on) share one execution: each result is serialised once
and the same bytes go to all of them, only the operation id in front differing.

Subscribers of different visibility never share: a viewer's group runs with a viewer's
context, a staff member's with a staff member's, so each gets what its role may see.

A group runs with one member's context (its leader: the one whose token expires last).
Every member's own token is checked before each push: an expired one gets UNAUTHENTICATED
and leaves. When the leader's token expires (its stream ends then, on a timer), the group
starts again with the member still signed in whose token expires last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from graphql import GraphQLError
from strawberry.types.execution import PreExecutionError

from gateway.errors import UNAUTHENTICATED, coded
from services.kit.auth import Principal

log = logging.getLogger(__name__)

Visibility = tuple[str, str | None, tuple[str, ...]]
GroupKey = tuple[str, bytes, Visibility]


def visibility(principal: Principal) -> Visibility:
    """What a subscription's result may depend on: never who the person is."""
    return (principal.role, principal.department, tuple(sorted(principal.scope)))


class Context(Protocol):
    @property
    def expired(self) -> bool: ...

    @property
    def expires_at(self) -> float | None: ...


# Runs the document with a member's context: its stream of results (`Schema.subscribe`).
Runner = Callable[[Any], Awaitable[AsyncIterator[Any]]]


@dataclass(eq=False)
class Member:
    """One subscribe message: its connection's context and how to send it a frame."""

    id: str
    context: Context
    send_text: Callable[[str], Awaitable[None]]
    send_message: Callable[[Any], Awaitable[None]]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    prefix: str = ""

    def __post_init__(self) -> None:
        self.prefix = '{"id":' + orjson.dumps(self.id).decode() + ',"type":"next","payload":'

    async def push(self, payload: str) -> None:
        await self.send_text(self.prefix + payload + "}")

    async def expire(self) -> None:
        """End it as a subscription run on its own ends at its token's expiry."""
        if self.done.is_set():
            return
        expired = coded("the bearer token has expired", UNAUTHENTICATED)
        with contextlib.suppress(Exception):
            await self.push(orjson.dumps({"data": None, "errors": [expired.formatted]}).decode())
        await self.end()

    async def end(self, errors: list[GraphQLError] | None = None) -> None:
        """Say the operation is over (with its errors, as an `error` frame)."""
        if self.done.is_set():
            return
        self.done.set()
        with contextlib.suppress(Exception):  # The connection may be gone already.
            if errors:
                await self.send_message(
                    {"id": self.id, "type": "error", "payload": [e.formatted for e in errors]}
                )
            else:
                await self.send_message({"id": self.id, "type": "complete"})


@dataclass(eq=False)
class _Group:
    members: list[Member] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class TooManySharedSubscribersError(RuntimeError):
    pass


class SharedPushes:
    """Groups of subscribers that see the same thing, each group with one execution."""

    def __init__(self, *, max_members: int = 10_000) -> None:
        self.max_members = max_members
        self._groups: dict[GroupKey, _Group] = {}
        self.executions = 0  # Streams started, for tests and the bench.
        self.serialised = 0  # Results serialised.

    @property
    def members(self) -> int:
        return sum(len(g.members) for g in self._groups.values())

    @property
    def groups(self) -> int:
        return len(self._groups)

    @staticmethod
    def key(document: str, variables: Mapping[str, Any] | None, principal: Principal) -> GroupKey:
        return (
            document,
            orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS),
            visibility(principal),
        )

    async def follow(self, key: GroupKey, member: Member, run: Runner) -> None:
        """Join the group of `key` (starting it with `run`) until the operation ends for
        this member or the caller is cancelled (the client completed it or went away)."""
        if self.members >= self.max_members:
            raise TooManySharedSubscribersError("too many subscriptions; try again later")
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
        group.members.append(member)
        if group.task is None or group.task.done():
            group.task = asyncio.create_task(self._run(key, group, run))
        try:
            await member.done.wait()
        finally:
            self._leave(key, group, member)

    def _leave(self, key: GroupKey, group: _Group, member: Member) -> None:
        if member in group.members:
            group.members.remove(member)
        if not group.members:
            if self._groups.get(key) is group:
                del self._groups[key]
            if group.task is not None and group.task is not asyncio.current_task():
                group.task.cancel()

    async def _run(self, key: GroupKey, group: _Group, run: Runner) -> None:
        try:
            while group.members:
                leader = await self._leader(group)
                if leader is None:
                    return
                self.executions += 1
                stream = await run(leader.context)
                ended_by_expiry = await self._fan_out(group, leader, stream)
                if not ended_by_expiry:
                    for member in list(group.members):
                        await member.end()
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a shared subscription failed")
            for member in list(group.members):
                await member.end([coded("the subscription failed", "INTERNAL")])
        finally:
            if self._groups.get(key) is group and not group.members:
                del self._groups[key]

    @staticmethod
    async def _leader(group: _Group) -> Member | None:
        for member in list(group.members):
            if member.context.expired:
                await member.expire()
        signed_in = [m for m in group.members if not m.done.is_set()]
        if not signed_in:
            return None
        return max(signed_in, key=lambda m: m.context.expires_at or float("inf"))

    async def _fan_out(self, group: _Group, leader: Member, stream: AsyncIterator[Any]) -> bool:
        """Push each result to every member; whether the stream ended with the leader's
        token (the group goes on with another leader)."""
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for result in stream:
                if isinstance(result, PreExecutionError):
                    # Failed before it started: every member would have been told the same.
                    for member in list(group.members):
                        await member.end(list(result.errors or []))
                    return False
                if result.errors and leader.context.expired:
                    await leader.expire()
                    return True
                payload = _payload(result)
                self.serialised += 1
                for member in list(group.members):
                    if member.done.is_set():
                        continue
                    if member.context.expired:
                        await member.expire()
                        continue
                    try:
                        await member.push(payload)
                    except Exception:
                        member.done.set()  # Its connection is gone; it leaves.
        return leader.context.expired


def _payload(result: Any) -> str:
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return orjson.dumps(body).decode()
