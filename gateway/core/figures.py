"""Counts of people as GraphQL figures, small cells suppressed (`services.kit.privacy.suppression`).

Every count of people the gateway publishes (children in care, courses and committees;
the volunteers credited at a school, by kind) goes through here, so that no dashboard
singles anyone out: fewer than five people (zero included) reads `suppressed: "<5"` with
a null `value`, and a row published with its total hides enough other cells that the
small ones cannot be recovered by subtraction. A count of things that are not people
does not need it; nor do a shift's places (taken and left), which are the state of a
post that volunteers need to take one, not a figure about the people who took them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import strawberry

from services.kit.privacy import suppression
from services.kit.privacy.suppression import Suppressed


@strawberry.type(
    description="A count of people: the number, or a mark when showing it could single "
    "someone out (fewer than five, or hidden so that such a cell cannot be worked out "
    "from its row's total)."
)
class Count:
    value: int | None = strawberry.field(description="The count; null when suppressed.")
    suppressed: str | None = strawberry.field(
        description='Why the count is hidden: "<5" (fewer than five people, zero '
        'included), "[c]" (hidden so that a small cell of its row stays hidden), "[x]" '
        "(the row could not be protected and says nothing); null when shown."
    )

    @classmethod
    def of(cls, count: suppression.Count) -> Count:
        if isinstance(count, Suppressed):
            return cls(value=None, suppressed=str(count))
        return cls(value=count, suppressed=None)


def count(people: int) -> Count:
    """A lone count of people (no total beside it): shown unless small."""
    if people < 0:
        raise ValueError(f"a count of people is never negative ({people})")
    return Count.of(suppression.SMALL if suppression.is_small(people) else people)


@dataclass(frozen=True)
class CountRow:
    """A row of disjoint categories and its total, safe to publish together."""

    cells: dict[str, Count]
    total: Count | None


def count_row(cells: Mapping[str, int], total: int | None = None) -> CountRow:
    """The cells (and total) of one row, with complementary suppression against the total.

    Publish a row's cells only together with what this returns for the same row: the
    cells are protected against the total as it is given here.
    """
    row = suppression.suppress_row(cells, total)
    return CountRow(
        cells={key: Count.of(value) for key, value in row.cells.items()},
        total=None if row.total is None else Count.of(row.total),
    )
