"""Cached aggregates stay current when another replica writes to the same PostgreSQL store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from services.kit.eventstore import build_application
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication


def test_a_replica_sees_what_another_replica_saved(pg_settings: Settings) -> None:
    one = build_application(VolunteersApplication, pg_settings, "volunteers")
    two = build_application(VolunteersApplication, pg_settings, "volunteers")
    try:
        starts = datetime.now(UTC) + timedelta(days=3)
        shift = UUID(
            one.publish_shift(
                None,
                school_id="s1",
                post="library",
                title="Library hour",
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                capacity=2,
                child_facing=False,
            )["shift_id"]
        )
        first, second, third = (
            UUID(
                one.register_volunteer(None, display_name=n, kind="parent", school_id="s1")[
                    "volunteer_id"
                ]
            )
            for n in ("A", "B", "C")
        )
        assert one.shift(shift).places_filled == 0  # Now cached by the first replica.

        assert two.sign_up(None, shift, first)["places_filled"] == 1
        assert one.shift(shift).places_filled == 1  # Fast-forwarded from the store.
        assert one.sign_up(None, shift, second)["places_filled"] == 2

        refused = two.shift(shift)
        assert refused.places_left == 0
        assert set(refused.places) == {str(first), str(second)}
        assert one.volunteer(third).display_name == "C"
    finally:
        one.close()
        two.close()


def test_a_loaded_aggregate_is_a_copy(pg_settings: Settings) -> None:
    app = build_application(VolunteersApplication, pg_settings, "volunteers")
    try:
        volunteer = UUID(
            app.register_volunteer(None, display_name="A", kind="parent", school_id="s1")[
                "volunteer_id"
            ]
        )
        loaded = app.volunteer(volunteer)
        loaded.display_name = "changed without an event"
        assert app.volunteer(volunteer).display_name == "A"
    finally:
        app.close()
