"""Mutations as forwarded commands: the gateway holds no write model.

A mutation forwards its command over HTTP to the service its feature names in the
manifest, with the caller's bearer token and an optional Idempotency-Key, and maps
the answer to `XSuccess | XError` (the service's problem+json `code` and `detail`).
Read models catch up through the event stream, not through these answers.
"""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.context import context_of
from gateway.core.service import Accepted, Problem

IdempotencyKey = strawberry.field(
    default=None,
    description="Repeat a command safely: the same key with the same input runs it once.",
)


# The description names volunteers because it is published in the SDL that clients read.
@strawberry.interface(description="Why the volunteers service refused a command.")
class CommandError:
    code: str = strawberry.field(description="Machine-readable problem code, e.g. `shift-full`.")
    message: str = strawberry.field(description="What went wrong, for people.")
    status: int = strawberry.field(description="HTTP status the service answered with.")

    @classmethod
    def from_problem(cls, problem: Problem) -> Any:
        return cls(code=problem.code, message=problem.message, status=problem.status)


async def forward(
    info: strawberry.Info, feature: str, path: str, body: dict[str, Any], key: str | None
) -> Accepted | Problem:
    """POST the command to the service of `feature`, as the caller."""
    context = context_of(info)
    return await context.service(feature).post(
        path, body, token=context.principal.token, idempotency_key=key
    )


def int_field(body: dict[str, Any], name: str) -> int:
    """An integer of the service's answer; 0 when it is missing or not an integer."""
    value = body.get(name)
    return value if isinstance(value, int) else 0
