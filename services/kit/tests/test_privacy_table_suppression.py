"""Two-way tables with totals: no small cell can be narrowed, however the sums are combined."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from services.kit.privacy.suppression import (
    COMPLEMENTARY,
    SMALL,
    THRESHOLD,
    WITHHELD,
    Reason,
    Suppressed,
)
from services.kit.privacy.table_suppression import SuppressedTable, suppress_table

TOTAL = "TOTAL"
SMALL_RANGE = set(range(THRESHOLD))


def extended(table: SuppressedTable) -> dict[tuple[str, str], int | Suppressed]:
    grid: dict[tuple[str, str], int | Suppressed] = {}
    for r, row in table.cells.items():
        for c, v in row.items():
            grid[r, c] = v
        grid[r, TOTAL] = table.row_totals[r]
    for c, v in table.column_totals.items():
        grid[TOTAL, c] = v
    grid[TOTAL, TOTAL] = table.total
    return grid


def max_flow(capacity: dict[str, dict[str, int]], source: str, sink: str) -> int:
    flow = 0
    residual = {u: dict(edges) for u, edges in capacity.items()}
    for u, edges in capacity.items():
        for v in edges:
            residual.setdefault(v, {}).setdefault(u, 0)
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
            return flow
        path, v = [], sink
        while v != source:
            path.append((parent[v], v))
            v = parent[v]
        push = min(residual[u][v] for u, v in path)
        for u, v in path:
            residual[u][v] -= push
            residual[v][u] += push
        flow += push


def feasible(grid: Mapping[tuple[str, str], int | Suppressed], fixed: Mapping, big: int) -> bool:
    """Whether some table matches everything shown, the marks, and `fixed`.

    With totals negated every row and column sums to zero: a flow problem on rows ->
    columns with bounds per hidden cell (Hoffman's circulation theorem, by max-flow).
    """

    def flip(k: tuple[str, str]) -> int:
        return -1 if (k[0] == TOTAL) != (k[1] == TOTAL) else 1

    need: dict[str, int] = {}
    edges: dict[str, dict[str, int]] = {"S": {}}
    for k, v in grid.items():
        r, c = "r:" + k[0], "c:" + k[1]
        if k in fixed or isinstance(v, int):
            y = flip(k) * fixed.get(k, v)
            need[r] = need.get(r, 0) - y  # what the hidden cells of the row must add up to
            need[c] = need.get(c, 0) + y
            continue
        low, high = {
            Reason.SMALL: (0, THRESHOLD - 1),
            Reason.COMPLEMENTARY: (THRESHOLD, big),
            Reason.WITHHELD: (0, big),
        }[v.reason]
        lo, hi = (low, high) if flip(k) == 1 else (-high, -low)
        edges.setdefault(r, {})[c] = edges.get(r, {}).get(c, 0) + hi - lo
        need[r] = need.get(r, 0) - lo
        need[c] = need.get(c, 0) + lo
    if sum(need.values()) != 0:
        return False
    supply = 0
    for node, out in need.items():
        if out > 0:
            edges["S"][node] = out
            supply += out
        elif out < 0:
            edges.setdefault(node, {})["T"] = -out
    return max_flow(edges, "S", "T") == supply


def reader_beliefs(table: SuppressedTable, big: int) -> dict[tuple[str, str], set[int]]:
    grid = extended(table)
    return {
        k: {t for t in SMALL_RANGE if feasible(grid, {k: t}, big)}
        for k, v in grid.items()
        if v is SMALL
    }


tables = st.integers(1, 3).flatmap(
    lambda rows: st.integers(1, 3).flatmap(
        lambda cols: st.lists(
            st.lists(
                st.one_of(st.integers(0, 5), st.integers(0, 30)), min_size=cols, max_size=cols
            ),
            min_size=rows,
            max_size=rows,
        )
    )
)


def as_table(values: list[list[int]]) -> dict[str, dict[str, int]]:
    return {f"r{i}": {f"c{j}": v for j, v in enumerate(row)} for i, row in enumerate(values)}


@settings(max_examples=250, deadline=None)
@given(values=tables)
def test_no_small_cell_of_a_table_can_be_narrowed(values: list[list[int]]) -> None:
    cells = as_table(values)
    table = suppress_table(cells)
    big = 4 * sum(map(sum, values)) + 4 * THRESHOLD
    for cell, beliefs in reader_beliefs(table, big).items():
        assert beliefs == SMALL_RANGE, (values, table.published(), cell, beliefs)


@settings(max_examples=150, deadline=None)
@given(values=tables)
def test_table_marks_are_honest_and_totals_add_up(values: list[list[int]]) -> None:
    cells = as_table(values)
    table = suppress_table(cells)
    for r, row in cells.items():
        for c, v in row.items():
            shown = table.cells[r][c]
            assert (
                shown == v
                or (shown is SMALL and v < THRESHOLD)
                or (shown is COMPLEMENTARY and v >= THRESHOLD)
                or shown is WITHHELD
            )
        total = table.row_totals[r]
        assert total == sum(row.values()) or isinstance(total, Suppressed)


def test_the_flow_reader_catches_primary_suppression_alone() -> None:
    naive = SuppressedTable(
        cells={"A": {"x": SMALL, "y": 40}, "B": {"x": 20, "y": 30}},
        row_totals={"A": 43, "B": 50},
        column_totals={"x": 23, "y": 70},
        total=93,
    )
    assert reader_beliefs(naive, 1000) == {("A", "x"): {3}}
    # Hiding a rectangle with too little room leaves the reader a narrower range.
    tight = SuppressedTable(
        cells={
            "A": {"x": SMALL, "y": COMPLEMENTARY},
            "B": {"x": COMPLEMENTARY, "y": COMPLEMENTARY},
        },
        row_totals={"A": 8, "B": 50},
        column_totals={"x": 8, "y": 50},
        total=58,
    )
    # A-y >= 5 and A-x + A-y = 8, so A-x is not 4.
    assert reader_beliefs(tight, 1000)[("A", "x")] == {0, 1, 2, 3}


def test_a_small_cell_is_protected_by_a_rectangle_of_inner_cells() -> None:
    table = suppress_table(
        {
            "school A": {"neglect": 2, "abuse": 12, "other": 40},
            "school B": {"neglect": 9, "abuse": 15, "other": 33},
            "school C": {"neglect": 20, "abuse": 7, "other": 51},
        }
    )
    assert table.published() == {
        "cells": {
            "school A": {"neglect": "<5", "abuse": "[c]", "other": 40},
            "school B": {"neglect": "[c]", "abuse": "[c]", "other": 33},
            "school C": {"neglect": 20, "abuse": 7, "other": 51},
        },
        "row_totals": {"school A": 54, "school B": 57, "school C": 78},
        "column_totals": {"neglect": 31, "abuse": 34, "other": 124},
        "total": 189,
    }


def test_a_small_total_is_hidden_and_protected() -> None:
    table = suppress_table({"A": {"x": 1, "y": 2}, "B": {"x": 30, "y": 40}, "C": {"x": 25, "y": 9}})
    assert table.row_totals["A"] is SMALL
    assert table.cells["A"] == {"x": SMALL, "y": SMALL}
    for beliefs in reader_beliefs(table, 1000).values():
        assert beliefs == SMALL_RANGE


def test_an_unprotectable_cell_withholds_its_row_and_column_not_the_table() -> None:
    # Row A is 1 + 4 = 5: any mark on its total says "at least 5", so neither cell is 0.
    table = suppress_table({"A": {"x": 1, "y": 4}, "B": {"x": 12, "y": 7}, "C": {"x": 9, "y": 25}})
    assert table.published() == {
        "cells": {
            "A": {"x": "[x]", "y": "[x]"},
            "B": {"x": "[x]", "y": "[c]"},
            "C": {"x": "[x]", "y": 25},
        },
        "row_totals": {"A": "[x]", "B": 19, "C": 34},
        "column_totals": {"x": "[x]", "y": 36},
        "total": 58,
    }
