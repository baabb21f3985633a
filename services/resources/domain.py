"""Venues, their slots and the schools' quotas: aggregates and their rules. No I/O here.

A slot is an aggregate of its own, keyed by its venue and start (`slot_id`), so that
bookings of different slots never contend, and bookings of one slot are serialised by
its version: two schools taking the last places both decide on the same version, one
save wins, the other decides again on fresh state and is refused (or waitlisted).
A school's quota at a venue for a term is an aggregate too, saved with the slot in one
transaction, so a school cannot exceed it by booking two slots at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from contracts.resources import CITY_TZ, OpeningHours, slot_id, slot_starts_on
from services.kit.errors import ConflictError, DomainError

# A closure covers at most this long: it creates (and closes) every slot it covers.
MAX_CLOSURE = timedelta(days=31)
# A booked group that has not checked in this long after its slot started is a no-show.
NO_SHOW_GRACE = timedelta(minutes=30)
# Statuses that hold places on a slot ("requested": waiting for the venue's approval;
# "awaiting-escorts": a study tour waiting for its volunteer escorts).
HOLDING = ("requested", "awaiting-escorts", "booked", "checked-in", "completed")
# Statuses a school may still cancel, and a closure cancels.
OPEN = ("requested", "awaiting-escorts", "booked", "waitlisted")

# A study tour (研学) of more children than this goes ahead only with volunteer escorts,
# one for every CHILDREN_PER_ESCORT children (beside the school's own teachers).
ESCORTS_ABOVE = 40
CHILDREN_PER_ESCORT = 20
# The escorts must have signed up this long before the tour; after that the booking is
# released, early enough for the school to make other plans and the places to go back.
ESCORTS_DUE_BEFORE = timedelta(hours=48)
# ... so such a tour is booked at least this far ahead: a day at least to find escorts.
ESCORTED_NOTICE = ESCORTS_DUE_BEFORE + timedelta(hours=24)


class OutsideOpeningHoursError(DomainError):
    """The time asked for is not a slot of the venue's opening hours."""

    code = "outside-opening-hours"


class VenueClosedError(ConflictError):
    """The venue is closed then (a blackout)."""

    code = "venue-closed"


class TooManyChildrenError(DomainError):
    """More children than a slot of the venue takes."""

    code = "too-many-children"


class UnsuitableAgeError(DomainError):
    """The venue is not suitable for children of this age."""

    code = "unsuitable-age"


class NoticeTooShortError(DomainError):
    """The booking comes later than the venue's notice allows, or after the slot began."""

    code = "notice-too-short"


class SlotFullError(ConflictError):
    """Not enough places left on the slot."""

    code = "slot-full"


class QuotaReachedError(ConflictError):
    """The school holds as many bookings at this venue this term as its quota allows."""

    code = "quota-reached"


class BookingNotFoundError(DomainError):
    """The slot holds no such booking."""

    status = 404
    code = "booking-not-found"


class BookingStateError(ConflictError):
    """The booking is not in a state that allows this."""

    code = "booking-state"


class HeadCountError(DomainError):
    """A head count above the children booked (or below one)."""

    code = "head-count"


class InvalidTimeError(DomainError):
    """A time given makes no sense here."""

    code = "invalid-time"


class StudyTourWaitlistError(DomainError):
    """A study tour that needs escorts takes free places only: it does not wait for any."""

    code = "study-tour-waitlist"


def escorts_for(head_count: int) -> int:
    """Volunteer escorts a study tour of this many children needs (0: none)."""
    if head_count <= ESCORTS_ABOVE:
        return 0
    return math.ceil(head_count / CHILDREN_PER_ESCORT)


def venue_id_of(owner: str, source_code: str) -> UUID:
    """The map's id of a venue its owner's own system published under `source_code`."""
    return uuid5(NAMESPACE_URL, f"tongxin:resources:venue:{owner}:{source_code}")


def study_tour_id(booking_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"tongxin:resources:study-tour:{booking_id}")


def quota_id(venue_id: UUID, school_id: str, term: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"tongxin:resources:quota:{venue_id}:{school_id}:{term}")


