"""ResourcesApplication: one method per command, each deciding on fresh state.

A booking's decision reads the venue (hours, closures, capacity, rules), then changes its
slot and, where the venue has a quota, the school's quota for the term; both are saved
in one transaction, and `run_command` decides again when a concurrent save won.

Commands on one slot also queue for it inside the process: dozens of schools racing for
the last places of a popular slot would otherwise spend their retry budget losing the
same version race again and again. Across replicas the version check still decides.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from services.kit.application import CommandKey, ServiceApplication
from services.kit.errors import NotFoundError
from services.resources.domain import Quota, Slot, Venue, local, quota_id, slot_id, term_of

# Commands on a slot queue under one of this many locks (by slot id).
SLOT_LOCK_STRIPES = 64


class ResourcesApplication(ServiceApplication):
    name = "resources"

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self._slot_locks = [threading.Lock() for _ in range(SLOT_LOCK_STRIPES)]

    def _on_slot(
        self,
        slot: UUID,
        key: CommandKey | None,
        decide: Callable[[], tuple[Sequence[Aggregate], dict[str, Any]]],
    ) -> dict[str, Any]:
        """`run_command`, one command at a time per slot in this process."""
        with self._slot_locks[hash(slot) % SLOT_LOCK_STRIPES]:
            return self.run_command(key, decide)

    # Queries.
    def venue(self, venue_id: UUID) -> Venue:
        return self.get(venue_id, Venue)

    def slot(self, slot_id: UUID) -> Slot:
        return self.get(slot_id, Slot)

    def _slot_of(self, venue: Venue, starts_at: datetime, ends_at: datetime) -> Slot:
        try:
            return self.slot(slot_id(venue.id, starts_at))
        except NotFoundError:
            return Slot(
                venue_id=venue.id,
                starts_at=starts_at,
                ends_at=ends_at,
                capacity=venue.capacity,
                requires_approval=venue.requires_approval,
            )

    def _quota_of(self, venue_id: UUID, school_id: str, term: str) -> Quota:
        try:
            found: Quota = self.get(quota_id(venue_id, school_id, term), Quota)
            return found
        except NotFoundError:
            return Quota(venue_id=venue_id, school_id=school_id, term=term)

    # Commands.
    def register_venue(self, key: CommandKey | None, **fields: Any) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            venue = Venue.register(**fields)
            return [venue], {"venue_id": str(venue.id), "version": venue.version}

        return self.run_command(key, decide)

    def close_venue(
        self,
        key: CommandKey | None,
        venue_id: UUID,
        *,
        starts_at: datetime,
        ends_at: datetime,
        reason: str,
    ) -> dict[str, Any]:
        """Close the venue for a period: every slot in it is closed (created if need be, so
        that a booking racing the closure conflicts with it) and its bookings cancelled."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            venue = self.venue(venue_id)
            venue.close(starts_at, ends_at, reason)
            slots: list[Slot] = []
            quotas: dict[UUID, Quota] = {}
            told: list[dict[str, Any]] = []
            for start in venue.slot_starts_between(local(starts_at), local(ends_at)):
                slot = self._slot_of(venue, start, venue.check_slot(start))
                slots.append(slot)
                for booking in slot.close(reason):
                    self._give_back(
                        venue, slot, booking["school_id"], booking["booking_id"], quotas
                    )
                    told.append(booking | {"slot_id": str(slot.id)})
            response = {
                "venue_id": str(venue_id),
                "slots_closed": len(slots),
                "cancelled": told,
                "version": venue.version,
            }
            return [venue, *slots, *quotas.values()], response

        return self.run_command(key, decide)

    def book_visit(
        self,
        key: CommandKey | None,
        venue_id: UUID,
        *,
        starts_at: datetime,
        school_id: str,
        head_count: int,
        age: int,
        teachers: int,
        waitlist: bool,
        now: datetime,
    ) -> dict[str, Any]:
        booking_id = str(uuid4())

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            venue = self.venue(venue_id)
            start = local(starts_at)
            ends_at = venue.check_booking(start, head_count, age, now)
            slot = self._slot_of(venue, start, ends_at)
            changed: list[Aggregate] = [slot]
            if venue.quota_per_term is not None:
                quota = self._quota_of(venue.id, school_id, term_of(start.date()))
                quota.take(booking_id, venue.quota_per_term)
                changed.append(quota)
            status = slot.book(
                booking_id,
                school_id=school_id,
                head_count=head_count,
                age=age,
                teachers=teachers,
                waitlist=waitlist,
            )
            response = _booking_response(slot, booking_id) | {"status": status}
            return changed, response

        return self._on_slot(slot_id(venue_id, local(starts_at)), key, decide)

    def book_series(
        self,
        key: CommandKey | None,
        venue_id: UUID,
        *,
        starts_at: datetime,
        weeks: int,
        school_id: str,
        head_count: int,
        age: int,
        teachers: int,
        now: datetime,
    ) -> dict[str, Any]:
        """Book the same slot `weeks` weeks running: every visit, or none (no waitlist)."""
        series_id = str(uuid4())
        booking_ids = [str(uuid4()) for _ in range(weeks)]

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            venue = self.venue(venue_id)
            slots: list[Slot] = []
            quotas: dict[str, Quota] = {}
            visits = []
            for week, booking_id in enumerate(booking_ids):
                # The same local time each week, whatever the calendar does in between.
                start = local(starts_at) + timedelta(weeks=week)
                ends_at = venue.check_booking(start, head_count, age, now)
                slot = self._slot_of(venue, start, ends_at)
                if venue.quota_per_term is not None:
                    term = term_of(start.date())
                    if term not in quotas:
                        quotas[term] = self._quota_of(venue.id, school_id, term)
                    quotas[term].take(booking_id, venue.quota_per_term)
                status = slot.book(
                    booking_id,
                    school_id=school_id,
                    head_count=head_count,
                    age=age,
                    teachers=teachers,
                    waitlist=False,
                    series_id=series_id,
                )
                slots.append(slot)
                visits.append(_booking_response(slot, booking_id) | {"status": status})
            response = {"series_id": series_id, "bookings": visits}
            return [*slots, *quotas.values()], response

        return self.run_command(key, decide)

    def cancel_visit(
        self, key: CommandKey | None, slot_id: UUID, booking_id: str, now: datetime
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            slot = self.slot(slot_id)
            venue = self.venue(slot.venue_id)
            school_id = slot.booking(booking_id)["school_id"]
            promoted = slot.cancel(booking_id, now)
            quotas: dict[UUID, Quota] = {}
            self._give_back(venue, slot, school_id, booking_id, quotas)
            changed: list[Aggregate] = [slot, *quotas.values()]
            response = _booking_response(slot, booking_id) | {
                "status": "cancelled",
                "booked_from_waitlist": promoted,
            }
            return changed, response

        return self._on_slot(slot_id, key, decide)

    def approve_visit(
        self, key: CommandKey | None, slot_id: UUID, booking_id: str
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            slot = self.slot(slot_id)
            slot.approve(booking_id)
            return [slot], _booking_response(slot, booking_id) | {"status": "booked"}

        return self._on_slot(slot_id, key, decide)

    def decline_visit(
        self, key: CommandKey | None, slot_id: UUID, booking_id: str, reason: str
    ) -> dict[str, Any]:
        """Decline a requested booking: its places and its quota go back, the queue moves."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            slot = self.slot(slot_id)
            venue = self.venue(slot.venue_id)
            school_id = slot.booking(booking_id)["school_id"]
            promoted = slot.decline(booking_id, reason)
            quotas: dict[UUID, Quota] = {}
            self._give_back(venue, slot, school_id, booking_id, quotas)
            response = _booking_response(slot, booking_id) | {
                "status": "declined",
                "booked_from_waitlist": promoted,
            }
            return [slot, *quotas.values()], response

        return self._on_slot(slot_id, key, decide)

    def _give_back(
        self,
        venue: Venue,
        slot: Slot,
        school_id: str,
        booking_id: str,
        quotas: dict[UUID, Quota],
    ) -> None:
        """Give the booking's place in its school's quota back (each quota loaded once)."""
        if venue.quota_per_term is None:
            return
        term = term_of(local(slot.starts_at).date())
        found = quota_id(venue.id, school_id, term)
        if found not in quotas:
            quotas[found] = self._quota_of(venue.id, school_id, term)
        quotas[found].give_back(booking_id)

    def check_in(
        self,
        key: CommandKey | None,
        slot_id: UUID,
        booking_id: str,
        head_count: int,
        at: datetime,
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            slot = self.slot(slot_id)
            slot.check_in(booking_id, head_count, at)
            return [slot], _booking_response(slot, booking_id) | {"status": "checked-in"}

        return self._on_slot(slot_id, key, decide)

    def complete_visit(
        self,
        key: CommandKey | None,
        slot_id: UUID,
        booking_id: str,
        *,
        head_count: int,
        rating: int,
        at: datetime,
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            slot = self.slot(slot_id)
            slot.complete(booking_id, head_count, rating, at)
            return [slot], _booking_response(slot, booking_id) | {"status": "completed"}

        return self._on_slot(slot_id, key, decide)

    def release_no_shows(
        self, key: CommandKey | None, slot_id: UUID, now: datetime
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            slot = self.slot(slot_id)
            released = slot.release_no_shows(now)
            response = {
                "slot_id": str(slot_id),
                "released": released,
                "places_left": slot.places_left,
                "version": slot.version,
            }
            return [slot], response

        return self._on_slot(slot_id, key, decide)


def _booking_response(slot: Slot, booking_id: str) -> dict[str, Any]:
    return {
        "booking_id": booking_id,
        "slot_id": str(slot.id),
        "venue_id": str(slot.venue_id),
        "starts_at": slot.starts_at.isoformat(),
        "places_left": slot.places_left,
        "waitlisted": len(slot.waitlist),
        "version": slot.version,
    }
