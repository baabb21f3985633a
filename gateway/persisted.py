"""Persisted queries: a client sends a document's SHA-256 instead of its text.

The allow-list is built at start-up from the dashboard's documents
(`web/dashboard/queries/*.graphql`), so the page sends a hash of a few dozen bytes where the
text would be a kilobyte, and the gateway parses only documents it already knows. The
request shape is Apollo's (`extensions.persistedQuery.sha256Hash`, version 1), over HTTP
and in a `graphql-transport-ws` subscribe message. Unknown hashes are refused with
`PERSISTED_QUERY_NOT_FOUND` (a client may then send the text); hashes are never learnt from
requests, so nobody can plant a document for others. Documents sent as text still run:
the gateway is an API for any client, with its depth, alias and token limits.

A persisted subscription is shared (`gateway.core.shared_pushes`): its subscribers of the
same variables and visibility get the bytes of one execution per change. Subscriptions
sent as text run one by one.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.extensions import SchemaExtension
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from gateway.core.shared_pushes import Member, SharedPushes, TooManySharedSubscribersError
from gateway.errors import BAD_USER_INPUT, UNAUTHENTICATED, UNAVAILABLE, coded
from services.kit.auth import AuthError

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
VERSION = 1


def digest(text: str) -> str:
    """The hex SHA-256 of a document's UTF-8 text, as clients compute it."""
    return hashlib.sha256(text.encode()).hexdigest()


