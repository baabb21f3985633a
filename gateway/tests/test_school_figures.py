"""The school figures as the gateway publishes them, from a read model fed real events:
no count of fewer than five volunteers shows, and none can be worked out from the others."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.figures import Count
from gateway.tests.support import Stream, checked_out, registered
from gateway.volunteers.readmodel import UNKNOWN_KIND, VolunteersReadModel
from gateway.volunteers.types import SchoolHours
from services.kit.privacy.suppression import (
    COMPLEMENTARY,
    SMALL,
    THRESHOLD,
    WITHHELD,
    SuppressedRow,
)
from services.kit.privacy.suppression import Count as KitCount
from services.kit.tests.test_privacy_suppression import reader_inference

KINDS = ("parent", "five-elders", "youth", "teacher", "professional")
SCHOOLS = ("s1", "s2", "s3")
MARKS = {"<5": SMALL, "[c]": COMPLEMENTARY, "[x]": WITHHELD}

volunteers = st.lists(st.sampled_from(KINDS), max_size=40)
# (volunteer index, school, hours): an index past the registered ones is a volunteer whose
# registration the read model has not seen (its kind is unknown).
credits = st.lists(
    st.tuples(st.integers(0, 44), st.sampled_from(SCHOOLS), st.sampled_from([0.5, 1.0, 2.0])),
    max_size=80,
)


def published(count: Count) -> KitCount:
    if count.value is not None:
        return count.value
    assert count.suppressed is not None
    return MARKS[count.suppressed]


def school_figures(kinds: list[str], credited: list[tuple[int, str, float]]) -> list[SchoolHours]:
    """Feed the events into a fresh read model; the school figures as GraphQL shows them."""
    stream = Stream()
    events = [registered(f"v{n}", kind=kind) for n, kind in enumerate(kinds)]  # type: ignore[arg-type]
    events += [
        checked_out(f"sh{i}", f"v{n}", hours, school)
        for i, (n, school, hours) in enumerate(credited)
    ]
    with tempfile.TemporaryDirectory() as folder:
        model = VolunteersReadModel(Path(folder) / "rm.sqlite3").open()
        try:
            model.apply("gateway-volunteers", stream(*events))
            rows = model.school_hours(first=100).rows
        finally:
            model.close()
    return [SchoolHours.from_row(row) for row in rows]


@settings(max_examples=40, deadline=None)
@given(kinds=volunteers, credited=credits)
def test_no_small_count_of_volunteers_shows_or_can_be_worked_out(
    kinds: list[str], credited: list[tuple[int, str, float]]
) -> None:
    # What is true: each school's volunteers credited with hours, by kind.
    truth: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for n, school, _ in credited:
        truth[school][kinds[n] if n < len(kinds) else UNKNOWN_KIND].add(n)

    figures = school_figures(kinds, credited)
    assert {f.school_id for f in figures} == set(truth)
    for school in figures:
        by_kind = {kind: len(ids) for kind, ids in truth[school.school_id].items()}
        total = sum(by_kind.values())
        cells = {
            (cell.kind.value if cell.kind else UNKNOWN_KIND): published(cell.volunteers)
            for cell in school.volunteers_by_kind
        }
        # Every kind is listed, whether anyone is of it or not (zero is a small count too).
        assert set(KINDS) <= set(cells)
        row = SuppressedRow(cells=cells, total=published(school.volunteers))
        # Shown counts are exact and never small; each mark tells the truth.
        for kind, value in [*row.cells.items(), ("total", row.total)]:
            actual = total if kind == "total" else by_kind.get(kind, 0)
            if isinstance(value, int):
                assert value == actual >= THRESHOLD
            elif value is SMALL:
                assert actual < THRESHOLD
            elif value is COMPLEMENTARY:
                assert actual >= THRESHOLD
        # A reader who subtracts what is shown from the total narrows no small cell.
        for kind, believed in reader_inference(row, known_sum=total).items():
            assert believed == set(range(THRESHOLD)), (school.school_id, kind, row)


def test_one_school_with_few_parents_beside_many_youths() -> None:
    # 3 parents and 9 youths at s1: the parents' 3 would follow from 12 - 9, so the
    # youths' count is hidden as well; the school's total of 12 still shows.
    kinds = ["parent"] * 3 + ["youth"] * 9
    [school] = school_figures(kinds, [(n, "s1", 1.0) for n in range(12)])
    cells = {c.kind.value: c.volunteers for c in school.volunteers_by_kind if c.kind}
    assert school.volunteers == Count(value=12, suppressed=None)
    assert cells["parent"] == Count(value=None, suppressed="<5")
    assert cells["youth"].value is None
    assert school.hours == 12.0
