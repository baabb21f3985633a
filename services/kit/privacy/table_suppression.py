"""Small-cell suppression for a two-way table published with its row, column and grand totals.

The rule and the marks are those of `suppression` (fewer than `THRESHOLD` people, zero
included: "<5"; hidden to protect another cell: "[c]"), and so is the guarantee: a reader
who knows every shown number, every total and what the marks mean can narrow no "<5"
cell (inner or a total) below the whole range 0 to 4.

A table with its totals is a system of sums, one per row and one per column. A hidden
cell stays uncertain only if the hidden cells around it can shift together without
changing any shown sum: four corners of a rectangle, two going up and two going down.
For each small cell this picks the cheapest rectangle (fewest new cells hidden, inner
cells before totals, small numbers before large) whose corners have room to move the
small cell through all of 0..4 (the hypercube method of statistical agencies' tools,
in two dimensions). Where no single rectangle has the room (a row whose total is itself
small, say), rectangles are added one at a time, each the one that widens most what
the reader must allow, until an exact check says the cell can be anything from 0 to 4:
the tables a reader must consider form a flow problem (rows to columns, bounds per
hidden cell), so "can this cell be t?" is a max-flow question. Hiding more never makes
a protected cell less uncertain, so the cells protected first stay protected.

When nothing protects a cell (1 + 4 in a row of total 5 gives away that neither is 0,
whatever is hidden), its row and column are withheld: "[x]", which says nothing, large
or small, and so loosens what the reader knows about every other cell too.

Cost: milliseconds for a table of ten rows; about half a second for 50 x 6 and a few
seconds for 100 x 8 with many small cells (computed where read models are built, not
per request).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product

from services.kit.privacy.suppression import (
    COMPLEMENTARY,
    SMALL,
    THRESHOLD,
    WITHHELD,
    Count,
    Suppressed,
    is_small,
)

TOP = THRESHOLD - 1
_TOTAL = "\x00total"  # the totals' row and column in the extended table
# Hiding a total costs more than hiding an inner cell: totals are what readers use most.
_TOTAL_COST = 1_000_000
_NEW_CELL_COST = 1_000_000_000

Cell = tuple[str, str]


@dataclass(frozen=True)
class SuppressedTable:
    cells: dict[str, dict[str, Count]]
    row_totals: dict[str, Count]
    column_totals: dict[str, Count]
    total: Count

    def published(self) -> dict[str, object]:
        """As it goes into JSON: numbers stay numbers, marks are text."""

        def out(value: Count) -> int | str:
            return value if isinstance(value, int) else str(value)

        return {
            "cells": {r: {c: out(v) for c, v in row.items()} for r, row in self.cells.items()},
            "row_totals": {r: out(v) for r, v in self.row_totals.items()},
            "column_totals": {c: out(v) for c, v in self.column_totals.items()},
            "total": out(self.total),
        }


def suppress_table(cells: Mapping[str, Mapping[str, int]]) -> SuppressedTable:
    """Hide the small cells of a table of disjoint categories and enough others.

    `cells[row][column]` counts people; a missing cell counts 0. Totals are computed.
    """
    rows = list(cells)
    columns = list(dict.fromkeys(c for row in cells.values() for c in row))
    value: dict[Cell, int] = {}
    for r in rows:
        for c in columns:
            count = cells[r].get(c, 0)
            if count < 0:
                raise ValueError(f"cell ({r!r}, {c!r}) is negative ({count})")
            value[r, c] = count
    for r in rows:
        value[r, _TOTAL] = sum(value[r, c] for c in columns)
    for c in columns:
        value[_TOTAL, c] = sum(value[r, c] for r in rows)
    value[_TOTAL, _TOTAL] = sum(value[r, _TOTAL] for r in rows)

    hidden: dict[Cell, Suppressed] = {
        cell: SMALL for cell, count in value.items() if is_small(count)
    }
    all_rows, all_columns = [*rows, _TOTAL], [*columns, _TOTAL]
    for cell in sorted(hidden, key=lambda k: (value[k], all_rows.index(k[0]))):
        if hidden[cell] is not SMALL:
            continue  # withheld with its row or column meanwhile
        if _protect(cell, value, hidden, all_rows, all_columns):
            continue
        if _protect_stepwise(cell, value, hidden, all_rows, all_columns):
            continue
        # Nothing protects it: say nothing about its row and column.
        for k in value:
            if k[0] == cell[0] or k[1] == cell[1]:
                hidden[k] = WITHHELD
    # No final check is needed: hiding a shown cell or turning a mark into "[x]" only
    # widens what the reader must allow, so every cell protected above stays protected.

    def shown(cell: Cell) -> Count:
        return hidden.get(cell, value[cell])

    return SuppressedTable(
        cells={r: {c: shown((r, c)) for c in columns} for r in rows},
        row_totals={r: shown((r, _TOTAL)) for r in rows},
        column_totals={c: shown((_TOTAL, c)) for c in columns},
        total=shown((_TOTAL, _TOTAL)),
    )


def _protect(
    cell: Cell,
    value: Mapping[Cell, int],
    hidden: dict[Cell, Suppressed],
    rows: list[str],
    columns: list[str],
) -> bool:
    """Hide the corners of the cheapest rectangle that protects `cell`; False if none does."""
    r1, c1 = cell
    best: tuple[int, list[Cell]] | None = None
    for r2, c2 in product(rows, columns):
        if r2 == r1 or c2 == c1:
            continue
        corners = [(r1, c2), (r2, c1), (r2, c2)]
        if not _rectangle_moves(cell, corners, value, hidden):
            continue
        new = [k for k in corners if k not in hidden]
        cost = sum(_NEW_CELL_COST + value[k] + (_TOTAL_COST if _TOTAL in k else 0) for k in new)
        if best is None or cost < best[0]:
            best = (cost, new)
    if best is None:
        return False
    for k in best[1]:
        hidden[k] = COMPLEMENTARY  # shown cells are never small, so never "<5"
    return True


def _protect_stepwise(
    cell: Cell,
    value: Mapping[Cell, int],
    hidden: dict[Cell, Suppressed],
    rows: list[str],
    columns: list[str],
) -> bool:
    """Hide rectangles one at a time until the reader must allow `cell` every small value."""
    r1, c1 = cell
    reach = _reachable(cell, value, hidden)
    while len(reach) < THRESHOLD:
        best: tuple[tuple[int, int], list[Cell]] | None = None
        for r2, c2 in product(rows, columns):
            if r2 == r1 or c2 == c1:
                continue
            new = [k for k in [(r1, c2), (r2, c1), (r2, c2)] if k not in hidden]
            if not new:
                continue
            trial = hidden | dict.fromkeys(new, COMPLEMENTARY)
            gained = len(_reachable(cell, value, trial)) - len(reach)
            if gained <= 0:
                continue
            cost = sum(_NEW_CELL_COST + value[k] + (_TOTAL_COST if _TOTAL in k else 0) for k in new)
            # The most certainty removed first, then the cheapest.
            score = (-gained, cost)
            if best is None or score < best[0]:
                best = (score, new)
        if best is None:
            return False
        for k in best[1]:
            hidden[k] = COMPLEMENTARY
        reach = _reachable(cell, value, hidden)
    return True


def _reachable(
    cell: Cell, value: Mapping[Cell, int], hidden: Mapping[Cell, Suppressed]
) -> set[int]:
    """The small values the reader cannot rule out for `cell`."""
    return {t for t in range(THRESHOLD) if _possible(cell, t, value, hidden)}


def _bounds(mark: Suppressed) -> tuple[int, int | None]:
    """What the reader knows of a hidden cell from its mark (None: no upper bound)."""
    if mark is SMALL:
        return 0, TOP
    if mark is COMPLEMENTARY:
        return THRESHOLD, None
    return 0, None


def _flip(k: Cell) -> int:
    """-1 for a row or column total: negated, every row and column of the table sums to 0."""
    return -1 if (k[0] == _TOTAL) != (k[1] == _TOTAL) else 1


def _possible(
    cell: Cell, target: int, value: Mapping[Cell, int], hidden: Mapping[Cell, Suppressed]
) -> bool:
    """Whether some table agrees with everything shown, every mark, and `cell` = target.

    Each hidden cell is a flow from its row to its column within its mark's bounds; each
    row and column must pass on what its shown cells leave over. Feasible exactly when
    a max-flow from a super source saturates every supply (Hoffman). Large values are
    capped at the grand total plus the threshold: a reader allowed larger ones could
    only rule out less, so a cell found possible here is possible for them too.
    """
    big = value[_TOTAL, _TOTAL] + THRESHOLD
    excess: dict[str, int] = {}
    capacity: dict[str, dict[str, int]] = {}
    for k, count in value.items():
        row, column = "r" + k[0], "c" + k[1]
        mark = hidden.get(k)
        if k == cell or mark is None:
            y = _flip(k) * (target if k == cell else count)
            excess[row] = excess.get(row, 0) - y
            excess[column] = excess.get(column, 0) + y
            continue
        low, high = _bounds(mark)
        high = big if high is None else high
        lo, hi = (low, high) if _flip(k) == 1 else (-high, -low)
        capacity.setdefault(row, {})[column] = hi - lo
        excess[row] = excess.get(row, 0) - lo
        excess[column] = excess.get(column, 0) + lo
    if sum(excess.values()) != 0:
        return False
    supply = 0
    for node, amount in excess.items():
        if amount > 0:
            capacity.setdefault("", {})[node] = amount  # "" is the super source
            supply += amount
        elif amount < 0:
            capacity.setdefault(node, {})["$"] = -amount  # "$" is the super sink
    return _max_flow(capacity, "", "$") == supply


def _max_flow(capacity: Mapping[str, Mapping[str, int]], source: str, sink: str) -> int:
    """Edmonds-Karp: shortest augmenting paths; the graphs here have a few dozen nodes."""
    residual: dict[str, dict[str, int]] = {}
    for u, edges in capacity.items():
        for v, cap in edges.items():
            residual.setdefault(u, {})[v] = residual.get(u, {}).get(v, 0) + cap
            residual.setdefault(v, {}).setdefault(u, 0)
    if source not in residual:
        return 0
    total = 0
    while True:
        parent = {source: source}
        queue = deque([source])
        while queue and sink not in parent:
            u = queue.popleft()
            for v, cap in residual[u].items():
                if cap > 0 and v not in parent:
                    parent[v] = u
                    queue.append(v)
        if sink not in parent:
            return total
        path = []
        v = sink
        while v != source:
            path.append((parent[v], v))
            v = parent[v]
        push = min(residual[u][v] for u, v in path)
        for u, v in path:
            residual[u][v] -= push
            residual[v][u] += push
        total += push


def _rectangle_moves(
    cell: Cell, corners: list[Cell], value: Mapping[Cell, int], hidden: Mapping[Cell, Suppressed]
) -> bool:
    """Whether shifting the rectangle can take `cell` to 0 and to TOP within every bound.

    Inner cells add up to totals; written with totals negated, every row and column of
    the table sums to zero, and +d, -d, -d, +d on a rectangle's corners keeps it so.
    """
    signs = [1, -1, -1, 1]
    everyone = [cell, *corners]
    for target in (0, TOP):
        d = (target - value[cell]) * _flip(cell)
        for k, sign in zip(everyone, signs, strict=True):
            moved = value[k] + _flip(k) * sign * d
            # A shown cell in the rectangle is about to be hidden: it is never small.
            low, high = _bounds(hidden.get(k, COMPLEMENTARY))
            if moved < low or (high is not None and moved > high):
                return False
    return True
