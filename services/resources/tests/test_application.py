"""The resources application on a real SQLite store: the booking rules told as stories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from services.kit.eventstore import build_application
from services.kit.settings import Settings
from services.resources.application import ResourcesApplication
from services.resources.domain import (
    CITY_TZ,
    BookingStateError,
    HeadCountError,
    NoticeTooShortError,
    OutsideOpeningHoursError,
    QuotaReachedError,
    SlotFullError,
    TooManyChildrenError,
    UnsuitableAgeError,
    VenueClosedError,
    term_of,
)
from services.resources.integration import translate

# A Tuesday morning slot, local time, well in the future.
SLOT = datetime(2027, 3, 16, 9, 0, tzinfo=CITY_TZ)
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def venue_fields(**changes: Any) -> dict[str, Any]:
    return {
        "name": "扬州博物馆 Yangzhou Museum",
        "kind": "museum",
        "district": "321003",
        "address": "文昌西路468号",
        "latitude": 32.3935,
        "longitude": 119.3870,
        "owner": "cult",
        "lists": ["practice-base", "course-development"],
        "heritage": False,
        "capacity": 60,
        "slot_minutes": 120,
        "opening_hours": [
            {"weekday": d, "opens": "09:00", "closes": "17:00"} for d in (2, 3, 4, 5, 6, 7)
        ],
        "age_min": 6,
        "age_max": 15,
        "quota_per_term": 1,
        "min_notice_hours": 48,
        "accessible": True,
        "registered_at": NOW,
    } | changes


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ResourcesApplication]:
    application = build_application(ResourcesApplication, Settings(state_dir=tmp_path), "resources")
    yield application
    application.close()


def venue(app: ResourcesApplication, **changes: Any) -> UUID:
    return UUID(app.register_venue(None, **venue_fields(**changes))["venue_id"])


def book(
    app: ResourcesApplication,
    venue_id: UUID,
    school: str,
    head_count: int = 40,
    starts_at: datetime = SLOT,
    **extra: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "starts_at": starts_at,
        "school_id": school,
        "head_count": head_count,
        "age": 10,
        "teachers": 2,
        "waitlist": False,
        "now": NOW,
    }
    return app.book_visit(None, venue_id, **(fields | extra))


def published(app: ResourcesApplication) -> list[str]:
    names = []
    for notification in app.recorder.select_notifications(1, 10_000):
        event = translate(app.mapper.to_domain_event(notification))
        if event is not None:
            names.append(event.event_name)
    return names


class TestBooking:
    def test_a_full_slot_waitlists_and_a_cancellation_books_the_next_in_order(
        self, app: ResourcesApplication
    ) -> None:
        museum = venue(app, quota_per_term=None)
        # School A takes 40 of 60 places; B's 30 do not fit: B waits, then C (10) waits too,
        # although C's group would fit: nobody jumps the school whose turn it is.
        first = book(app, museum, "school-a")
        assert (first["status"], first["places_left"]) == ("booked", 20)
        with pytest.raises(SlotFullError):
            book(app, museum, "school-b", 30)
        second = book(app, museum, "school-b", 30, waitlist=True)
        third = book(app, museum, "school-c", 10, waitlist=True)
        assert (second["status"], third["status"]) == ("waitlisted", "waitlisted")

        # A cancels: B and C are booked at once, in order.
        slot_id = UUID(first["slot_id"])
        cancelled = app.cancel_visit(None, slot_id, first["booking_id"], NOW)
        assert cancelled["booked_from_waitlist"] == [second["booking_id"], third["booking_id"]]
        slot = app.slot(slot_id)
        assert slot.places_left == 20 and slot.waitlist == []
        assert published(app)[-3:] == ["visit-cancelled", "visit-booked", "visit-booked"]

    def test_the_quota_holds_across_slots_and_frees_on_cancellation(
        self, app: ResourcesApplication
    ) -> None:
        museum = venue(app)
        first = book(app, museum, "school-a")
        with pytest.raises(QuotaReachedError):
            book(app, museum, "school-a", starts_at=SLOT + timedelta(days=1))
        app.cancel_visit(None, UUID(first["slot_id"]), first["booking_id"], NOW)
        again = book(app, museum, "school-a", starts_at=SLOT + timedelta(days=1))
        assert again["status"] == "booked"
        # Another term is another quota.
        assert term_of(SLOT.date()) == "2027-spring" and term_of(datetime(2027, 1, 5).date()) == (
            "2026-autumn"
        )
        autumn = datetime(2027, 9, 14, 9, 0, tzinfo=CITY_TZ)
        assert book(app, museum, "school-a", starts_at=autumn)["status"] == "booked"

    @pytest.mark.parametrize(
        ("changes", "error"),
        [
            ({"starts_at": SLOT.replace(hour=8)}, OutsideOpeningHoursError),
            ({"starts_at": SLOT.replace(hour=10)}, OutsideOpeningHoursError),  # not a slot start
            ({"starts_at": SLOT - timedelta(days=1)}, OutsideOpeningHoursError),  # Monday
            ({"head_count": 61}, TooManyChildrenError),
            ({"age": 4}, UnsuitableAgeError),
            ({"now": SLOT - timedelta(hours=47)}, NoticeTooShortError),
        ],
    )
    def test_refusals_append_nothing(
        self, app: ResourcesApplication, changes: dict[str, Any], error: type[Exception]
    ) -> None:
        museum = venue(app)
        head = app.recorder.max_notification_id()
        with pytest.raises(error):
            book(app, museum, "school-a", **changes)
        assert app.recorder.max_notification_id() == head


class TestVisit:
    def test_check_in_and_completion_take_head_counts_up_to_the_booking(
        self, app: ResourcesApplication
    ) -> None:
        museum = venue(app)
        booked = book(app, museum, "school-a", 40)
        slot_id, booking_id = UUID(booked["slot_id"]), booked["booking_id"]
        with pytest.raises(HeadCountError):
            app.check_in(None, slot_id, booking_id, 41, SLOT)
        app.check_in(None, slot_id, booking_id, 38, SLOT)
        app.complete_visit(
            None, slot_id, booking_id, head_count=37, rating=5, at=SLOT + timedelta(hours=2)
        )
        assert app.slot(slot_id).bookings[booking_id]["attended"] == 37

    def test_no_shows_release_their_places(self, app: ResourcesApplication) -> None:
        museum = venue(app, quota_per_term=None)
        came = book(app, museum, "school-a", 20)
        book(app, museum, "school-b", 20)
        slot_id = UUID(came["slot_id"])
        app.check_in(None, slot_id, came["booking_id"], 20, SLOT)
        released = app.release_no_shows(None, slot_id, SLOT + timedelta(minutes=31))
        assert [r["school_id"] for r in released["released"]] == ["school-b"]
        assert released["places_left"] == 40


class TestClosure:
    def test_a_blackout_cancels_every_booking_in_it_and_refuses_new_ones(
        self, app: ResourcesApplication
    ) -> None:
        museum = venue(app, quota_per_term=1)
        a = book(app, museum, "school-a", 40)
        b = book(app, museum, "school-b", 30, waitlist=True)
        c = book(app, museum, "school-c", 10, starts_at=SLOT + timedelta(hours=2))
        later = book(app, museum, "school-d", 10, starts_at=SLOT + timedelta(days=1))
        closed = app.close_venue(
            None, museum, starts_at=SLOT, ends_at=SLOT.replace(hour=17), reason="供电检修"
        )
        told = {(t["school_id"], t["booking_id"]) for t in closed["cancelled"]}
        assert told == {
            ("school-a", a["booking_id"]),
            ("school-b", b["booking_id"]),
            ("school-c", c["booking_id"]),
        }
        assert closed["slots_closed"] == 4
        assert app.slot(UUID(later["slot_id"])).places_left == 50
        with pytest.raises(VenueClosedError):
            book(app, museum, "school-e", 10, starts_at=SLOT + timedelta(hours=4))
        # The quota came back: school A books another day.
        assert book(app, museum, "school-a", starts_at=SLOT + timedelta(days=2))["status"] == (
            "booked"
        )


class TestApproval:
    def test_a_request_holds_its_places_until_approved_or_declined(
        self, app: ResourcesApplication
    ) -> None:
        hospital = venue(app, quota_per_term=1, requires_approval=True)
        a = book(app, hospital, "school-a", 40)
        assert (a["status"], a["places_left"]) == ("requested", 20)
        b = book(app, hospital, "school-b", 30, waitlist=True)
        slot_id = UUID(a["slot_id"])
        # A requested visit does not check in before the venue approves it.
        with pytest.raises(BookingStateError):
            app.check_in(None, slot_id, a["booking_id"], 40, SLOT)

        # Declined: A's places go to B (provisional too), and A's quota comes back.
        declined = app.decline_visit(None, slot_id, a["booking_id"], "展厅维护")
        assert declined["booked_from_waitlist"] == [b["booking_id"]]
        assert app.slot(slot_id).bookings[b["booking_id"]]["status"] == "requested"
        again = book(app, hospital, "school-a", 20, starts_at=SLOT + timedelta(days=1))
        assert again["status"] == "requested"

        app.approve_visit(None, slot_id, b["booking_id"])
        assert app.slot(slot_id).bookings[b["booking_id"]]["status"] == "booked"
        with pytest.raises(BookingStateError):
            app.approve_visit(None, slot_id, b["booking_id"])
        assert published(app).count("visit-approved") == 1


class TestSeries:
    def test_a_weekly_series_books_every_week_or_none(self, app: ResourcesApplication) -> None:
        library = venue(app, quota_per_term=None, capacity=45)
        fields: dict[str, Any] = {
            "starts_at": SLOT,
            "school_id": "school-a",
            "head_count": 40,
            "age": 10,
            "teachers": 2,
            "now": NOW,
        }
        series = app.book_series(None, library, weeks=4, **fields)
        starts = [datetime.fromisoformat(b["starts_at"]) for b in series["bookings"]]
        assert starts == [SLOT + timedelta(weeks=n) for n in range(4)]
        assert {b["status"] for b in series["bookings"]} == {"booked"}

        # Week 3 of another school's series is full: nothing of it is booked.
        head = app.recorder.max_notification_id()
        with pytest.raises(SlotFullError):
            app.book_series(
                None, library, weeks=3, **(fields | {"starts_at": SLOT - timedelta(weeks=1)})
            )
        assert app.recorder.max_notification_id() == head

    def test_the_quota_counts_every_week(self, app: ResourcesApplication) -> None:
        museum = venue(app, quota_per_term=3)
        fields: dict[str, Any] = {
            "starts_at": SLOT,
            "school_id": "school-a",
            "head_count": 10,
            "age": 10,
            "teachers": 1,
            "now": NOW,
        }
        with pytest.raises(QuotaReachedError):
            app.book_series(None, museum, weeks=4, **fields)
        assert len(app.book_series(None, museum, weeks=3, **fields)["bookings"]) == 3