def term_of(day: date) -> str:
    """The school term a day belongs to: autumn from August to January, spring after."""
    if day.month >= 8:
        return f"{day.year}-autumn"
    if day.month == 1:
        return f"{day.year - 1}-autumn"
    return f"{day.year}-spring"


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidTimeError("times need an offset (e.g. +08:00)")
    return moment.astimezone(CITY_TZ)


class Venue(Aggregate):
    """A place on the learning map that schools visit, with its hours, capacity and rules."""

    @event("Registered")
    def __init__(
        self,
        name: str,
        kind: str,
        district: str,
        address: str,
        latitude: float,
        longitude: float,
        owner: str,
        lists: list[str],
        heritage: bool,
        capacity: int,
        slot_minutes: int,
        opening_hours: list[dict[str, Any]],
        age_min: int,
        age_max: int,
        quota_per_term: int | None,
        min_notice_hours: int,
        accessible: bool,
        registered_at: datetime,
        requires_approval: bool = False,
        source_code: str | None = None,
        buffer_minutes: int = 0,
    ) -> None:
        self.name = name
        self.kind = kind
        self.district = district
        self.address = address
        self.latitude = latitude
        self.longitude = longitude
        self.owner = owner
        self.lists = list(lists)
        self.heritage = heritage
        self.capacity = capacity
        self.slot_minutes = slot_minutes
        self.opening_hours = [dict(h) for h in opening_hours]
        self.age_min = age_min
        self.age_max = age_max
        self.quota_per_term = quota_per_term
        self.min_notice_hours = min_notice_hours
        self.accessible = accessible
        self.registered_at = registered_at
        self.requires_approval = requires_approval
        # The venue's code in its owner's own system, when that system published it.
        self.source_code = source_code
        # Minutes between two slots (LibreBooking's buffer), to clear and prepare.
        self.buffer_minutes = buffer_minutes
        self.closures: list[dict[str, Any]] = []

    @staticmethod
    def create_id(owner: str, source_code: str | None = None, **_: Any) -> UUID:
        return venue_id_of(owner, source_code) if source_code is not None else uuid4()

    @classmethod
    def register(cls, **fields: Any) -> Venue:
        hours = fields["opening_hours"]
        if fields["age_min"] > fields["age_max"]:
            raise UnsuitableAgeError("age_min must not be above age_max")
        days = [h["weekday"] for h in hours]
        if len(set(days)) != len(days):
            raise InvalidTimeError("give each weekday's opening hours once")
        for h in hours:
            length = _minutes(h["closes"]) - _minutes(h["opens"])
            if length < fields["slot_minutes"]:
                raise InvalidTimeError(
                    f"on weekday {h['weekday']} the venue is open for less than one slot"
                )
        return cls(**fields)

    # -- slots ------------------------------------------------------------------------------
    def hours_on(self, day: date) -> tuple[int, int] | None:
        """Opening and closing minute of the day, or None when closed that weekday."""
        for h in self.opening_hours:
            if h["weekday"] == day.isoweekday():
                return _minutes(h["opens"]), _minutes(h["closes"])
        return None

    def slot_starts_on(self, day: date) -> Iterator[datetime]:
        hours = [OpeningHours(**h) for h in self.opening_hours]
        return slot_starts_on(hours, self.slot_minutes, day, self.buffer_minutes)

    def slot_starts_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Starts of the slots overlapping [start, end), in order."""
        day = local(start).date() - timedelta(days=1)
        last = local(end).date()
        length = timedelta(minutes=self.slot_minutes)
        while day <= last:
            for slot_start in self.slot_starts_on(day):
                if slot_start < end and slot_start + length > start:
                    yield slot_start
            day += timedelta(days=1)

    def check_slot(self, starts_at: datetime) -> datetime:
        """The slot's end, if `starts_at` starts one of the venue's slots."""
        start = local(starts_at)
        if start not in set(self.slot_starts_on(start.date())):
            raise OutsideOpeningHoursError(
                f"{start.strftime('%Y-%m-%d %H:%M')} is not a slot of this venue: it opens "
                f"{self._hours_text(start.date())}, in slots of {self.slot_minutes} minutes"
                + (f" {self.buffer_minutes} minutes apart" if self.buffer_minutes else "")
            )
        return start + timedelta(minutes=self.slot_minutes)

    def _hours_text(self, day: date) -> str:
        hours = self.hours_on(day)
        if hours is None:
            return "on other weekdays only"
        opens, closes = hours
        return f"{opens // 60:02d}:{opens % 60:02d}-{closes // 60:02d}:{closes % 60:02d}"

    def closure_at(self, starts_at: datetime) -> dict[str, Any] | None:
        end = starts_at + timedelta(minutes=self.slot_minutes)
        for closure in self.closures:
            if closure["starts_at"] < end and closure["ends_at"] > starts_at:
                return closure
        return None

    def check_booking(
        self, starts_at: datetime, head_count: int, age: int, now: datetime
    ) -> datetime:
        """Whether a class group may book the slot starting then; returns the slot's end."""
        ends_at = self.check_slot(starts_at)
        closure = self.closure_at(starts_at)
        if closure is not None:
            raise VenueClosedError(f"the venue is closed then: {closure['reason']}")
        if head_count > self.capacity:
            raise TooManyChildrenError(
                f"a slot takes at most {self.capacity} children; {head_count} asked for"
            )
        if not self.age_min <= age <= self.age_max:
            raise UnsuitableAgeError(
                f"this venue suits children aged {self.age_min} to {self.age_max}"
            )
        if starts_at - now < timedelta(hours=self.min_notice_hours):
            raise NoticeTooShortError(
                f"this venue needs {self.min_notice_hours} hours' notice before a visit"
            )
        return ends_at

    # -- closures ---------------------------------------------------------------------------
    def close(self, starts_at: datetime, ends_at: datetime, reason: str) -> None:
        if ends_at <= starts_at:
            raise InvalidTimeError("a closure must end after it starts")
        if ends_at - starts_at > MAX_CLOSURE:
            raise InvalidTimeError("close at most 31 days at a time")
        self._closed(starts_at=starts_at, ends_at=ends_at, reason=reason)

    @event("Closed")
    def _closed(self, starts_at: datetime, ends_at: datetime, reason: str) -> None:
        self.closures.append({"starts_at": starts_at, "ends_at": ends_at, "reason": reason})


