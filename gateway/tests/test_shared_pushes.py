"""Live pushes shared by every subscriber who would see the same thing.

One change reaches three subscribers of one document: two viewers, who share one
execution and get the same bytes, with the small cell suppressed; and a staff member,
whose own execution shows the number. A subscriber whose token has expired is told so and
gets nothing more, and the others go on being pushed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import strawberry

from gateway.core.broadcast import Broadcaster
from gateway.core.figures import Count, count
from gateway.core.shared_pushes import Member, SharedPushes
from services.kit.auth import Principal

BROADCASTER = Broadcaster()
READS: list[str] = []  # One entry per read of the changed row: per execution, not per member.
CHILDREN = {"s1": 3}


@dataclass
class Context:
    role: str
    expires_at: float | None = None
    expired: bool = False


@strawberry.type
class SchoolFigure:
    school_id: str
    children: Count


@strawberry.type
class Query:
    ping: str = "pong"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def school_changed(self, info: strawberry.Info) -> AsyncGenerator[SchoolFigure, None]:
        role = info.context.role
        async with BROADCASTER.subscribe() as queue:
            while True:
                school = await queue.get()
                if info.context.expired:
                    raise ValueError("the bearer token has expired")
                READS.append(school)
                children = CHILDREN[school]
                shown = (
                    count(children) if role == "viewer" else Count(value=children, suppressed=None)
                )
                yield SchoolFigure(school_id=school, children=shown)


SCHEMA = strawberry.Schema(query=Query, subscription=Subscription)
DOCUMENT = "subscription { schoolChanged { schoolId children { value suppressed } } }"


@dataclass(eq=False)
class Socket:
    frames: list[Any] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    async def send_text(self, text: str) -> None:
        self.texts.append(text)
        self.frames.append(orjson.loads(text))

    async def send_message(self, message: Any) -> None:
        self.frames.append(message)


def principal(role: str, subject: str) -> Principal:
    return Principal(subject=subject, role=role, department=None, scope=())


async def until(check: Any) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("it never happened")


@pytest.mark.asyncio
async def test_one_change_one_execution_per_visibility_and_each_role_sees_its_own() -> None:
    BROADCASTER.bind()
    READS.clear()
    shared = SharedPushes()
    sockets = {name: Socket() for name in ("viewer-1", "viewer-2", "staff")}
    contexts = {
        "viewer-1": Context("viewer", expires_at=1000.0),
        "viewer-2": Context("viewer", expires_at=2000.0),
        "staff": Context("edu-staff"),
    }

    async def run(context: Any) -> Any:
        return await SCHEMA.subscribe(DOCUMENT, context_value=context)

    tasks = []
    for name, socket in sockets.items():
        role = contexts[name].role
        member = Member(
            id=f"op-{name}",
            context=contexts[name],
            send_text=socket.send_text,
            send_message=socket.send_message,
        )
        key = shared.key("sha", {}, principal(role, name))
        tasks.append(asyncio.create_task(shared.follow(key, member, run)))
    await until(lambda: BROADCASTER.subscribers == 2)  # One queue per group.
    assert shared.groups == 2 and shared.members == 3

    BROADCASTER.publish(["s1"])  # One change.
    await until(lambda: all(s.frames for s in sockets.values()))
    assert READS == ["s1", "s1"]  # Read once per visibility, not once per subscriber.
    assert shared.serialised == 2

    viewer = sockets["viewer-1"].frames[0]
    assert viewer["id"] == "op-viewer-1" and viewer["type"] == "next"
    assert viewer["payload"]["data"]["schoolChanged"]["children"] == {
        "value": None,
        "suppressed": "<5",
    }
    # The other viewer's frame is the same bytes but for its operation id.
    first, second = sockets["viewer-1"].texts[0], sockets["viewer-2"].texts[0]
    assert second == first.replace('"op-viewer-1"', '"op-viewer-2"')
    staff = sockets["staff"].frames[0]["payload"]["data"]["schoolChanged"]
    assert staff["children"] == {"value": 3, "suppressed": None}

    # The first viewer's token expires (the group runs with the second's, which lasts
    # longer): it is told at the next push, and the other viewer goes on.
    contexts["viewer-1"].expired = True
    BROADCASTER.publish(["s1"])
    await until(lambda: len(sockets["viewer-2"].frames) == 2)
    ended, complete = sockets["viewer-1"].frames[-2:]
    assert ended["type"] == "next"
    assert ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert complete == {"id": "op-viewer-1", "type": "complete"}
    assert sockets["viewer-2"].frames[1]["payload"]["data"]["schoolChanged"]["children"] == {
        "value": None,
        "suppressed": "<5",
    }
    assert shared.members == 2

    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await until(lambda: BROADCASTER.subscribers == 0)
    assert shared.groups == 0 and shared.members == 0
