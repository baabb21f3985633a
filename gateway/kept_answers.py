"""A persisted query whose answer is kept is answered before routing and GraphQL.

Between two changes of the read models every dashboard of one visibility gets the same
answer (`gateway.persisted.KeptAnswers`). Routing the request through FastAPI's
dependencies and strawberry's parsing, validation and result processing costs far more
than the answer's look-up, so `KeptAnswersFirst` looks the answer up as soon as the request
arrives: the token is verified and the read models' version read on every request, exactly
as the GraphQL path keys its answers, and only the answer's bytes (encoded once) are sent.
Anything else - no kept answer, a text, a bad body, a missing or refused token - goes on to
the GraphQL path untouched, which answers it (and keeps its answer) as it always has.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.context import GatewayContext
from gateway.core.projection import ReadModelBusyError, ReadModelClosedError
from gateway.core.shared_pushes import SharedPushes
from gateway.persisted import KeptAnswers, persisted_hash
from services.kit.auth import AuthError
from services.kit.citytime import city_day

# A request naming a document by hash is a few hundred bytes; a larger body is never a
# kept answer's and goes on to the GraphQL path (and its body limit) unread beyond this.
LOOK_UP_BODY_MAX = 16 * 1024
_STREAMING = (b"multipart/mixed", b"text/event-stream")


async def answer_key(
    kept: KeptAnswers,
    context: GatewayContext,
    sha: str | None,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
) -> tuple[Any, ...] | None:
    """(document, variables, operation, visibility, city day, every read model's version),
    or None when the answer is not to be kept (not a kept document, or no good token)."""
    if sha not in kept.cacheable:
        return None
    try:
        principal = await context.authenticate()
    except AuthError:
        return None
    try:
        versions = tuple(live.readmodel.version() for live in context.features.values())
    except (ReadModelBusyError, ReadModelClosedError):
        return None  # Computed, not kept: the resolvers say what is wrong.
    return (
        SharedPushes.key(sha, dict(variables) if variables else None, principal),
        operation_name,
        city_day(datetime.now(UTC)),
        versions,
    )


class KeptAnswersFirst:
    """ASGI middleware: POST `path` with a kept persisted query's hash gets the kept bytes."""

    def __init__(self, app: ASGIApp, *, kept: KeptAnswers, path: str = "/graphql") -> None:
        self.app = app
        self.kept = kept
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != self.path
            or not self._plain_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        body = b""
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False) or len(body) > LOOK_UP_BODY_MAX:
                break
        answer = None
        if received[-1]["type"] == "http.request" and not received[-1].get("more_body", False):
            answer = await self._kept(scope, body)
        if answer is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-length", str(len(answer)).encode()),
                        (b"content-type", b"application/json"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": answer})
            return

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _plain_json(scope: Scope) -> bool:
        json = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                json = value.partition(b";")[0].strip().lower() == b"application/json"
            elif name == b"accept" and any(kind in value.lower() for kind in _STREAMING):
                return False  # Incremental delivery is strawberry's to answer.
        return json

    async def _kept(self, scope: Scope, body: bytes) -> bytes | None:
        try:
            asked = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(asked, dict) or asked.get("query") is not None:
            return None
        variables = asked.get("variables")
        operation_name = asked.get("operationName")
        if not isinstance(variables, dict | None) or not isinstance(operation_name, str | None):
            return None
        state = scope["app"].state
        context = GatewayContext(features=state.features, verifier=state.verifier)
        context.request = Request(scope)
        key = await answer_key(
            self.kept, context, persisted_hash(asked.get("extensions")), variables, operation_name
        )
        return None if key is None else self.kept.body(key)
