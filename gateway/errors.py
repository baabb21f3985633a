"""GraphQL errors with a machine-readable `extensions.code`."""

from __future__ import annotations

from graphql import GraphQLError

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
UNAVAILABLE = "UNAVAILABLE"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
"""A service owning part of the answer (a personal field) could not give it now."""


def coded(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def bad_input(message: str) -> GraphQLError:
    return coded(message, BAD_USER_INPUT)


def forbidden(message: str) -> GraphQLError:
    return coded(message, FORBIDDEN)


# Documents refused before they run.
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
"""Not GraphQL, or more tokens than the gateway parses."""
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
"""Not valid against the schema (unknown fields, fragment cycles...)."""
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
