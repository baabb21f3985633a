"""Persisted queries: a client sends a document's SHA-256 instead of its text.

The allow-list is built at start-up from the dashboard's documents
(`web/dashboard/queries/*.graphql`), so the page sends a hash of a few dozen bytes where the
text would be a kilobyte, and the gateway parses only documents it already knows. The
request shape is Apollo's (`extensions.persistedQuery.sha256Hash`, version 1), over HTTP
and in a `graphql-transport-ws` subscribe message. Unknown hashes are refused with
`PERSISTED_QUERY_NOT_FOUND` (a client may then send the text); hashes are never learnt from
requests, so nobody can plant a document for others. Documents sent as text still run:
the gateway is an API for any client, with its depth, alias and token limits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from gateway.errors import BAD_USER_INPUT, coded

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

    @classmethod
    def from_folder(cls, folder: Path) -> PersistedQueries:
        """Every `*.graphql` of the folder, named by its stem; none when it is absent."""
        files = sorted(folder.glob("*.graphql")) if folder.is_dir() else []
        return cls({path.stem: path.read_text(encoding="utf-8") for path in files})

    def __len__(self) -> int:
        return len(self._texts)

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

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message["payload"]
        try:
            payload["query"] = self.queries.resolve(payload.get("query"), payload.get("extensions"))
        except GraphQLError as error:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        await super().handle_subscribe(message)
