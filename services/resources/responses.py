"""What the resources API answers, as documented in its OpenAPI and checked on the way out."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.kit.commands import Answer

BookingStatus = Literal[
    "requested",
    "awaiting-escorts",
    "booked",
    "waitlisted",
    "declined",
    "cancelled",
    "checked-in",
    "completed",
    "no-show",
]


class VenueRegistered(Answer):
    venue_id: str
    version: int


class CancelledBooking(Answer):
    booking_id: str
    school_id: str = Field(description="The school told of the cancellation.")
    slot_id: str | None = None


class VenueClosed(Answer):
    venue_id: str
    slots_closed: int = Field(description="Slots of the venue inside the closure.")
    cancelled: list[CancelledBooking] = Field(description="Bookings cancelled by the closure.")
    version: int


class BookingChanged(Answer):
    booking_id: str
    slot_id: str = Field(description="The slot's id: use it to cancel, check in, complete.")
    venue_id: str
    starts_at: str
    status: BookingStatus
    places_left: int = Field(description="Places left on the slot after the command.")
    waitlisted: int = Field(description="Bookings waiting for places on the slot.")
    booked_from_waitlist: list[str] | None = Field(
        default=None, description="Waitlisted bookings this cancellation booked, in order."
    )
    version: int = Field(description="The slot's version after the command.")
    escorts: int | None = Field(
        default=None, description="Volunteer escorts the study tour waits for."
    )
    escorts_due_at: str | None = Field(
        default=None, description="By when they must sign up, or the booking is released."
    )


class SeriesBooked(Answer):
    series_id: str = Field(description="The weekly series.")
    bookings: list[BookingChanged] = Field(description="One booking per week, in order.")


class NoShowsReleased(Answer):
    slot_id: str
    released: list[CancelledBooking]
    places_left: int
    version: int


class OpeningHoursView(Answer):
    weekday: int
    opens: str
    closes: str


class ClosureView(Answer):
    starts_at: str
    ends_at: str
    reason: str


class VenueView(Answer):
    venue_id: str
    name: str
    kind: str
    district: str
    address: str
    latitude: float
    longitude: float
    owner: str
    lists: list[str]
    heritage: bool
    capacity: int
    slot_minutes: int
    buffer_minutes: int = 0
    opening_hours: list[OpeningHoursView]
    age_min: int
    age_max: int
    quota_per_term: int | None
    min_notice_hours: int
    accessible: bool
    requires_approval: bool
    closures: list[ClosureView]
    version: int


class BookingView(Answer):
    booking_id: str
    school_id: str
    head_count: int
    age: int
    teachers: int
    status: BookingStatus
    arrived: int | None = None
    attended: int | None = None
    rating: int | None = None
    reason: str | None = Field(default=None, description="Why it was cancelled.")
    escorts: int | None = Field(
        default=None, description="Volunteer escorts the study tour needs (0: none)."
    )
    escort_shift_id: str | None = Field(
        default=None, description="The volunteers' escort shift that filled for it."
    )


class SlotView(Answer):
    slot_id: str
    venue_id: str
    starts_at: str
    ends_at: str
    capacity: int
    places_left: int
    closed: bool
    waitlist: list[str] = Field(description="Waitlisted bookings, next first.")
    bookings: list[BookingView] | None = Field(
        default=None, description="The bookings; for staff, only their schools' ones."
    )
    version: int
