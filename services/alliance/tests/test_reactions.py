"""The measuring reactions: one per boundary in the manifest, facts placed in districts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts import volunteers
from contracts.measures import measure_of
from contracts.platform import load_platform
from services.alliance.reactions import MeasuredFacts, consumer_name, measured_boundaries


def test_every_subject_the_manifest_lists_is_measured_by_its_own_consumer() -> None:
    listed = load_platform().process("alliance").reactions
    reactions = measured_boundaries()
    assert [r.subjects for r in reactions] == list(listed)
    assert len({r.name for r in reactions}) == len(listed)
    assert consumer_name("evt.jus.legal.>") == "alliance-measures-legal"


def test_a_fact_naming_only_a_school_counts_in_the_school_s_district() -> None:
    event = volunteers.VolunteerCheckedOut(
        shift_id="sh1",
        school_id="yz-dongguan-primary",
        volunteer_id="v1",
        at=datetime(2026, 10, 1, 9, tzinfo=UTC),
        hours=2.5,
    )
    measure = measure_of(type(event))
    assert measure is not None
    app: Any = None
    placed = MeasuredFacts(app)._placed(measure.fact_of(event))
    assert (placed.school, placed.district, placed.quantity) == (
        "yz-dongguan-primary",
        "321002",
        2.5,
    )
    unknown = measure.fact_of(event.model_copy(update={"school_id": "nowhere"}))
    assert MeasuredFacts(app)._placed(unknown).district is None
