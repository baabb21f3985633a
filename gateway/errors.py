"""GraphQL errors with a machine-readable `extensions.code`."""

from __future__ import annotations

from graphql import GraphQLError

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
UNAVAILABLE = "UNAVAILABLE"


def coded(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def bad_input(message: str) -> GraphQLError:
    return coded(message, BAD_USER_INPUT)


def forbidden(message: str) -> GraphQLError:
    return coded(message, FORBIDDEN)
