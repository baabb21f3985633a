"""Domain events -> published contract events (one function per event).

Slot openings and quota bookkeeping stay inside the service: partners see venues,
closures and what happens to each booking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import resources as published
from contracts.events import ContractEvent


def _venue_registered(e: Any) -> ContractEvent:
    return published.VenueRegistered(
        venue_id=str(e.originator_id),
        name=e.name,
        kind=e.kind,
        district=e.district,
        address=e.address,
        latitude=e.latitude,
        longitude=e.longitude,
        owner=e.owner,
        lists=e.lists,
        heritage=e.heritage,
        capacity=e.capacity,
        slot_minutes=e.slot_minutes,
        buffer_minutes=getattr(e, "buffer_minutes", 0),
        opening_hours=[published.OpeningHours(**h) for h in e.opening_hours],
        age_min=e.age_min,
        age_max=e.age_max,
        quota_per_term=e.quota_per_term,
        min_notice_hours=e.min_notice_hours,
        accessible=e.accessible,
        registered_at=e.registered_at,
        requires_approval=e.requires_approval,
    )


def _venue_closed(e: Any) -> ContractEvent:
    return published.VenueClosed(
        venue_id=str(e.originator_id), starts_at=e.starts_at, ends_at=e.ends_at, reason=e.reason
    )


def _slot_fields(e: Any) -> dict[str, Any]:
    return {"slot_id": str(e.originator_id), "venue_id": e.venue_id, "booking_id": e.booking_id}


def _booked(e: Any) -> ContractEvent:
    return published.VisitBooked(
        **_slot_fields(e),
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        capacity=e.capacity,
        school_id=e.school_id,
        head_count=e.head_count,
        age=e.age,
        teachers=e.teachers,
        from_waitlist=e.from_waitlist,
        places_left=e.places_left,
        approved=e.status == "booked",
        series_id=getattr(e, "series_id", None),
        awaiting_escorts=e.status == "awaiting-escorts",
    )


def _waitlisted(e: Any) -> ContractEvent:
    return published.VisitWaitlisted(
        **_slot_fields(e),
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        capacity=e.capacity,
        school_id=e.school_id,
        head_count=e.head_count,
        age=e.age,
        teachers=e.teachers,
        position=e.position,
    )


def _cancelled(e: Any) -> ContractEvent:
    return published.VisitCancelled(
        **_slot_fields(e),
        starts_at=e.starts_at,
        school_id=e.school_id,
        reason=e.reason,
        detail=e.detail,
        places_left=e.places_left,
    )


def _approved(e: Any) -> ContractEvent:
    return published.VisitApproved(**_slot_fields(e), school_id=e.school_id)


def _declined(e: Any) -> ContractEvent:
    return published.VisitDeclined(
        **_slot_fields(e), school_id=e.school_id, reason=e.reason, places_left=e.places_left
    )


def _checked_in(e: Any) -> ContractEvent:
    return published.VisitCheckedIn(
        **_slot_fields(e), school_id=e.school_id, head_count=e.head_count, at=e.at
    )


def _completed(e: Any) -> ContractEvent:
    return published.VisitCompleted(
        **_slot_fields(e),
        school_id=e.school_id,
        head_count=e.head_count,
        rating=e.rating,
        at=e.at,
    )


def _released(e: Any) -> ContractEvent:
    return published.VisitReleased(
        **_slot_fields(e), school_id=e.school_id, at=e.at, places_left=e.places_left
    )


def _escorts_requested(e: Any) -> ContractEvent:
    return published.EscortsRequested(
        booking_id=e.booking_id,
        slot_id=e.slot_id,
        venue_id=e.venue_id,
        venue_name=e.venue_name,
        school_id=e.school_id,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        head_count=e.head_count,
        age=e.age,
        escorts=e.escorts,
        due_at=e.due_at,
    )


def _escorts_found(e: Any) -> ContractEvent:
    return published.StudyTourConfirmed(
        **_slot_fields(e),
        school_id=e.school_id,
        shift_id=e.shift_id,
        approved=e.status == "booked",
    )


# Keyed by the domain event's qualified name: the @event decorator defines the classes.
TRANSLATIONS: dict[str, Callable[[Any], ContractEvent]] = {
    "Venue.Registered": _venue_registered,
    "Venue.Closed": _venue_closed,
    "Slot.Booked": _booked,
    "Slot.Waitlisted": _waitlisted,
    "Slot.Cancelled": _cancelled,
    "Slot.Approved": _approved,
    "Slot.Declined": _declined,
    "Slot.CheckedIn": _checked_in,
    "Slot.Completed": _completed,
    "Slot.Released": _released,
    "Slot.EscortsFound": _escorts_found,
    "StudyTour.EscortsRequested": _escorts_requested,
}


def translate(domain_event: Any) -> ContractEvent | None:
    """The contract event to publish for a domain event, or None (not published)."""
    translation = TRANSLATIONS.get(type(domain_event).__qualname__)
    return translation(domain_event) if translation else None