class PersistedQueries:
    """Documents by hash, and by the name of the file they were read from."""

    def __init__(self, documents: Mapping[str, str]) -> None:
        self.by_name = {name: digest(text) for name, text in documents.items()}
        self._texts = {digest(text): text for text in documents.values()}
        self.subscriptions = frozenset(
            sha for sha, text in self._texts.items() if _is_subscription(text)
        )

    @classmethod
    def from_folder(cls, folder: Path) -> PersistedQueries:
        """Every `*.graphql` of the folder, named by its stem; none when it is absent."""
        files = sorted(folder.glob("*.graphql")) if folder.is_dir() else []
        return cls({path.stem: path.read_text(encoding="utf-8") for path in files})

    def __len__(self) -> int:
        return len(self._texts)

    def texts(self) -> list[tuple[str, str]]:
        return list(self._texts.items())

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The text to run: the known document a hash names, or the text sent."""
        asked = (extensions or {}).get("persistedQuery")
        if asked is None:
            return query
        if not isinstance(asked, dict) or asked.get("version") != VERSION:
            raise coded("persistedQuery must be {version: 1, sha256Hash}", BAD_USER_INPUT)
        wanted = asked.get("sha256Hash")
        if not isinstance(wanted, str):
            raise coded("persistedQuery.sha256Hash must be a string", BAD_USER_INPUT)
        if query is not None:
            if digest(query) != wanted:
                raise coded("the query does not match its sha256Hash", BAD_USER_INPUT)
            return query
        known = self._texts.get(wanted)
        if known is None:
            raise coded("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
        return known


# Root fields answered from the gateway's read models alone (no service asked), whose
# answers may be kept while those read models stay the same.
FROM_READ_MODELS = frozenset(
    {
        "careCoverage",
        "childFacingChecks",
        "city",
        "committeeFigures",
        "departments",
        "districtUtilisation",
        "learningMap",
        "openPlaces",
        "parentSchoolStandard",
        "participation",
        "schoolHours",
        "shifts",
    }
)
# Kept answers are dropped after this long even when nothing changed: some figures are
# relative to today (a default period, "upcoming").
ANSWER_TTL_S = 10.0
# An expired answer still served while its successor (same version) is being computed.
STALE_SERVED_S = 2 * ANSWER_TTL_S
ANSWERS_KEPT = 2_000


class KeptAnswers:
    """Answers of persisted queries by (document, variables, visibility, read models' version).

    A thousand dashboards ask the same few documents; between two changes of the read
    models the answer is the same, so it is computed once, and its response body is encoded
    once. Only documents whose every root field reads read models alone are kept, and only
    answers without errors.
    """

    def __init__(self, queries: PersistedQueries) -> None:
        self.cacheable = frozenset(
            sha for sha, text in queries.texts() if _root_fields(text) <= FROM_READ_MODELS
        )
        # key -> (when computed, the answer, its response body once asked for as bytes)
        self._answers: dict[tuple[Any, ...], tuple[float, Any, bytes | None]] = {}
        # A kept answer's JSON text, by the identity of its data: written once, not per reader.
        self._json: dict[int, tuple[Any, str | None]] = {}
        self.hits = 0
        self.misses = 0
        # Answers being computed, by key: asked again meanwhile, they are awaited.
        self.pending: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    def _fresh(
        self, key: tuple[Any, ...], ttl_s: float = ANSWER_TTL_S
    ) -> tuple[float, Any, bytes | None] | None:
        found = self._answers.get(key)
        if found is None or time.monotonic() - found[0] > ttl_s:
            return None
        return found

    def get(self, key: tuple[Any, ...]) -> Any | None:
        found = self._fresh(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        return found[1]

    def body(self, key: tuple[Any, ...]) -> bytes | None:
        """The kept answer's HTTP response body, encoded on the first ask; None if not kept.

        The same bytes strawberry's own path would send (`{"data": ...}`, with the
        extensions when there are some), so a client cannot tell which path answered.
        While an expired answer of the same key (same read models' version, same day) is
        being computed again, the one before it is served, up to `STALE_SERVED_S` old:
        one request computes and the others do not queue behind it.
        """
        found = self._fresh(key)
        if found is None and key in self.pending:
            found = self._fresh(key, STALE_SERVED_S)
        if found is None:
            return None
        stamp, answer, body = found
        if body is None:
            response: dict[str, Any] = {"data": answer.data}
            if answer.extensions:
                response["extensions"] = answer.extensions
            body = orjson.dumps(response)
            self._answers[key] = (stamp, answer, body)
        self.hits += 1
        return body

    def put(self, key: tuple[Any, ...], answer: Any) -> None:
        if len(self._answers) >= ANSWERS_KEPT:
            self._answers.clear()  # Versions moved on: what was kept is stale anyway.
            self._json.clear()
        replaced = self._answers.get(key)
        if replaced is not None:
            self._json.pop(id(replaced[1].data), None)
        self._answers[key] = (time.monotonic(), answer, None)
        self._json[id(answer.data)] = (answer.data, None)

    def text(self, data: Any, encode: Callable[[], str]) -> str:
        """The JSON of a response whose data is `data`: once per kept answer."""
        found = self._json.get(id(data))
        if found is None or found[0] is not data:
            return encode()
        if found[1] is None:
            found = self._json[id(data)] = (data, encode())
        return cast(str, found[1])


def _root_fields(text: str) -> frozenset[str]:
    fields: set[str] = set()
    for node in parse(text).definitions:
        if not isinstance(node, OperationDefinitionNode):
            return frozenset({"<fragment>"})
        if node.operation != OperationType.QUERY:
            return frozenset({f"<{node.operation.value}>"})
        for selection in node.selection_set.selections:
            name = getattr(selection, "name", None)
            fields.add(name.value if name is not None else "<fragment>")
    return frozenset(fields)


def _is_subscription(text: str) -> bool:
    return any(
        isinstance(node, OperationDefinitionNode) and node.operation == OperationType.SUBSCRIPTION
        for node in parse(text).definitions
    )


def persisted_hash(extensions: Mapping[str, Any] | None) -> str | None:
    asked = (extensions or {}).get("persistedQuery")
    wanted = asked.get("sha256Hash") if isinstance(asked, dict) else None
    return wanted if isinstance(wanted, str) else None


class PersistedQueryExtension(SchemaExtension):
    """Puts a hashed document's text in place before it is parsed (and limited)."""

    def __init__(self, queries: PersistedQueries) -> None:
        self.queries = queries

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        # Raised here, the error is the operation's result (a GraphQL error with its code).
        context.query = self.queries.resolve(context.query, context.operation_extensions)
        yield


class PersistedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """A subscribe message may name its document by hash, as an HTTP request does."""

    queries: PersistedQueries = PersistedQueries({})
    shared: SharedPushes | None = None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message["payload"]
        try:
            payload["query"] = self.queries.resolve(payload.get("query"), payload.get("extensions"))
        except GraphQLError as error:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        sha = persisted_hash(payload.get("extensions"))
        if (
            self.shared is None
            or sha not in self.queries.subscriptions
            or not self.connection_acknowledged
            or message["id"] in self.operations
            or (
                self.max_subscriptions_per_connection is not None
                and len(self.operations) >= self.max_subscriptions_per_connection
            )
        ):
            # The base handler runs it on its own, or refuses it as it should.
            await super().handle_subscribe(message)
            return
        operation = Operation(
            self,
            message["id"],
            payload["query"],
            payload.get("variables"),
            payload.get("operationName"),
        )
        operation.task = asyncio.create_task(self._follow_shared(operation, self.shared, sha))
        operation.task.add_done_callback(self._task_done)
        self.operations[message["id"]] = operation

    async def _follow_shared(
        self, operation: Operation[Any, Any], shared: SharedPushes, sha: str
    ) -> None:
        try:
            principal = await self.context.authenticate()
        except AuthError as exc:
            await operation.send_initial_errors([coded(str(exc), UNAUTHENTICATED)])
            return

        async def run(context: Any) -> Any:
            return await self.schema.subscribe(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )

        member = Member(
            id=operation.id,
            context=self.context,
            send_text=self._send_text,
            send_message=operation.send_operation_message,
        )
        try:
            await shared.follow(shared.key(sha, operation.variables, principal), member, run)
        except TooManySharedSubscribersError as exc:
            await operation.send_initial_errors([coded(str(exc), UNAVAILABLE)])

    async def _send_text(self, text: str) -> None:
        # The serialised frame as it is: the adapter's `send_json` would encode it again.
        await self.websocket.ws.send_text(text)  # type: ignore[attr-defined]
