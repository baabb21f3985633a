"""Small cells stay hidden, even from a reader who subtracts shown cells from the total."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.kit.privacy.suppression import (
    COMPLEMENTARY,
    SMALL,
    THRESHOLD,
    WITHHELD,
    Reason,
    Suppressed,
    SuppressedRow,
    suppress_row,
)

SMALL_RANGE = set(range(THRESHOLD))


def reader_inference(row: SuppressedRow, known_sum: int | None) -> dict[str, set[int]]:
    """Every value a reader can still believe for each "<5" cell, by enumeration.

    The reader knows the rules: "<5" is 0..4, "[c]" at least 5, "[x]" anything, and, when
    the row has a total (shown or marked), that the cells add up to it. Independent of
    the implementation's own interval reasoning: it builds the set of sums the other
    cells can reach. `known_sum` bounds the large values tried (beyond it, larger ones
    only add more possibilities).
    """
    small = [k for k, v in row.cells.items() if v is SMALL]
    if row.total is None or known_sum is None:
        return {k: set(SMALL_RANGE) for k in small}
    big = known_sum + 2 * THRESHOLD

    def domain(value: int | Suppressed) -> range:
        if isinstance(value, int):
            return range(value, value + 1)
        if value.reason is Reason.SMALL:
            return range(THRESHOLD)
        if value.reason is Reason.COMPLEMENTARY:
            return range(THRESHOLD, big + 1)
        return range(big + 1)

    # A shown total may include people outside every cell; the reader is assumed to
    # know how many (the cautious case), so what binds the cells is their own sum.
    totals = {known_sum} if isinstance(row.total, int) else set(domain(row.total))
    beliefs: dict[str, set[int]] = {}
    for key in small:
        sums = {0}
        for other, value in row.cells.items():
            if other != key:
                sums = {s + v for s in sums for v in domain(value) if s + v <= big}
        beliefs[key] = {v for v in SMALL_RANGE if any(t - v in sums for t in totals)}
    return beliefs


cells_strategy = st.dictionaries(
    st.sampled_from("abcdefg"),
    st.one_of(st.integers(0, 6), st.integers(0, 40)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=600, deadline=None)
@given(cells=cells_strategy, extra=st.one_of(st.none(), st.just(0), st.integers(1, 20)))
def test_no_small_cell_can_be_narrowed_from_its_row_and_total(
    cells: dict[str, int], extra: int | None
) -> None:
    total = None if extra is None else sum(cells.values()) + extra
    row = suppress_row(cells, total)
    for key, beliefs in reader_inference(row, sum(cells.values())).items():
        assert beliefs == SMALL_RANGE, (cells, total, row, key, beliefs)


@settings(max_examples=300, deadline=None)
@given(cells=cells_strategy, with_total=st.booleans())
def test_marks_are_honest_and_shown_counts_exact(cells: dict[str, int], with_total: bool) -> None:
    total = sum(cells.values()) if with_total else None
    row = suppress_row(cells, total)
    assert row.cells.keys() == cells.keys()
    for key, value in row.cells.items():
        if value is SMALL:
            assert cells[key] < THRESHOLD
        elif value is COMPLEMENTARY:
            assert cells[key] >= THRESHOLD
        elif value is WITHHELD:
            assert set(row.cells.values()) == {WITHHELD} and row.total is WITHHELD
        else:
            assert value == cells[key] >= THRESHOLD
    if isinstance(row.total, int):
        assert row.total == total
    if total is not None and total < THRESHOLD:
        assert row.total is SMALL


def test_the_reader_model_catches_primary_suppression_alone() -> None:
    # Hiding only the small cell leaves it recoverable: the check above has teeth.
    naive = SuppressedRow(cells={"care": SMALL, "other": 30}, total=32)
    assert reader_inference(naive, 32) == {"care": {2}}


def test_one_small_cell_takes_the_smallest_sufficient_complement() -> None:
    row = suppress_row({"neglect": 2, "abuse": 7, "disability": 40, "other": 90}, 139)
    # 7 (>= 5 + 4 - 2) is enough to hide the 2 among 0..4; 40 and 90 stay shown.
    assert row.cells == {"neglect": SMALL, "abuse": COMPLEMENTARY, "disability": 40, "other": 90}
    assert row.total == 139
    assert row.published() == {"neglect": "<5", "abuse": "[c]", "disability": 40, "other": 90}


def test_a_complement_too_close_to_the_threshold_is_not_enough() -> None:
    # With "abuse" 5 hidden the reader knows neglect + abuse = 8 and abuse >= 5, so
    # neglect <= 3: it is not 4. A larger cell is hidden instead.
    row = suppress_row({"neglect": 3, "abuse": 5, "other": 60}, 68)
    assert row.cells == {"neglect": SMALL, "abuse": 5, "other": COMPLEMENTARY}


def test_two_small_cells_can_hide_each_other() -> None:
    row = suppress_row({"a": 2, "b": 2, "c": 50}, 54)
    assert row.cells == {"a": SMALL, "b": SMALL, "c": 50}


def test_two_zeros_do_not_hide_each_other() -> None:
    # Shown hidden sum 0 would give both away.
    row = suppress_row({"a": 0, "b": 0, "c": 50, "d": 60}, 110)
    assert row.cells == {"a": SMALL, "b": SMALL, "c": COMPLEMENTARY, "d": 60}


def test_zero_is_suppressed_like_any_small_count() -> None:
    assert suppress_row({"in care": 0, "not in care": 30}).cells == {
        "in care": SMALL,
        "not in care": 30,
    }


def test_a_small_total_hides_the_whole_row() -> None:
    row = suppress_row({"a": 1, "b": 3}, 4)
    assert row.cells == {"a": SMALL, "b": SMALL}
    assert row.published_total() == "<5"


def test_when_no_cells_suffice_the_row_is_withheld() -> None:
    for cells in ({"a": 3, "b": 5}, {"a": 1, "b": 4}):
        row = suppress_row(cells, sum(cells.values()))
        assert row.cells == dict.fromkeys(cells, WITHHELD) and row.total is WITHHELD
        assert set(row.published().values()) == {"[x]"}


def test_the_reader_model_sees_through_a_hidden_total_marked_at_least_five() -> None:
    # 1 + 4 = 5: with the total marked "[c]" (so at least 5), neither cell can be 0.
    marked = SuppressedRow(cells={"a": SMALL, "b": SMALL}, total=COMPLEMENTARY)
    assert reader_inference(marked, 5) == {"a": {1, 2, 3, 4}, "b": {1, 2, 3, 4}}


def test_a_row_without_small_cells_or_without_a_total_keeps_its_numbers() -> None:
    assert suppress_row({"a": 5, "b": 9}, 14) == SuppressedRow({"a": 5, "b": 9}, 14)
    assert suppress_row({"a": 1, "b": 9}) == SuppressedRow({"a": SMALL, "b": 9}, None)


def test_bad_input_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="negative"):
        suppress_row({"a": -1})
    with pytest.raises(ValueError, match="smaller than the sum"):
        suppress_row({"a": 6, "b": 7}, 10)
