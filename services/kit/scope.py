"""Which schools a credential acts for: the one school-scope rule of every service and the gateway.

A token's `scope` is space separated: `city` covers every school, `school:<id>` covers one.
Something that belongs to no school (a volunteer without a home school) is covered only
by `city`: a school-scoped credential must not reach past its schools.
"""

from __future__ import annotations

from collections.abc import Iterable

CITY = "city"
SCHOOL_PREFIX = "school:"


def covers_school(scope: Iterable[str], school_id: str | None) -> bool:
    scope = tuple(scope)
    if CITY in scope:
        return True
    return school_id is not None and f"{SCHOOL_PREFIX}{school_id}" in scope


def school_filter(scope: Iterable[str]) -> tuple[str, ...] | None:
    """The schools a listing is limited to; None when every school is covered."""
    scope = tuple(scope)
    if CITY in scope:
        return None
    return tuple(sorted({s[len(SCHOOL_PREFIX) :] for s in scope if s.startswith(SCHOOL_PREFIX)}))
