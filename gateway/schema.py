"""The GraphQL schema, merged from the registered features, and its FastAPI router."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, cast

import orjson
import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult

from gateway.city import CityQuery
from gateway.context import GatewayContext, context_getter
from gateway.core.feature import Feature
from gateway.core.shared_pushes import SharedPushes
from gateway.errors import (
    BAD_USER_INPUT,
    FORBIDDEN,
    INTROSPECTION_DISABLED,
    NOT_FOUND,
    QUERY_TOO_DEEP,
    SERVICE_UNAVAILABLE,
    TOO_MANY_ALIASES,
    UNAUTHENTICATED,
    UNAVAILABLE,
)
from gateway.features import registered
from gateway.kept_answers import answer_key
from gateway.limits import PhaseErrorCodes, coded
from gateway.persisted import (
    KeptAnswers,
    PersistedQueries,
    PersistedQueryExtension,
    PersistedTransportWSHandler,
    persisted_hash,
)
from services.kit.auth import AuthError
from services.kit.webassets import OfflineGraphiQLRouter

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000
MAX_SUBSCRIPTIONS_PER_CONNECTION = 10


def _merged(name: str, parts: Iterable[type | None]) -> type | None:
    present = tuple(part for part in parts if part is not None)
    return merge_types(name, present) if present else None


# A service away is logged once by the client that called it, not per field.
EXPECTED = {
    UNAUTHENTICATED,
    FORBIDDEN,
    BAD_USER_INPUT,
    NOT_FOUND,
    UNAVAILABLE,
    SERVICE_UNAVAILABLE,
}


class GatewaySchema(strawberry.Schema):
    """Logs only unexpected errors: refused tokens, bad input and invalid documents are
    the caller's business, and logging each with a traceback would drown real failures.

    A GraphQLError behind an error is a deliberate refusal (graphql-core's coercion of
    a variable, or ours), never a crash."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [
            error
            for error in errors
            if error.original_error is not None
            and not isinstance(error.original_error, GraphQLError)
            and (error.extensions or {}).get("code") not in EXPECTED
        ]
        super().process_errors(unexpected, execution_context)


def create_schema(
    *,
    introspection: bool = True,
    features: Sequence[Feature[Any]] | None = None,
    persisted: PersistedQueries | None = None,
) -> strawberry.Schema:
    """The features' types merged, with cost limits; introspection can be turned off for
    production. `features` defaults to the registered ones; `persisted` documents may be
    asked for by hash."""
    chosen = [feature for feature, _ in registered()] if features is None else features
    # The city's reference data is every client's vocabulary, with or without features.
    query = merge_types("Query", (CityQuery, *(f.query for f in chosen if f.query is not None)))
    extensions: list[Any] = [
        # First: the limits below apply to the document a hash names.
        lambda: PersistedQueryExtension(persisted or PersistedQueries({})),
        lambda: coded(QueryDepthLimiter(max_depth=MAX_DEPTH), QUERY_TOO_DEEP),
        lambda: coded(MaxAliasesLimiter(max_alias_count=MAX_ALIASES), TOO_MANY_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        PhaseErrorCodes,
    ]
    if not introspection:
        extensions.append(
            lambda: coded(
                AddValidationRules([NoSchemaIntrospectionCustomRule]), INTROSPECTION_DISABLED
            )
        )
    return GatewaySchema(
        query=query,
        mutation=_merged("Mutation", (feature.mutation for feature in chosen)),
        subscription=_merged("Subscription", (feature.subscription for feature in chosen)),
        extensions=extensions,
    )


schema = create_schema()


class GatewayRouter(OfflineGraphiQLRouter[GatewayContext, None]):
    """The router, refusing websocket connections whose init carries no valid token, and
    keeping the answers of persisted queries while the read models stay the same."""

    kept: KeptAnswers | None = None

    async def execute_single(  # noqa: PLR0917 - strawberry's signature
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: GatewayContext,
        root_value: None,
        request_data: Any,
    ) -> ExecutionResult:
        kept = self.kept
        key = (
            None
            if request_data.query or kept is None
            else await answer_key(
                kept,
                context,
                persisted_hash(request_data.extensions),
                request_data.variables,
                request_data.operation_name,
            )
        )
        if key is None or kept is None:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        found = kept.get(key)
        if found is not None:
            return cast(ExecutionResult, found)
        # Sixteen dashboards opening at once ask the same documents: the first computes,
        # the others wait for its answer rather than compute it sixteen times over.
        pending = kept.pending.get(key)
        if pending is not None:
            with contextlib.suppress(Exception):
                answer = await asyncio.shield(pending)
                if answer is not None:
                    return cast(ExecutionResult, answer)
        computing: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        kept.pending[key] = computing
        try:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except BaseException:
            kept.pending.pop(key, None)
            computing.set_result(None)  # Waiters compute their own.
            raise
        kept.pending.pop(key, None)
        if not result.errors:
            kept.put(key, result)
        computing.set_result(None if result.errors else result)
        return result

    def encode_json(self, data: object) -> str:
        # Text, not bytes: the websocket adapter sends bytes as binary frames.
        def encode() -> str:
            return orjson.dumps(data).decode()

        if self.kept is not None and isinstance(data, dict) and data.keys() == {"data"}:
            return self.kept.text(data["data"], encode)
        return encode()

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses nesting deeper than 1024 with a JSONDecodeError (a 400); the
        # standard library recurses until RecursionError, which would be a 500.
        return orjson.loads(data)

    async def on_ws_connect(self, context: GatewayContext) -> None:
        try:
            await context.authenticate()
        except AuthError:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"}) from None
        return None


def create_router(
    schema: strawberry.Schema,
    *,
    graphql_ide: bool = True,
    persisted: PersistedQueries | None = None,
) -> GatewayRouter:
    router = GatewayRouter(
        schema,
        graphql_ide="graphiql" if graphql_ide else None,
        allow_queries_via_get=False,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        connection_init_wait_timeout=timedelta(seconds=10),
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
        context_getter=context_getter,
    )
    router.graphql_transport_ws_handler_class = type(
        "PersistedHandler",
        (PersistedTransportWSHandler,),
        {"queries": persisted or PersistedQueries({}), "shared": SharedPushes()},
    )
    router.kept = KeptAnswers(persisted or PersistedQueries({}))
    return router
