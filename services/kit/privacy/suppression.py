"""Small-cell suppression for every count of people that leaves a service or the gateway.

A cell counting fewer than `THRESHOLD` people is shown as "<5" (primary suppression).
A row published with its total needs more: the reader could subtract the shown cells
from the total and get the hidden one back, so further cells are hidden as well
(complementary suppression, shown as "[c]"), or, when no choice of cells is enough,
the whole row is withheld (every cell and the total shown as "[x]").

The guarantee, for a row of disjoint categories and its total: a reader who knows the
rules (a "<5" cell holds 0 to 4, a "[c]" cell at least 5, an "[x]" anything, the cells
add up to the total) can narrow no "<5" cell below the whole range 0 to 4. A "<5" tells
them nothing more than "fewer than five". The property tests check this by enumerating
every row consistent with what is published.

**Zero is a small cell.** A shown 0 beside a "<5" tells the reader that the "<5" is at
least one person: for a care figure, that some child of this school is in care, which is
the very fact the suppression hides. And a 0 next to a total says that everyone in the
row shares the remaining categories (group disclosure). Statistical agencies treat zeros
case by case; for counts of children in need, where membership of the group is itself
sensitive, Tongxin suppresses 0 like 1 to 4. A count of things that are not people
(places left on a shift) does not go through this helper.

**The total is a count of people too**: a total below the threshold is suppressed with
every cell of its row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

THRESHOLD = 5
"""Fewer people than this in a cell and the cell is not shown."""

SMALL_MARK = f"<{THRESHOLD}"
COMPLEMENTARY_MARK = "[c]"
WITHHELD_MARK = "[x]"


class Reason(Enum):
    SMALL = "small"
    """The cell counts fewer than THRESHOLD people (it reads "<5")."""
    COMPLEMENTARY = "complementary"
    """The cell is at least THRESHOLD but is hidden so that a small cell stays hidden."""
    WITHHELD = "withheld"
    """Nothing is said about the cell: its whole row (or table) could not be protected.

    The mark is the same for small and large counts, so it bounds nothing: a hidden
    total marked "[c]" would still say "at least 5", and with cells all below 5 that
    alone can give them away (1 + 4 = 5 tells the reader neither cell is 0).
    """


@dataclass(frozen=True)
class Suppressed:
    """A hidden count; `str()` is what a reader sees."""

    reason: Reason

    def __str__(self) -> str:
        return _MARKS[self.reason]


_MARKS = {
    Reason.SMALL: SMALL_MARK,
    Reason.COMPLEMENTARY: COMPLEMENTARY_MARK,
    Reason.WITHHELD: WITHHELD_MARK,
}


SMALL = Suppressed(Reason.SMALL)
COMPLEMENTARY = Suppressed(Reason.COMPLEMENTARY)
WITHHELD = Suppressed(Reason.WITHHELD)

Count = int | Suppressed
"""A published count: the number itself, or a mark hiding it."""


@dataclass(frozen=True)
class SuppressedRow:
    """A row safe to publish: each cell and the total are a number or a mark."""

    cells: dict[str, Count]
    total: Count | None

    def published(self) -> dict[str, int | str]:
        """The row as it goes into JSON or GraphQL: numbers stay numbers, marks are text."""
        out: dict[str, int | str] = {
            key: value if isinstance(value, int) else str(value)
            for key, value in self.cells.items()
        }
        return out

    def published_total(self) -> int | str | None:
        if self.total is None or isinstance(self.total, int):
            return self.total
        return str(self.total)


def is_small(count: int) -> bool:
    """Whether a count of people may not be shown on its own (0 included, see module doc)."""
    return count < THRESHOLD


def suppress_row(cells: Mapping[str, int], total: int | None = None) -> SuppressedRow:
    """Hide the small cells of a row and, if the row has a total, enough others.

    `cells` are disjoint categories; `total` (if published) is at least their sum (people
    outside every category are allowed, but are assumed known to the reader, which is
    the cautious assumption). Complementary cells are chosen to hide as little as
    possible: the smallest shown cell that protects every small one, else several.
    """
    for key, value in cells.items():
        if value < 0:
            raise ValueError(f"cell {key!r} is negative ({value})")
    parts = sum(cells.values())
    if total is not None and total < parts:
        raise ValueError(f"the total {total} is smaller than the sum of its cells ({parts})")

    if total is not None and is_small(total):
        return SuppressedRow(cells={key: SMALL for key in cells}, total=SMALL)
    small = {key for key, value in cells.items() if is_small(value)}
    result: dict[str, Count] = {
        key: SMALL if key in small else value for key, value in cells.items()
    }
    if total is None or not small:
        return SuppressedRow(cells=result, total=total)

    hidden = {key: cells[key] for key in small}
    complementary: dict[str, int] = {}
    shown = sorted((value, key) for key, value in cells.items() if key not in small)
    while not _protected(hidden, complementary):
        candidates = [(value, key) for value, key in shown if key not in complementary]
        if not candidates:
            # No choice of cells hides the small ones: withhold the row.
            return SuppressedRow(cells={key: WITHHELD for key in cells}, total=WITHHELD)
        enough = [
            (value, key)
            for value, key in candidates
            if _protected(hidden, complementary | {key: value})
        ]
        value, key = enough[0] if enough else candidates[-1]
        complementary[key] = value
        result[key] = COMPLEMENTARY
    return SuppressedRow(cells=result, total=total)


def _protected(small: Mapping[str, int], complementary: Mapping[str, int]) -> bool:
    """Whether every small cell can still be anything from 0 to THRESHOLD - 1.

    The reader knows the sum S of the hidden cells (total minus shown cells), that a
    small cell is in [0, T-1] and a complementary one in [T, S]. With one equation and
    box bounds, a small cell's possible values are exactly
    [max(0, S - max(others)), min(T-1, S - min(others))].
    """
    top = THRESHOLD - 1
    hidden_sum = sum(small.values()) + sum(complementary.values())
    # Every small cell has the same bounds, so one check covers them all.
    least_others = THRESHOLD * len(complementary)
    most_others = top * (len(small) - 1) + (hidden_sum if complementary else 0)
    return hidden_sum - most_others <= 0 and hidden_sum - least_others >= top
