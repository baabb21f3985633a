"""Counts of people as GraphQL figures: small cells never shown, nor recoverable."""

from __future__ import annotations

import pytest
import strawberry

from gateway.core.figures import Count, count, count_row


class TestCount:
    @pytest.mark.parametrize("people", [0, 1, 4])
    def test_fewer_than_five_people_zero_included_are_suppressed(self, people):
        assert count(people) == Count(value=None, suppressed="<5")

    @pytest.mark.parametrize("people", [5, 6, 3000])
    def test_five_or_more_are_shown(self, people):
        assert count(people) == Count(value=people, suppressed=None)

    def test_a_negative_count_is_a_bug(self):
        with pytest.raises(ValueError, match="negative"):
            count(-1)


class TestRow:
    def test_a_small_cell_cannot_be_recovered_from_the_total(self):
        # 3 children in care at school A; with the total shown, B must go too.
        row = count_row({"a": 3, "b": 40, "c": 57}, total=100)
        assert row.cells["a"] == Count(value=None, suppressed="<5")
        hidden = [key for key, cell in row.cells.items() if cell.value is None]
        assert len(hidden) >= 2
        assert row.total == Count(value=100, suppressed=None)
        shown = sum(cell.value for cell in row.cells.values() if cell.value is not None)
        # What the reader can work out is the sum of the hidden cells, not any one of them.
        assert 100 - shown == sum({"a": 3, "b": 40, "c": 57}[k] for k in hidden)

    def test_a_small_total_hides_the_whole_row(self):
        row = count_row({"a": 1, "b": 2}, total=3)
        assert row.total == Count(value=None, suppressed="<5")
        assert all(cell.suppressed == "<5" for cell in row.cells.values())

    def test_without_a_total_only_small_cells_go(self):
        row = count_row({"a": 3, "b": 40})
        assert row.cells == {
            "a": Count(value=None, suppressed="<5"),
            "b": Count(value=40, suppressed=None),
        }
        assert row.total is None


def test_a_count_in_a_schema_reads_as_value_or_mark():
    @strawberry.type
    class Query:
        @strawberry.field
        def children_in_care(self) -> list[Count]:
            return [count(3), count(12)]

    result = strawberry.Schema(query=Query).execute_sync("{ childrenInCare { value suppressed } }")
    assert result.errors is None
    assert result.data == {
        "childrenInCare": [{"value": None, "suppressed": "<5"}, {"value": 12, "suppressed": None}]
    }