class Slot(Aggregate):
    """One slot of a venue: its places, the bookings holding them and the waitlist."""

    @event("Opened")
    def __init__(
        self,
        venue_id: UUID,
        starts_at: datetime,
        ends_at: datetime,
        capacity: int,
        requires_approval: bool = False,
    ) -> None:
        self.venue_id = venue_id
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.capacity = capacity
        self.requires_approval = requires_approval
        # booking id -> {"school_id", "head_count", "age", "teachers", "status", ...}
        self.bookings: dict[str, dict[str, Any]] = {}
        self.waitlist: list[str] = []
        self.closed_reason: str | None = None

    @staticmethod
    def create_id(venue_id: UUID, starts_at: datetime, **_: Any) -> UUID:
        return slot_id(venue_id, starts_at)

    @property
    def places_booked(self) -> int:
        return sum(b["head_count"] for b in self.bookings.values() if b["status"] in HOLDING)

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.places_booked, 0)

    def booking(self, booking_id: str) -> dict[str, Any]:
        found = self.bookings.get(booking_id)
        if found is None:
            raise BookingNotFoundError(f"booking {booking_id} is not on this slot")
        return found

    def _common(self) -> dict[str, Any]:
        return {
            "venue_id": str(self.venue_id),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "capacity": self.capacity,
        }

    def book(
        self,
        booking_id: str,
        *,
        school_id: str,
        head_count: int,
        age: int,
        teachers: int,
        waitlist: bool,
        series_id: str | None = None,
        escorts: int = 0,
    ) -> str:
        """Book the places, or join the waitlist when full and the school asked to; the status.

        A study tour that needs `escorts` holds its places as awaiting them (StudyTour).
        """
        if self.closed_reason is not None:
            raise VenueClosedError(f"the venue is closed then: {self.closed_reason}")
        if escorts and waitlist:
            raise StudyTourWaitlistError(
                "a study tour that needs volunteer escorts takes free places only: "
                "book it without the waitlist"
            )
        if head_count <= self.places_left and not self.waitlist:
            status = "awaiting-escorts" if escorts else self._held_status
            self._booked(
                booking_id=booking_id,
                school_id=school_id,
                head_count=head_count,
                age=age,
                teachers=teachers,
                from_waitlist=False,
                places_left=self.places_left - head_count,
                status=status,
                series_id=series_id,
                escorts=escorts,
                **self._common(),
            )
            return status
        if not waitlist:
            raise SlotFullError(
                f"{self.places_left} places left on this slot, {head_count} asked for"
                + (f"; {len(self.waitlist)} waiting before" if self.waitlist else "")
            )
        self._waitlisted(
            booking_id=booking_id,
            school_id=school_id,
            head_count=head_count,
            age=age,
            teachers=teachers,
            position=len(self.waitlist) + 1,
            **self._common(),
        )
        return "waitlisted"

    @property
    def _held_status(self) -> str:
        """What places taken on this slot are: provisional where the venue approves them."""
        return "requested" if self.requires_approval else "booked"

    @event("Booked")
    def _booked(
        self,
        booking_id: str,
        school_id: str,
        head_count: int,
        age: int,
        teachers: int,
        from_waitlist: bool,
        places_left: int,
        status: str,
        venue_id: str,
        starts_at: datetime,
        ends_at: datetime,
        capacity: int,
        series_id: str | None = None,
        escorts: int = 0,
    ) -> None:
        if from_waitlist:
            self.waitlist.remove(booking_id)
            self.bookings[booking_id]["status"] = status
        else:
            self.bookings[booking_id] = {
                "school_id": school_id,
                "head_count": head_count,
                "age": age,
                "teachers": teachers,
                "status": status,
                "escorts": escorts,
            }

    def confirm_escorts(self, booking_id: str, shift_id: str) -> bool:
        """The study tour's escorts signed up: its places hold; False if it no longer waits
        (released at its deadline, or cancelled, before the news arrived)."""
        booking = self.booking(booking_id)
        if booking["status"] != "awaiting-escorts":
            return False
        self._escorts_found(
            booking_id=booking_id,
            school_id=booking["school_id"],
            shift_id=shift_id,
            status=self._held_status,
            venue_id=str(self.venue_id),
        )
        return True

    @event("EscortsFound")
    def _escorts_found(
        self, booking_id: str, school_id: str, shift_id: str, status: str, venue_id: str
    ) -> None:
        self.bookings[booking_id] |= {"status": status, "escort_shift_id": shift_id}

    def release_unescorted(self, booking_id: str, detail: str) -> list[str]:
        """No escorts by the deadline: the study tour's places go back (the school told why),
        and the waitlisted bookings they fit are booked, in order."""
        booking = self.booking(booking_id)
        if booking["status"] != "awaiting-escorts":
            raise BookingStateError(
                f"only a study tour awaiting escorts is released (this one is {booking['status']})"
            )
        self._cancelled(
            booking_id=booking_id,
            school_id=booking["school_id"],
            reason="escorts-not-found",
            detail=detail,
            places_left=self.places_left + booking["head_count"],
            **self._common(),
        )
        return self.promote()

    def approve(self, booking_id: str) -> None:
        booking = self._requested(booking_id)
        self._approved(
            booking_id=booking_id, school_id=booking["school_id"], venue_id=str(self.venue_id)
        )

    @event("Approved")
    def _approved(self, booking_id: str, school_id: str, venue_id: str) -> None:
        self.bookings[booking_id]["status"] = "booked"

    def decline(self, booking_id: str, reason: str) -> list[str]:
        """Decline a requested booking; the waitlisted bookings its places go to, in order."""
        booking = self._requested(booking_id)
        self._declined(
            booking_id=booking_id,
            school_id=booking["school_id"],
            reason=reason,
            places_left=self.places_left + booking["head_count"],
            venue_id=str(self.venue_id),
        )
        return self.promote()

    @event("Declined")
    def _declined(
        self, booking_id: str, school_id: str, reason: str, places_left: int, venue_id: str
    ) -> None:
        self.bookings[booking_id] |= {"status": "declined", "reason": reason}

    def _requested(self, booking_id: str) -> dict[str, Any]:
        booking = self.booking(booking_id)
        if booking["status"] != "requested":
            raise BookingStateError(
                f"only a requested booking is approved or declined (this one is "
                f"{booking['status']})"
            )
        return booking

    @event("Waitlisted")
    def _waitlisted(
        self,
        booking_id: str,
        school_id: str,
        head_count: int,
        age: int,
        teachers: int,
        position: int,
        venue_id: str,
        starts_at: datetime,
        ends_at: datetime,
        capacity: int,
    ) -> None:
        self.bookings[booking_id] = {
            "school_id": school_id,
            "head_count": head_count,
            "age": age,
            "teachers": teachers,
            "status": "waitlisted",
        }
        self.waitlist.append(booking_id)

    def cancel(self, booking_id: str, now: datetime) -> list[str]:
        """Cancel a booking or waitlist entry; the waitlisted bookings it books, in order."""
        booking = self.booking(booking_id)
        if booking["status"] not in OPEN:
            raise BookingStateError(f"a {booking['status']} booking cannot be cancelled")
        if now >= self.starts_at:
            raise NoticeTooShortError("the visit has begun: it cannot be cancelled any more")
        self._cancelled(
            booking_id=booking_id,
            school_id=booking["school_id"],
            reason="school-cancelled",
            detail="",
            places_left=self.places_left
            + (booking["head_count"] if booking["status"] in HOLDING else 0),
            **self._common(),
        )
        return self.promote()

    def promote(self) -> list[str]:
        """Book waitlisted schools in order while the next one's group fits."""
        promoted: list[str] = []
        while self.waitlist and self.closed_reason is None:
            booking_id = self.waitlist[0]
            booking = self.bookings[booking_id]
            if booking["head_count"] > self.places_left:
                break  # In order: nobody jumps the school whose turn it is.
            self._booked(
                booking_id=booking_id,
                school_id=booking["school_id"],
                head_count=booking["head_count"],
                age=booking["age"],
                teachers=booking["teachers"],
                from_waitlist=True,
                places_left=self.places_left - booking["head_count"],
                status=self._held_status,
                **self._common(),
            )
            promoted.append(booking_id)
        return promoted

    @event("Cancelled")
    def _cancelled(
        self,
        booking_id: str,
        school_id: str,
        reason: str,
        detail: str,
        places_left: int,
        venue_id: str,
        starts_at: datetime,
        ends_at: datetime,
        capacity: int,
    ) -> None:
        booking = self.bookings[booking_id]
        if booking["status"] == "waitlisted":
            self.waitlist.remove(booking_id)
        booking["status"] = "cancelled"
        booking["reason"] = reason

    def close(self, reason: str) -> list[dict[str, Any]]:
        """Close the slot for a blackout: every booking and waitlist entry is cancelled."""
        cancelled: list[dict[str, Any]] = []
        for booking_id, booking in list(self.bookings.items()):
            if booking["status"] not in OPEN:
                continue
            freed = booking["head_count"] if booking["status"] in HOLDING else 0
            self._cancelled(
                booking_id=booking_id,
                school_id=booking["school_id"],
                reason="venue-closed",
                detail=reason,
                places_left=self.places_left + freed,
                **self._common(),
            )
            cancelled.append({"booking_id": booking_id, "school_id": booking["school_id"]})
        if self.closed_reason is None:
            self._slot_closed(reason=reason)
        return cancelled

    @event("SlotClosed")
    def _slot_closed(self, reason: str) -> None:
        self.closed_reason = reason

    def check_in(self, booking_id: str, head_count: int, at: datetime) -> None:
        booking = self.booking(booking_id)
        if booking["status"] != "booked":
            raise BookingStateError(
                f"only a booked visit checks in (this one is {booking['status']})"
            )
        self._check_head_count(booking, head_count)
        if not self.starts_at - timedelta(hours=2) <= at <= self.ends_at:
            raise InvalidTimeError("check-in falls between two hours before the slot and its end")
        self._checked_in(
            booking_id=booking_id, school_id=booking["school_id"], head_count=head_count, at=at,
            venue_id=str(self.venue_id),
        )  # fmt: skip

    @event("CheckedIn")
    def _checked_in(
        self, booking_id: str, school_id: str, head_count: int, at: datetime, venue_id: str
    ) -> None:
        self.bookings[booking_id] |= {"status": "checked-in", "arrived": head_count}

    def complete(self, booking_id: str, head_count: int, rating: int, at: datetime) -> None:
        booking = self.booking(booking_id)
        if booking["status"] != "checked-in":
            raise BookingStateError(
                f"only a checked-in visit completes (this one is {booking['status']})"
            )
        self._check_head_count(booking, head_count)
        if at < self.starts_at:
            raise InvalidTimeError("a visit completes after its slot began")
        self._completed(
            booking_id=booking_id,
            school_id=booking["school_id"],
            head_count=head_count,
            rating=rating,
            at=at,
            venue_id=str(self.venue_id),
        )

    @event("Completed")
    def _completed(
        self,
        booking_id: str,
        school_id: str,
        head_count: int,
        rating: int,
        at: datetime,
        venue_id: str,
    ) -> None:
        self.bookings[booking_id] |= {
            "status": "completed",
            "attended": head_count,
            "rating": rating,
        }

    @staticmethod
    def _check_head_count(booking: dict[str, Any], head_count: int) -> None:
        if head_count > booking["head_count"]:
            raise HeadCountError(
                f"{head_count} children counted, but the booking is for {booking['head_count']}"
            )

    def release_no_shows(self, now: datetime) -> list[dict[str, Any]]:
        """Release the places of groups that have not arrived by the grace time."""
        if now < self.starts_at + NO_SHOW_GRACE:
            raise InvalidTimeError("no-shows are released from 30 minutes after the slot starts")
        released = []
        for booking_id, booking in list(self.bookings.items()):
            if booking["status"] != "booked":
                continue
            self._released(
                booking_id=booking_id,
                school_id=booking["school_id"],
                at=now,
                places_left=self.places_left + booking["head_count"],
                venue_id=str(self.venue_id),
            )
            released.append({"booking_id": booking_id, "school_id": booking["school_id"]})
        return released

    @event("Released")
    def _released(
        self, booking_id: str, school_id: str, at: datetime, places_left: int, venue_id: str
    ) -> None:
        self.bookings[booking_id]["status"] = "no-show"


