"""Volunteers and shifts: aggregates and their rules. No I/O here."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from contracts.volunteers import escort_shift_id
from services.kit.errors import ConflictError, DomainError

VolunteerKind = Literal["parent", "five-elders", "youth", "teacher", "professional"]
PostKind = Literal["safety-post", "library", "after-school", "lecture", "study-tour-escort"]
# How far before a shift a volunteer may check in, and after it check out.
ATTENDANCE_SLACK = timedelta(hours=2)
CheckStatus = Literal["none", "requested", "passed", "failed", "expired"]


class BackgroundCheckRequiredError(DomainError):
    """A child-facing shift needs a passed, unexpired background check."""

    code = "background-check-required"


class ShiftFullError(ConflictError):
    """Every place on the shift is taken."""

    code = "shift-full"


class AlreadySignedUpError(ConflictError):
    """The volunteer already holds a place on this shift."""

    code = "already-signed-up"


class NotSignedUpError(ConflictError):
    """The volunteer holds no place on this shift (or is in the wrong state for this)."""

    code = "not-signed-up"


class ShiftClosedError(ConflictError):
    """The shift is closed to sign-ups (the study tour it escorted is off)."""

    code = "shift-closed"


class InvalidTimeError(DomainError):
    """A time given for a shift or an attendance makes no sense."""

    code = "invalid-time"


class VolunteerErasedError(ConflictError):
    """The volunteer's personal data was erased: nothing new is recorded about them."""

    code = "person-erased"


class Volunteer(Aggregate):
    """A person who gives time; may work with children once public security has passed them.

    The name is personal data: the events hold it as a data-key token (`name_token`),
    which only the application can open, and not at all once the person is erased.
    Events written before names were encrypted hold it as plain text; the application
    reads both.
    """

    # The event field keeps its first name, `display_name`: stored events carry it.
    @event("Registered")
    def __init__(
        self,
        id: UUID,
        display_name: str,
        kind: str,
        school_id: str | None,
        registered_at: datetime,
    ) -> None:
        self.name_token = display_name
        self.erased_at: datetime | None = None
        self.kind = kind
        self.school_id = school_id
        self.registered_at = registered_at
        self.check_status: str = "none"
        self.check_id: str | None = None
        self.check_expires_on: str | None = None
        self.hours = 0.0

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    def rename(self, name_token: str) -> None:
        self.refuse_if_erased()
        self._renamed(display_name=name_token)

    @event("Renamed")
    def _renamed(self, display_name: str) -> None:
        self.name_token = display_name

    def erase(self, erased_at: datetime) -> bool:
        """Record that the person's data was erased; False (and no event) if it already was."""
        if self.erased:
            return False
        self._erased(erased_at=erased_at)
        return True

    @event("Erased")
    def _erased(self, erased_at: datetime) -> None:
        self.erased_at = erased_at

    def refuse_if_erased(self) -> None:
        if self.erased:
            raise VolunteerErasedError(
                "this volunteer's personal data was erased: nothing new is recorded about them"
            )

    def request_background_check(self, check_id: str, requested_at: datetime) -> None:
        # A check is about the person: there is no one to check once they are erased.
        self.refuse_if_erased()
        self._check_requested(check_id=check_id, requested_at=requested_at)

    @event("BackgroundCheckRequested")
    def _check_requested(self, check_id: str, requested_at: datetime) -> None:
        self.check_status = "requested"
        self.check_id = check_id

    def awaits_result_of(self, check_id: str) -> bool:
        """Only the answer to the check last requested counts: an unrequested result, or a
        late answer to a superseded request, must not make anyone eligible."""
        return self.check_status == "requested" and self.check_id == check_id

    def record_background_check(self, check_id: str, outcome: str, expires_on: date | None) -> None:
        if outcome == "passed" and expires_on is None:
            raise DomainError("a passed check needs an expiry date")
        self._check_recorded(
            check_id=check_id,
            outcome=outcome,
            expires_on=expires_on.isoformat() if expires_on else None,
        )

    @event("BackgroundCheckRecorded")
    def _check_recorded(self, check_id: str, outcome: str, expires_on: str | None) -> None:
        self.check_status = outcome
        self.check_id = check_id
        self.check_expires_on = expires_on

    @event("HoursCredited")
    def credit_hours(self, shift_id: str, hours: float) -> None:
        self.hours = round(self.hours + hours, 2)

    def check_status_on(self, day: date) -> CheckStatus:
        if (
            self.check_status == "passed"
            and self.check_expires_on
            and date.fromisoformat(self.check_expires_on) < day
        ):
            return "expired"
        return self.check_status  # type: ignore[return-value]

    def may_work_with_children(self, day: date) -> bool:
        return self.check_status_on(day) == "passed"


