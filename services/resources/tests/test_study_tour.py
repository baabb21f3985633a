"""The study tour that needs escorts, on resources' side: requested, confirmed, released.

The volunteers' news arrives as the reaction receives it (`escorts_found`); the deadline
fires through the kit's runner on a clock the test moves.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from contracts.volunteers import EscortShiftFilled
from services.kit.deadlines import DeadlineRunner, ManualClock
from services.kit.eventstore import build_application
from services.kit.settings import Settings
from services.resources.application import ResourcesApplication
from services.resources.domain import (
    NoticeTooShortError,
    StudyTourWaitlistError,
    escorts_for,
)
from services.resources.integration import translate
from services.resources.tests.test_application import NOW, SLOT, book, venue


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ResourcesApplication]:
    application = build_application(ResourcesApplication, Settings(state_dir=tmp_path), "resources")
    application.deadline_clock = ManualClock(NOW)
    yield application
    application.close()


def runner(app: ResourcesApplication) -> DeadlineRunner:
    assert app.deadlines is not None
    return DeadlineRunner(app, app.deadlines, app.deadline_clock)


def published(app: ResourcesApplication) -> list[Any]:
    events = []
    for notification in app.recorder.select_notifications(1, 10_000):
        event = translate(app.mapper.to_domain_event(notification))
        if event is not None:
            events.append(event)
    return events


def filled(booking: dict[str, Any], shift_id: str = "5d1c0b0e-0000-4000-8000-000000000001") -> Any:
    return EscortShiftFilled(
        shift_id=shift_id, booking_id=booking["booking_id"], school_id="school-a", escorts=3
    )


def test_escorts_are_needed_above_forty_children_one_for_every_twenty() -> None:
    assert [escorts_for(n) for n in (10, 40, 41, 60, 61)] == [0, 0, 3, 3, 4]


class TestStudyTour:
    def test_a_large_study_tour_holds_its_places_until_escorts_sign_up(
        self, app: ResourcesApplication
    ) -> None:
        museum = venue(app, quota_per_term=None)
        # 45 children on a study tour: 3 escorts, due two days before the visit.
        tour = book(app, museum, "school-a", 45, study_tour=True)
        assert (tour["status"], tour["places_left"], tour["escorts"]) == (
            "awaiting-escorts",
            15,
            3,
        )
        requested = published(app)[-1]
        assert requested.event_name == "escorts-requested"
        assert (requested.escorts, requested.due_at) == (3, SLOT - timedelta(hours=48))
        assert published(app)[-2].awaiting_escorts is True
        # A small class on a study tour, or a visit, needs no escorts.
        small = book(app, museum, "school-b", 10, study_tour=True)
        assert small["status"] == "booked"

        # The shift fills: the tour is confirmed, and the news twice changes nothing.
        app.escorts_found("resources-escorts", 7, [filled(tour)])
        app.escorts_found("resources-escorts", 7, [filled(tour)])
        slot = app.slot(UUID(tour["slot_id"]))
        assert slot.bookings[tour["booking_id"]]["status"] == "booked"
        assert app.consumer_position("resources-escorts") == 7
        confirmed = [e for e in published(app) if e.event_name == "study-tour-confirmed"]
        assert [(e.booking_id, e.approved) for e in confirmed] == [(tour["booking_id"], True)]

        # Its deadline is gone: nothing is released when the day comes.
        app.deadline_clock.set(SLOT)  # type: ignore[attr-defined]
        runner(app).fire_due()
        assert slot.bookings[tour["booking_id"]]["status"] == "booked"
        assert app.slot(slot.id).places_left == 5

    def test_without_escorts_by_the_deadline_the_booking_is_released_with_the_reason(
        self, app: ResourcesApplication
    ) -> None:
        museum = venue(app, quota_per_term=1)
        tour = book(app, museum, "school-a", 45, study_tour=True)
        waiting = book(app, museum, "school-b", 30, waitlist=True)
        assert waiting["status"] == "waitlisted"

        # Not yet due: nothing happens.
        app.deadline_clock.move(timedelta(days=1))  # type: ignore[attr-defined]
        runner(app).fire_due()
        assert app.slot(UUID(tour["slot_id"])).bookings[tour["booking_id"]]["status"] == (
            "awaiting-escorts"
        )

        # Due: released, the school told why, the waitlisted school booked, the quota back.
        app.deadline_clock.set(SLOT - timedelta(hours=47))  # type: ignore[attr-defined]
        runner(app).fire_due()
        slot = app.slot(UUID(tour["slot_id"]))
        assert slot.bookings[tour["booking_id"]]["status"] == "cancelled"
        assert slot.bookings[waiting["booking_id"]]["status"] == "booked"
        cancelled = [e for e in published(app) if e.event_name == "visit-cancelled"]
        assert [(e.school_id, e.reason) for e in cancelled] == [("school-a", "escorts-not-found")]
        assert "3 volunteer escorts" in cancelled[0].detail
        again = book(app, museum, "school-a", 10, starts_at=SLOT + timedelta(days=1))
        assert again["status"] == "booked"

        # The shift filling afterwards changes nothing: the tour is over.
        before = app.recorder.max_notification_id()
        app.escorts_found("resources-escorts", 9, [filled(tour)])
        assert slot.bookings[tour["booking_id"]]["status"] == "cancelled"
        assert app.slot(slot.id).bookings[tour["booking_id"]]["status"] == "cancelled"
        assert app.recorder.max_notification_id() == before

    def test_a_tour_cancelled_by_its_school_drops_its_deadline(
        self, app: ResourcesApplication
    ) -> None:
        museum = venue(app, quota_per_term=None)
        tour = book(app, museum, "school-a", 45, study_tour=True)
        app.cancel_visit(None, UUID(tour["slot_id"]), tour["booking_id"], NOW)
        assert app.study_tour(tour["booking_id"]).status == "dropped"
        app.deadline_clock.set(SLOT)  # type: ignore[attr-defined]
        fired = runner(app)
        fired.fire_due()
        assert (fired.fired, fired.dropped) == (0, 0)

    def test_refusals(self, app: ResourcesApplication) -> None:
        museum = venue(app, quota_per_term=None, min_notice_hours=0)
        before = app.recorder.max_notification_id()
        # Too late to find escorts: less than three days ahead.
        with pytest.raises(NoticeTooShortError):
            book(app, museum, "school-a", 45, study_tour=True, now=SLOT - timedelta(days=2))
        # A study tour with escorts does not wait on the waitlist.
        with pytest.raises(StudyTourWaitlistError):
            book(app, museum, "school-a", 45, study_tour=True, waitlist=True)
        assert app.recorder.max_notification_id() == before
