"""Cached aggregates stay current when another replica writes to the same PostgreSQL store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from services.kit.eventstore import build_application
from services.kit.privacy.personal import PersonalData
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication


def replica(settings: Settings) -> VolunteersApplication:
    app: VolunteersApplication = build_application(VolunteersApplication, settings, "volunteers")
    app.personal = PersonalData.open(settings, "volunteers")
    return app


def close(app: VolunteersApplication) -> None:
    app.close()
    app.privacy.close()


def test_a_replica_sees_what_another_replica_saved(pg_settings: Settings) -> None:
    one, two = replica(pg_settings), replica(pg_settings)
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
        assert one.display_name(one.volunteer(third)) == "C"
    finally:
        close(one)
        close(two)


def test_a_loaded_aggregate_is_a_copy(pg_settings: Settings) -> None:
    app = replica(pg_settings)
    try:
        volunteer = UUID(
            app.register_volunteer(None, display_name="A", kind="parent", school_id="s1")[
                "volunteer_id"
            ]
        )
        loaded = app.volunteer(volunteer)
        loaded.kind = "changed without an event"
        assert app.volunteer(volunteer).kind == "parent"
    finally:
        close(app)