class Shift(Aggregate):
    """A post or shift at a school with a fixed number of places."""

    @event("Published")
    def __init__(
        self,
        school_id: str,
        post: str,
        title: str,
        starts_at: datetime,
        ends_at: datetime,
        capacity: int,
        child_facing: bool,
        booking_id: str | None = None,
    ) -> None:
        self.school_id = school_id
        self.post = post
        self.title = title
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.capacity = capacity
        self.child_facing = child_facing
        # The study tour (a resources booking) this shift escorts, if any.
        self.booking_id = booking_id
        # volunteer id -> {"status": signed-up|checked-in|checked-out, "in": iso, "hours": float}
        self.places: dict[str, dict[str, Any]] = {}
        self.filled = False
        self.closed_reason: str | None = None

    @staticmethod
    def create_id(booking_id: str | None = None, **_: Any) -> UUID:
        return escort_shift_id(booking_id) if booking_id is not None else uuid4()

    @classmethod
    def open_for_escorts(
        cls,
        *,
        booking_id: str,
        school_id: str,
        venue_name: str,
        starts_at: datetime,
        ends_at: datetime,
        escorts: int,
        head_count: int,
    ) -> Shift:
        """The child-facing shift a study tour's escorts sign up for."""
        title = f"研学护导 Study-tour escorts: {head_count} children at {venue_name}"
        return cls.publish(
            school_id=school_id,
            post="study-tour-escort",
            title=title[:200],
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=escorts,
            child_facing=True,
            booking_id=booking_id,
        )

    @classmethod
    def publish(
        cls,
        *,
        school_id: str,
        post: str,
        title: str,
        starts_at: datetime,
        ends_at: datetime,
        capacity: int,
        child_facing: bool,
        booking_id: str | None = None,
    ) -> Shift:
        if ends_at <= starts_at:
            raise InvalidTimeError("a shift must end after it starts")
        if (ends_at - starts_at).total_seconds() > 24 * 3600:
            raise InvalidTimeError("a shift lasts at most 24 hours")
        return cls(
            school_id=school_id,
            post=post,
            title=title,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            child_facing=child_facing,
            booking_id=booking_id,
        )

    @property
    def places_filled(self) -> int:
        return len(self.places)

    @property
    def places_left(self) -> int:
        return self.capacity - self.places_filled

    def sign_up(self, volunteer: Volunteer) -> None:
        volunteer_id = str(volunteer.id)
        volunteer.refuse_if_erased()
        if self.closed_reason is not None:
            raise ShiftClosedError(f"this shift is closed: {self.closed_reason}")
        if volunteer_id in self.places:
            raise AlreadySignedUpError("the volunteer is already signed up for this shift")
        if self.places_left <= 0:
            raise ShiftFullError(f"all {self.capacity} places are taken")
        if self.child_facing and not volunteer.may_work_with_children(self.starts_at.date()):
            raise BackgroundCheckRequiredError(
                "this shift is child-facing: the volunteer needs a background check "
                f"passed and valid on {self.starts_at.date().isoformat()} "
                f"(now: {volunteer.check_status_on(self.starts_at.date())})"
            )
        self._signed_up(volunteer_id=volunteer_id, places_filled=self.places_filled + 1)
        if self.booking_id is not None and self.places_left == 0 and not self.filled:
            # Told once: the study tour is confirmed by it, and stays confirmed.
            self._filled(
                booking_id=self.booking_id, school_id=self.school_id, escorts=self.places_filled
            )

    @event("Filled")
    def _filled(self, booking_id: str, school_id: str, escorts: int) -> None:
        self.filled = True

    def close(self, reason: str) -> bool:
        """Close the shift to sign-ups; False (and no event) if it already was."""
        if self.closed_reason is not None:
            return False
        self._closed(reason=reason, booking_id=self.booking_id)
        return True

    @event("Closed")
    def _closed(self, reason: str, booking_id: str | None) -> None:
        self.closed_reason = reason

    @event("SignedUp")
    def _signed_up(self, volunteer_id: str, places_filled: int) -> None:
        self.places[volunteer_id] = {"status": "signed-up"}

    def cancel(self, volunteer_id: str) -> None:
        self._require(
            volunteer_id, "signed-up", "only a place not yet checked in can be given back"
        )
        self._cancelled(volunteer_id=volunteer_id, places_filled=self.places_filled - 1)

    @event("SignUpCancelled")
    def _cancelled(self, volunteer_id: str, places_filled: int) -> None:
        del self.places[volunteer_id]

    def check_in(self, volunteer_id: str, at: datetime) -> None:
        self._require(volunteer_id, "signed-up", "check-in needs a place that is not checked in")
        if not self.starts_at - ATTENDANCE_SLACK <= at <= self.ends_at:
            raise InvalidTimeError(
                "check-in must fall between two hours before the shift starts and its end"
            )
        self._checked_in(volunteer_id=volunteer_id, at=at)

    @event("CheckedIn")
    def _checked_in(self, volunteer_id: str, at: datetime) -> None:
        self.places[volunteer_id] = {"status": "checked-in", "in": at.isoformat()}

    def check_out(self, volunteer_id: str, at: datetime) -> float:
        """Check out and return the hours credited: the time present during the shift."""
        self._require(volunteer_id, "checked-in", "check-out needs a checked-in volunteer")
        checked_in = datetime.fromisoformat(self.places[volunteer_id]["in"])
        if at <= checked_in:
            raise InvalidTimeError("check-out must come after check-in")
        if at > self.ends_at + ATTENDANCE_SLACK:
            raise InvalidTimeError("check-out must come at most two hours after the shift ends")
        present = min(at, self.ends_at) - max(checked_in, self.starts_at)
        hours = round(max(present.total_seconds(), 0) / 3600, 2)
        self._checked_out(volunteer_id=volunteer_id, school_id=self.school_id, at=at, hours=hours)
        return hours

    @event("CheckedOut")
    def _checked_out(self, volunteer_id: str, school_id: str, at: datetime, hours: float) -> None:
        self.places[volunteer_id] = self.places[volunteer_id] | {
            "status": "checked-out",
            "out": at.isoformat(),
            "hours": hours,
        }

    def _require(self, volunteer_id: str, status: str, message: str) -> None:
        place = self.places.get(volunteer_id)
        if place is None or place["status"] != status:
            raise NotSignedUpError(message)
