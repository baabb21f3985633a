"""Domain events -> published contract events (one function per event).

Domain events stay private to the service; only what partners and other
boundaries may rely on is published, in the shape `contracts/` promises. Personal data
(names; `Volunteer.Renamed` as a whole) is never published.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import volunteers as published
from contracts.events import ContractEvent


def _registered(e: Any) -> ContractEvent:
    # The name stays here: readers ask the service for it (POST /volunteers/names).
    return published.VolunteerRegistered(
        volunteer_id=str(e.originator_id),
        kind=e.kind,
        school_id=e.school_id,
        registered_at=e.registered_at,
    )


def _erased(e: Any) -> ContractEvent:
    return published.VolunteerErased(volunteer_id=str(e.originator_id), erased_at=e.erased_at)


def _check_requested(e: Any) -> ContractEvent:
    return published.BackgroundCheckRequested(
        volunteer_id=str(e.originator_id), check_id=e.check_id, requested_at=e.requested_at
    )


def _check_recorded(e: Any) -> ContractEvent:
    return published.BackgroundCheckRecorded(
        volunteer_id=str(e.originator_id),
        check_id=e.check_id,
        outcome=e.outcome,
        expires_on=e.expires_on,
    )


def _shift_published(e: Any) -> ContractEvent:
    return published.ShiftPublished(
        shift_id=str(e.originator_id),
        school_id=e.school_id,
        post=e.post,
        title=e.title,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        capacity=e.capacity,
        child_facing=e.child_facing,
        booking_id=getattr(e, "booking_id", None),
    )


def _signed_up(e: Any) -> ContractEvent:
    return published.VolunteerSignedUp(
        shift_id=str(e.originator_id), volunteer_id=e.volunteer_id, places_filled=e.places_filled
    )


def _cancelled(e: Any) -> ContractEvent:
    return published.SignUpCancelled(
        shift_id=str(e.originator_id), volunteer_id=e.volunteer_id, places_filled=e.places_filled
    )


def _checked_in(e: Any) -> ContractEvent:
    return published.VolunteerCheckedIn(
        shift_id=str(e.originator_id), volunteer_id=e.volunteer_id, at=e.at
    )


def _checked_out(e: Any) -> ContractEvent:
    return published.VolunteerCheckedOut(
        shift_id=str(e.originator_id),
        school_id=e.school_id,
        volunteer_id=e.volunteer_id,
        at=e.at,
        hours=e.hours,
    )


def _filled(e: Any) -> ContractEvent:
    return published.EscortShiftFilled(
        shift_id=str(e.originator_id),
        booking_id=e.booking_id,
        school_id=e.school_id,
        escorts=e.escorts,
    )


def _closed(e: Any) -> ContractEvent:
    return published.ShiftClosed(
        shift_id=str(e.originator_id), booking_id=e.booking_id, reason=e.reason
    )


# Keyed by the domain event's qualified name: the @event decorator defines the classes.
TRANSLATIONS: dict[str, Callable[[Any], ContractEvent]] = {
    "Volunteer.Registered": _registered,
    "Volunteer.Erased": _erased,
    "Volunteer.BackgroundCheckRequested": _check_requested,
    "Volunteer.BackgroundCheckRecorded": _check_recorded,
    "Shift.Published": _shift_published,
    "Shift.SignedUp": _signed_up,
    "Shift.SignUpCancelled": _cancelled,
    "Shift.CheckedIn": _checked_in,
    "Shift.CheckedOut": _checked_out,
    "Shift.Filled": _filled,
    "Shift.Closed": _closed,
}


def translate(domain_event: Any) -> ContractEvent | None:
    """The contract event to publish for a domain event, or None (not published)."""
    translation = TRANSLATIONS.get(type(domain_event).__qualname__)
    return translation(domain_event) if translation else None
