"""ResourcesApplication: one method per command, each deciding on fresh state.

A booking's decision reads the venue (hours, closures, capacity, rules), then changes its
slot and, where the venue has a quota, the school's quota for the term; both are saved
in one transaction, and `run_command` decides again when a concurrent save won.

Commands on one slot also queue for it inside the process: dozens of schools racing for
the last places of a popular slot would otherwise spend their retry budget losing the
same version race again and again. Across replicas the version check still decides.

A study tour that needs escorts is a process with the volunteers service, by events and
the kit's deadlines only: booking it requests escorts (a `StudyTour`, which schedules
`escorts-due`); the volunteers' escort shift filling confirms it (`escorts_found`, a
reaction); the deadline falling due first releases it (`release_study_tour`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking

from contracts.science import ScienceVenuePublished
from contracts.volunteers import EscortShiftFilled
from services.kit.application import CommandKey, ServiceApplication
from services.kit.deadlines import Cancel, Deadline, DeadlineRules, Schedule
from services.kit.deadlines.model import Change
from services.kit.errors import DomainError, NotFoundError
from services.resources.domain import (
    ESCORTED_NOTICE,
    ESCORTS_DUE_BEFORE,
    NoticeTooShortError,
    Quota,
    Slot,
    StudyTour,
    Venue,
    escorts_for,
    local,
    quota_id,
    slot_id,
    study_tour_id,
    term_of,
    venue_id_of,
)

log = logging.getLogger(__name__)
# The department whose own system publishes science venues through the ingest.
SCIENCE_OWNER = "sci"

# Commands on a slot queue under one of this many locks (by slot id).
SLOT_LOCK_STRIPES = 64
# The deadline by which a study tour's escorts must have signed up.
ESCORTS_DUE = "escorts-due"
# A reaction losing a version race to a command on the same slot decides again this often.
REACTION_ATTEMPTS = 5


def _escorts_due(e: Any) -> Iterable[Change]:
    return [Schedule(ESCORTS_DUE, e.due_at)]


def _escorts_moot(_: Any) -> Iterable[Change]:
    return [Cancel(ESCORTS_DUE)]


class ResourcesApplication(ServiceApplication):
    name = "resources"
    deadlines = DeadlineRules(
        rules={
            "StudyTour.EscortsRequested": _escorts_due,
            "StudyTour.Confirmed": _escorts_moot,
            "StudyTour.Dropped": _escorts_moot,
        },
        handlers={ESCORTS_DUE: "release_study_tour"},
    )

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self._slot_locks = [threading.Lock() for _ in range(SLOT_LOCK_STRIPES)]

    def _on_slot(
        self,
        slot: UUID,
        key: CommandKey | None,
        decide: Callable[[], tuple[Sequence[Aggregate], dict[str, Any]]],
        fired: Deadline | None = None,
    ) -> dict[str, Any]:
        """`run_command`, one command at a time per slot in this process."""
        with self._slot_locks[hash(slot) % SLOT_LOCK_STRIPES]:
            return self.run_command(key, decide, fired=fired)

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

    def study_tour(self, booking_id: str) -> StudyTour:
        found: StudyTour = self.get(study_tour_id(booking_id), StudyTour)
        return found

    def _drop_study_tour(self, booking: dict[str, Any], booking_id: str) -> list[StudyTour]:
        """A study tour cancelled while it waits for escorts: its deadline is moot."""
        if booking.get("escorts", 0) == 0:
            return []
        tour = self.study_tour(booking_id)
        if not tour.waiting:
            return []
        tour.drop(reason=booking.get("reason", "cancelled"))
        return [tour]

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
            tours: list[StudyTour] = []
            told: list[dict[str, Any]] = []
            for start in venue.slot_starts_between(local(starts_at), local(ends_at)):
                slot = self._slot_of(venue, start, venue.check_slot(start))
                slots.append(slot)
                for booking in slot.close(reason):
                    self._give_back(
                        venue, slot, booking["school_id"], booking["booking_id"], quotas
                    )
                    tours += self._drop_study_tour(
                        slot.bookings[booking["booking_id"]], booking["booking_id"]
                    )
                    told.append(booking | {"slot_id": str(slot.id)})
            response = {
                "venue_id": str(venue_id),
                "slots_closed": len(slots),
                "cancelled": told,
                "version": venue.version,
            }
            return [venue, *slots, *quotas.values(), *tours], response

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
        study_tour: bool = False,
    ) -> dict[str, Any]:
        """Book a visit; a study tour of more than ESCORTS_ABOVE children also requests its
        volunteer escorts, and holds its places provisionally until they sign up."""
        booking_id = str(uuid4())
        escorts = escorts_for(head_count) if study_tour else 0

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            venue = self.venue(venue_id)
            start = local(starts_at)
            ends_at = venue.check_booking(start, head_count, age, now)
            if escorts and start - now < ESCORTED_NOTICE:
                raise NoticeTooShortError(
                    f"a study tour of {head_count} children needs volunteer escorts: book it "
                    f"at least {ESCORTED_NOTICE.days} days ahead"
                )
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
                escorts=escorts,
            )
            response = _booking_response(slot, booking_id) | {"status": status}
            if escorts:
                due_at = start - ESCORTS_DUE_BEFORE
                changed.append(
                    StudyTour(
                        booking_id=booking_id,
                        slot_id=str(slot.id),
                        venue_id=str(venue.id),
                        venue_name=venue.name,
                        school_id=school_id,
                        starts_at=start,
                        ends_at=ends_at,
                        head_count=head_count,
                        age=age,
                        escorts=escorts,
                        due_at=due_at,
                    )
                )
                response |= {"escorts": escorts, "escorts_due_at": due_at.isoformat()}
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
            tours = self._drop_study_tour(slot.bookings[booking_id], booking_id)
            changed: list[Aggregate] = [slot, *quotas.values(), *tours]
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

    # Venues other departments' systems publish.
    def register_science_venues(
        self, consumer: str, position: int, published: Sequence[ScienceVenuePublished]
    ) -> None:
        """Put the Science Association's published venues on the map, run by `sci`, with the
        consumer position, in one transaction. A venue already on the map (published again)
        is left as it is; one the map's rules refuse is logged and skipped."""
        venues: dict[UUID, Venue] = {}
        for item in published:
            venue_id = venue_id_of(SCIENCE_OWNER, item.venue_code)
            if venue_id in venues:
                continue
            try:
                self.venue(venue_id)
                continue
            except NotFoundError:
                pass
            fields = item.model_dump(exclude={"venue_code", "published_at"})
            try:
                venue = Venue.register(
                    **fields,
                    owner=SCIENCE_OWNER,
                    heritage=False,
                    quota_per_term=None,
                    registered_at=item.published_at,
                    source_code=item.venue_code,
                )
            except DomainError as exc:
                log.warning("science venue %s refused: %s", item.venue_code, exc)
                continue
            venues[venue.id] = venue
        self.save_tracked(Tracking(consumer, position), *venues.values())

    # The study tour's escorts.
    def escorts_found(
        self, consumer: str, position: int, filled: Sequence[EscortShiftFilled]
    ) -> None:
        """The volunteers' escort shifts filled: their study tours are confirmed (and their
        deadlines cancelled), with the consumer position, in one transaction. News of a tour
        released or cancelled meanwhile changes nothing; the position still advances."""
        for attempt in range(REACTION_ATTEMPTS):
            slots: dict[UUID, Slot] = {}
            tours: list[StudyTour] = []
            for news in filled:
                try:
                    tour = self.study_tour(news.booking_id)
                except NotFoundError:
                    continue
                if not tour.waiting:
                    continue
                slot_key = UUID(tour.slot_id)
                slot = slots.get(slot_key) or self.slot(slot_key)
                slots[slot_key] = slot
                if slot.confirm_escorts(news.booking_id, news.shift_id):
                    tour.confirm(shift_id=news.shift_id)
                    tours.append(tour)
            try:
                self.save_tracked(Tracking(consumer, position), *slots.values(), *tours)
                return
            except IntegrityError:
                if self.consumer_position(consumer) >= position:
                    return  # Applied already (a redelivery).
                if attempt == REACTION_ATTEMPTS - 1:
                    raise  # The consumer redelivers the batch later.

    def release_study_tour(self, deadline: Deadline) -> dict[str, Any]:
        """`escorts-due` fell due before the escorts signed up: the booking is released, the
        school told why (visit-cancelled, escorts-not-found), the places and the quota go
        back and the waitlist moves up; the volunteers close the shift on that news."""
        tour = self.get(deadline.owner_id, StudyTour)

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            fresh = self.get(deadline.owner_id, StudyTour)
            slot = self.slot(UUID(fresh.slot_id))
            venue = self.venue(slot.venue_id)
            due = local(fresh.due_at).strftime("%Y-%m-%d %H:%M")
            detail = (
                f"未招满护导志愿者 the study tour needed {fresh.escorts} volunteer escorts; "
                f"they had not all signed up by {due}"
            )
            promoted = slot.release_unescorted(fresh.booking_id, detail)
            fresh.release()
            quotas: dict[UUID, Quota] = {}
            self._give_back(venue, slot, fresh.school_id, fresh.booking_id, quotas)
            response = _booking_response(slot, fresh.booking_id) | {
                "status": "cancelled",
                "booked_from_waitlist": promoted,
            }
            return [slot, fresh, *quotas.values()], response

        key = CommandKey.of_deadline(deadline)
        return self._on_slot(UUID(tour.slot_id), key, decide, fired=deadline)


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
