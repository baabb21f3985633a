"""Who may read what through the gateway: the volunteers service's REST rules, for reads.

Personal data (volunteers, their sign-ups) is for staff (admin, coordinator,
school-staff) and for the volunteer themself; staff see only the schools in
their scope (`city` covers all). Shifts and school totals carry no personal
data: any authenticated caller may read them. Refusals are GraphQL errors with
`extensions.code = "FORBIDDEN"`.
"""

from __future__ import annotations

import strawberry

from gateway.context import context_of
from gateway.errors import UNAUTHENTICATED, coded, forbidden
from services.kit import scope
from services.kit.auth import STAFF_ROLES, AuthError, Principal


def is_staff(principal: Principal) -> bool:
    return principal.role in STAFF_ROLES


def is_self(principal: Principal, volunteer_id: str) -> bool:
    return principal.role == "volunteer" and principal.subject == volunteer_id


def covers(principal: Principal, school_id: str | None) -> bool:
    """Staff whose scope covers this school (`city` covers every school)."""
    return is_staff(principal) and scope.covers_school(principal.scope, school_id)


def school_filter(principal: Principal) -> tuple[str, ...] | None:
    """The schools a listing is limited to: None for all of them."""
    return scope.school_filter(principal.scope)


def require_staff(principal: Principal, what: str) -> None:
    if not is_staff(principal):
        raise forbidden(f"{what} is for staff only")


def require_school(principal: Principal, school_id: str | None, what: str) -> None:
    """Staff covering this school (school staff: only schools in their scope)."""
    require_staff(principal, what)
    if not covers(principal, school_id):
        raise forbidden(f"{what} of this school is outside your scope")


def may_see_volunteer(principal: Principal, volunteer_id: str, school_id: str | None) -> bool:
    """The volunteer themself, or staff covering the volunteer's home school."""
    return is_self(principal, volunteer_id) or covers(principal, school_id)


async def caller(info: strawberry.Info) -> Principal:
    """The verified caller of this operation; UNAUTHENTICATED if the token is bad or expired."""
    try:
        return await context_of(info).authenticate()
    except AuthError as exc:
        raise coded(str(exc), UNAUTHENTICATED) from None
