"""The volunteers' rules, told as stories, without any I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.volunteers.domain import (
    AlreadySignedUpError,
    BackgroundCheckRequiredError,
    InvalidTimeError,
    NotSignedUpError,
    Shift,
    ShiftClosedError,
    ShiftFullError,
    Volunteer,
    VolunteerErasedError,
    escort_shift_id,
)

START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def volunteer(outcome: str | None = None, expires_on: date | None = date(2027, 6, 30)) -> Volunteer:
    person = Volunteer(
        id=uuid4(), display_name="pd1:token", kind="parent", school_id="s1", registered_at=START
    )
    if outcome:
        person.request_background_check(check_id="chk-1", requested_at=START)
        person.record_background_check("chk-1", outcome, expires_on)
    return person


def shift(capacity: int = 2, child_facing: bool = True) -> Shift:
    return Shift.publish(
        school_id="s1",
        post="safety-post",
        title="Morning gate 护学岗",
        starts_at=START,
        ends_at=START + timedelta(hours=1, minutes=30),
        capacity=capacity,
        child_facing=child_facing,
    )


class TestSignUp:
    def test_a_child_facing_shift_needs_a_passed_check(self) -> None:
        post = shift()
        for person in (volunteer(), volunteer("failed")):
            with pytest.raises(BackgroundCheckRequiredError):
                post.sign_up(person)
        assert post.places_filled == 0

    def test_an_expired_pass_is_not_enough(self) -> None:
        person = volunteer("passed", expires_on=date(2026, 11, 30))
        assert person.check_status_on(START.date()) == "expired"
        with pytest.raises(BackgroundCheckRequiredError):
            shift().sign_up(person)

    def test_a_passed_check_opens_child_facing_shifts(self) -> None:
        post = shift()
        post.sign_up(volunteer("passed"))
        assert (post.places_filled, post.places_left) == (1, 1)

    def test_other_shifts_need_no_check(self) -> None:
        post = shift(child_facing=False)
        post.sign_up(volunteer())
        assert post.places_filled == 1

    def test_a_shift_is_never_overbooked(self) -> None:
        post = shift(capacity=1)
        post.sign_up(volunteer("passed"))
        with pytest.raises(ShiftFullError):
            post.sign_up(volunteer("passed"))

    def test_nobody_signs_up_twice(self) -> None:
        post, person = shift(), volunteer("passed")
        post.sign_up(person)
        with pytest.raises(AlreadySignedUpError):
            post.sign_up(person)

    def test_a_cancelled_place_is_free_again(self) -> None:
        post, person = shift(capacity=1), volunteer("passed")
        post.sign_up(person)
        post.cancel(str(person.id))
        assert post.places_left == 1


class TestAttendance:
    def test_hours_are_the_time_present_during_the_shift(self) -> None:
        post, person = shift(), volunteer("passed")
        post.sign_up(person)
        post.check_in(str(person.id), START - timedelta(minutes=10))
        hours = post.check_out(str(person.id), START + timedelta(hours=3))
        assert hours == 1.5

    def test_attendance_must_be_near_the_shift(self) -> None:
        post, person = shift(), volunteer("passed")
        post.sign_up(person)
        with pytest.raises(InvalidTimeError):
            post.check_in(str(person.id), START - timedelta(days=3))
        post.check_in(str(person.id), START)
        with pytest.raises(InvalidTimeError):
            post.check_out(str(person.id), START + timedelta(days=2))
        assert post.places[str(person.id)]["status"] == "checked-in"

    def test_partial_presence_counts_partially(self) -> None:
        post, person = shift(), volunteer("passed")
        post.sign_up(person)
        post.check_in(str(person.id), START)
        assert post.check_out(str(person.id), START + timedelta(minutes=45)) == 0.75

    def test_check_out_needs_a_check_in_and_comes_after_it(self) -> None:
        post, person = shift(), volunteer("passed")
        post.sign_up(person)
        with pytest.raises(NotSignedUpError):
            post.check_out(str(person.id), START)
        post.check_in(str(person.id), START)
        with pytest.raises(InvalidTimeError):
            post.check_out(str(person.id), START - timedelta(minutes=1))

    def test_a_checked_in_place_cannot_be_cancelled(self) -> None:
        post, person = shift(), volunteer("passed")
        post.sign_up(person)
        post.check_in(str(person.id), START)
        with pytest.raises(NotSignedUpError):
            post.cancel(str(person.id))


class TestPublishing:
    def test_a_shift_ends_after_it_starts(self) -> None:
        with pytest.raises(InvalidTimeError):
            Shift.publish(
                school_id="s1",
                post="library",
                title="Library",
                starts_at=START,
                ends_at=START,
                capacity=1,
                child_facing=False,
            )

    def test_a_pass_needs_an_expiry(self) -> None:
        person = volunteer()
        with pytest.raises(Exception, match="expiry"):
            person.record_background_check("chk-1", "passed", None)


class TestErasure:
    def test_erasure_is_recorded_once_and_keeps_the_figures(self) -> None:
        person = volunteer()
        person.credit_hours(shift_id="sh-1", hours=2.5)
        assert person.erase(START) is True
        assert person.erase(START + timedelta(days=1)) is False
        assert person.erased_at == START and person.hours == 2.5
        assert [type(e).__name__ for e in person.collect_events()][-1] == "Erased"

    def test_nothing_new_is_recorded_about_an_erased_person(self) -> None:
        person = volunteer()
        person.erase(START)
        with pytest.raises(VolunteerErasedError):
            person.rename("pd1:another")
        with pytest.raises(VolunteerErasedError):
            person.request_background_check(check_id="chk-2", requested_at=START)
        with pytest.raises(VolunteerErasedError):
            shift(child_facing=False).sign_up(person)


class TestEscortShift:
    def escorts(self) -> Shift:
        return Shift.open_for_escorts(
            booking_id="b-1",
            school_id="s1",
            venue_name="扬州博物馆",
            starts_at=START,
            ends_at=START + timedelta(hours=2),
            escorts=2,
            head_count=45,
        )

    def test_a_study_tour_has_one_child_facing_shift_that_says_once_when_full(self) -> None:
        post = self.escorts()
        assert (post.id, post.child_facing, post.post) == (
            escort_shift_id("b-1"),
            True,
            "study-tour-escort",
        )
        with pytest.raises(BackgroundCheckRequiredError):
            post.sign_up(volunteer())
        post.sign_up(volunteer("passed"))
        assert not post.filled
        post.sign_up(volunteer("passed"))
        names = [type(e).__qualname__ for e in post.collect_events()]
        assert names[-2:] == ["Shift.SignedUp", "Shift.Filled"]
        # A place given back and taken again does not say it twice.
        taken = next(iter(post.places))
        post.cancel(taken)
        post.sign_up(volunteer("passed"))
        assert "Shift.Filled" not in [type(e).__qualname__ for e in post.collect_events()]

    def test_a_closed_shift_takes_no_sign_ups_and_closes_once(self) -> None:
        post = self.escorts()
        assert post.close("escorts-not-found") is True
        assert post.close("escorts-not-found") is False
        with pytest.raises(ShiftClosedError):
            post.sign_up(volunteer("passed"))