class Quota(Aggregate):
    """The bookings one school holds at one venue in one term, against the venue's quota."""

    @event("Started")
    def __init__(self, venue_id: UUID, school_id: str, term: str) -> None:
        self.venue_id = venue_id
        self.school_id = school_id
        self.term = term
        self.held: list[str] = []

    @staticmethod
    def create_id(venue_id: UUID, school_id: str, term: str) -> UUID:
        return quota_id(venue_id, school_id, term)

    def take(self, booking_id: str, limit: int) -> None:
        if len(self.held) >= limit:
            raise QuotaReachedError(
                f"school {self.school_id} already holds {len(self.held)} of its {limit} "
                f"bookings at this venue in the {self.term} term"
            )
        self._taken(booking_id=booking_id)

    @event("Taken")
    def _taken(self, booking_id: str) -> None:
        self.held.append(booking_id)

    def give_back(self, booking_id: str) -> None:
        if booking_id in self.held:
            self._given_back(booking_id=booking_id)

    @event("GivenBack")
    def _given_back(self, booking_id: str) -> None:
        self.held.remove(booking_id)


class StudyTour(Aggregate):
    """A study tour waiting for its volunteer escorts: the process across the two services.

    Requesting escorts is published (the volunteers service opens a child-facing shift)
    and schedules the kit's deadline `escorts-due`; the shift filling confirms the tour
    and cancels it; the deadline falling due first releases the booking. Either way once.
    """

    @event("EscortsRequested")
    def __init__(
        self,
        booking_id: str,
        slot_id: str,
        venue_id: str,
        venue_name: str,
        school_id: str,
        starts_at: datetime,
        ends_at: datetime,
        head_count: int,
        age: int,
        escorts: int,
        due_at: datetime,
    ) -> None:
        self.booking_id = booking_id
        self.slot_id = slot_id
        self.venue_id = venue_id
        self.school_id = school_id
        self.starts_at = starts_at
        self.escorts = escorts
        self.due_at = due_at
        self.status = "waiting"
        self.shift_id: str | None = None

    @staticmethod
    def create_id(booking_id: str, **_: Any) -> UUID:
        return study_tour_id(booking_id)

    @property
    def waiting(self) -> bool:
        return self.status == "waiting"

    @event("Confirmed")
    def confirm(self, shift_id: str) -> None:
        self.status = "confirmed"
        self.shift_id = shift_id

    @event("Released")
    def release(self) -> None:
        self.status = "released"

    @event("Dropped")
    def drop(self, reason: str) -> None:
        """The booking was cancelled otherwise (by its school, by a closure)."""
        self.status = "dropped"
