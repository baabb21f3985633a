"""Reads through the gateway, checked with the owning service's departments.

Each feature declares who may read its data as a kit `Policy` (see `Feature.reads`):
one rule per read, with the owner and the grants of the service that owns the data
taken from the ownership map, as the service's own checks take them. So a department
the service refuses is refused here too, and the gateway needs none of the service's
code. Refusals are GraphQL errors with `extensions.code = "FORBIDDEN"`.
"""

from __future__ import annotations

import strawberry

from gateway.context import context_of
from gateway.errors import UNAUTHENTICATED, coded, forbidden
from services.kit import scope
from services.kit.auth import AuthError, Principal
from services.kit.errors import ForbiddenError
from services.kit.policy import Policy


def require(
    policy: Policy,
    principal: Principal,
    read: str,
    *,
    school_id: str | None = None,
    volunteer_id: str | None = None,
) -> None:
    """FORBIDDEN unless `principal` may take `read` of the data of this school."""
    try:
        policy.authorize(principal, read, school=school_id, volunteer_id=volunteer_id)
    except ForbiddenError as exc:
        raise forbidden(str(exc)) from None


def admit(
    policy: Policy, principal: Principal, read: str, *, volunteer_id: str | None = None
) -> bool:
    """FORBIDDEN unless role and department allow `read`; see `Policy.admit`.

    True when no school decides any more (open to the role, or self-service); False when
    the caller reads as staff, so only the schools in its scope (`covers`, `schools`).
    """
    try:
        return policy.admit(principal, read, volunteer_id=volunteer_id)
    except ForbiddenError as exc:
        raise forbidden(str(exc)) from None


def covers(principal: Principal, school_id: str | None) -> bool:
    """The caller's scope covers this school (`city` covers every school)."""
    return scope.covers_school(principal.scope, school_id)


def schools(principal: Principal) -> tuple[str, ...] | None:
    """The schools a listing by staff is limited to: None for all of them."""
    return scope.school_filter(principal.scope)


async def caller(info: strawberry.Info) -> Principal:
    """The verified caller of this operation; UNAUTHENTICATED if the token is bad or expired."""
    try:
        return await context_of(info).authenticate()
    except AuthError as exc:
        raise coded(str(exc), UNAUTHENTICATED) from None
