"""VolunteersApplication: one method per command, each deciding on fresh state."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from threading import Lock
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Recorder,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

from contracts.checks import BackgroundCheckCompleted
from contracts.resources import EscortsRequested, VisitCancelled
from services.kit.application import CommandKey, ServiceApplication
from services.kit.commands import check_version
from services.kit.errors import DomainError, NotFoundError
from services.kit.privacy.datakeys import ERASED, Decrypted, PersonErasedError, is_token
from services.kit.privacy.personal import PersonalData, PersonErasedProblem
from services.volunteers.domain import Shift, Volunteer, escort_shift_id
from services.volunteers.roster import SchoolRoster

log = logging.getLogger(__name__)


NAME_FIELD = "display_name"


class UnknownCursorError(DomainError):
    """A cursor of a listing by name that names no volunteer of that school."""

    code = "invalid-cursor"


@dataclass(frozen=True)
class NamedPage:
    """A page of a school's volunteers by name: each one's card and name (or ERASED)."""

    entries: list[tuple[NameCard, Decrypted]]
    has_next: bool


@dataclass(frozen=True)
class NameCard:
    """A volunteer as a names lookup sees them: who, where, and the name as stored."""

    id: UUID
    school_id: str | None
    name_token: str
    erased: bool

    @classmethod
    def of(cls, volunteer: Volunteer) -> NameCard:
        return cls(volunteer.id, volunteer.school_id, volunteer.name_token, volunteer.erased)


class VolunteersApplication(ServiceApplication):
    name = "volunteers"
    # Set by the runtime (services.kit.runtime.ServiceParts), or by whoever builds the
    # application by hand: names are encrypted with it, and reads are logged in it.
    personal: PersonalData | None = None

    @property
    def privacy(self) -> PersonalData:
        if self.personal is None:
            raise RuntimeError("the volunteers application needs its PersonalData (personal)")
        return self.personal

    @cached_property
    def roster(self) -> SchoolRoster:
        recorder = self.recorder
        assert isinstance(recorder, ApplicationRecorder)
        return SchoolRoster(recorder, self.mapper.to_domain_event)

    # Queries.
    def volunteers_by_name(self, school_id: str, first: int, after: UUID | None) -> NamedPage:
        """A page of the school's volunteers sorted by name, after the volunteer `after`.

        Every name of the school is decrypted to sort them (their keys read in one query);
        only the page's leave. Erased volunteers come last, by id. The cursor is a volunteer
        id, not a name, so no name travels in a URL; a volunteer renamed between two pages
        moves, and the next page continues from where the cursor's volunteer sorts now.
        """
        cards = self.name_cards(self.roster.volunteers_at(school_id))
        named = list(zip(cards.values(), self.display_names(cards.values()), strict=True))
        named.sort(key=_by_name)
        start = 0
        if after is not None:
            at = next((i for i, (card, _) in enumerate(named) if card.id == after), None)
            if at is None:
                raise UnknownCursorError("the cursor names no volunteer of this school")
            start = at + 1
        return NamedPage(named[start : start + first], has_next=len(named) > start + first)

    def volunteer(self, volunteer_id: UUID) -> Volunteer:
        return self.get(volunteer_id, Volunteer)

    def name_cards(self, volunteer_ids: Collection[UUID]) -> dict[UUID, NameCard]:
        """What a names lookup needs of each volunteer among these ids, in two queries.

        Ids naming no volunteer are left out. `volunteer` per id asks the store for each
        one's newer events, a round trip per id, and copies the whole aggregate. Here one
        query finds every id's latest version; a cached aggregate already at it is read
        in place, and the others (not cached, or changed since) are rebuilt from their
        events, fetched together, and cached for the next page.
        """
        found: dict[UUID, NameCard] = {}
        missing: list[UUID] = []
        for volunteer_id, version in _latest_versions(self.recorder, volunteer_ids).items():
            card = self._cached_card(volunteer_id, version)
            if card is None:
                missing.append(volunteer_id)
            else:
                found[volunteer_id] = card
        for volunteer_id, stored in _stored_events(self.recorder, missing).items():
            aggregate = project_aggregate(None, map(self.mapper.to_domain_event, stored))
            if isinstance(aggregate, Volunteer):  # not another kind of aggregate
                self._cache(aggregate)
                found[volunteer_id] = NameCard.of(aggregate)
        return found

    def _load_lock(self, aggregate_id: UUID) -> Lock:
        # The lock `get` fast-forwards under: the cached aggregate is never read mid-update.
        return self._load_locks[hash(aggregate_id) % len(self._load_locks)]

    def _cached_card(self, volunteer_id: UUID, version: int) -> NameCard | None:
        cache = self.repository.cache
        if cache is None:
            return None
        with self._load_lock(volunteer_id):
            try:
                cached = cache.get(volunteer_id)
            except KeyError:
                return None
            if not isinstance(cached, Volunteer) or cached.version < version:
                return None
            return NameCard.of(cached)

    def _cache(self, volunteer: Volunteer) -> None:
        """Keep a rebuilt volunteer in the aggregate cache, unless it holds a newer one."""
        cache = self.repository.cache
        if cache is None:
            return
        with self._load_lock(volunteer.id):
            try:
                cached = cache.get(volunteer.id)
            except KeyError:
                cached = None
            if cached is None or cached.version < volunteer.version:
                cache.put(volunteer.id, volunteer)

    def display_names(self, cards: Iterable[NameCard]) -> list[Decrypted]:
        """The names of these volunteers, in order, their data keys read in one go."""
        cards = list(cards)
        self.privacy.keys.prefetch(
            card.name_token for card in cards if not card.erased and is_token(card.name_token)
        )
        return [self.display_name(card) for card in cards]

    def display_name(self, volunteer: Volunteer | NameCard) -> Decrypted:
        """The volunteer's name, or ERASED."""
        if volunteer.erased:
            return ERASED
        token = volunteer.name_token
        if not is_token(token):
            # Written before names were encrypted: the event holds the name itself.
            return token
        return self.privacy.keys.decrypt(token, field=NAME_FIELD, person_id=str(volunteer.id))

    def shift(self, shift_id: UUID) -> Shift:
        return self.get(shift_id, Shift)

    # Commands.
    def register_volunteer(
        self, key: CommandKey | None, *, display_name: str, kind: str, school_id: str | None
    ) -> dict[str, Any]:
        # The id comes first: the name is encrypted with the key of the person it names.
        volunteer_id = uuid4()
        token = self._encrypt_name(volunteer_id, display_name)

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            volunteer = Volunteer(
                id=volunteer_id,
                display_name=token,
                kind=kind,
                school_id=school_id,
                registered_at=datetime.now(UTC),
            )
            return [volunteer], {"volunteer_id": str(volunteer.id), "version": volunteer.version}

        return self.run_command(key, decide)

    def rename_volunteer(
        self, key: CommandKey | None, volunteer_id: UUID, display_name: str
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            volunteer = self.volunteer(volunteer_id)
            volunteer.refuse_if_erased()
            volunteer.rename(self._encrypt_name(volunteer_id, display_name))
            return [volunteer], {"volunteer_id": str(volunteer_id), "version": volunteer.version}

        return self.run_command(key, decide)

    def erase_volunteer(self, key: CommandKey | None, volunteer_id: UUID) -> dict[str, Any]:
        """Destroy the volunteer's data key, then record the erasure (published).

        The key goes first: should the event's save fail, a retry finds the key gone
        (erasing is idempotent) and records the event then. Their hours and places stay.
        """
        self.volunteer(volunteer_id)  # 404 before anything is destroyed
        self.privacy.keys.erase(str(volunteer_id))

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            volunteer = self.volunteer(volunteer_id)
            changed = volunteer.erase(datetime.now(UTC))
            assert volunteer.erased_at is not None
            response = {
                "volunteer_id": str(volunteer_id),
                "erased_at": volunteer.erased_at.isoformat(),
                "version": volunteer.version,
            }
            return ([volunteer] if changed else []), response

        return self.run_command(key, decide)

    def _encrypt_name(self, volunteer_id: UUID, display_name: str) -> str:
        try:
            return self.privacy.keys.encrypt(str(volunteer_id), NAME_FIELD, display_name)
        except PersonErasedError:
            raise PersonErasedProblem(
                "this volunteer's personal data was erased: no new personal data is kept for them"
            ) from None

    def request_background_check(
        self, key: CommandKey | None, volunteer_id: UUID
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            volunteer = self.volunteer(volunteer_id)
            check_id = f"chk-{uuid4()}"
            volunteer.request_background_check(check_id=check_id, requested_at=datetime.now(UTC))
            response = {
                "volunteer_id": str(volunteer_id),
                "check_id": check_id,
                "version": volunteer.version,
            }
            return [volunteer], response

        return self.run_command(key, decide)

    def publish_shift(self, key: CommandKey | None, **fields: Any) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = Shift.publish(**fields)
            return [shift], {"shift_id": str(shift.id), "version": shift.version}

        return self.run_command(key, decide)

    def sign_up(
        self,
        key: CommandKey | None,
        shift_id: UUID,
        volunteer_id: UUID,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = self.shift(shift_id)
            check_version(shift, expected_version)
            shift.sign_up(self.volunteer(volunteer_id))
            return [shift], self._place_response(shift, volunteer_id)

        return self.run_command(key, decide)

    def cancel_sign_up(
        self,
        key: CommandKey | None,
        shift_id: UUID,
        volunteer_id: UUID,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = self.shift(shift_id)
            check_version(shift, expected_version)
            shift.cancel(str(volunteer_id))
            return [shift], self._place_response(shift, volunteer_id)

        return self.run_command(key, decide)

    def check_in(
        self, key: CommandKey | None, shift_id: UUID, volunteer_id: UUID, at: datetime
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = self.shift(shift_id)
            shift.check_in(str(volunteer_id), at)
            return [shift], self._place_response(shift, volunteer_id) | {"at": at.isoformat()}

        return self.run_command(key, decide)

    def check_out(
        self, key: CommandKey | None, shift_id: UUID, volunteer_id: UUID, at: datetime
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = self.shift(shift_id)
            volunteer = self.volunteer(volunteer_id)
            hours = shift.check_out(str(volunteer_id), at)
            volunteer.credit_hours(shift_id=str(shift_id), hours=hours)
            response = self._place_response(shift, volunteer_id) | {
                "at": at.isoformat(),
                "hours": hours,
                "volunteer_hours": volunteer.hours,
            }
            return [shift, volunteer], response

        return self.run_command(key, decide)

    # Reactions to other boundaries' events.
    def record_background_checks(
        self, consumer: str, position: int, results: Sequence[BackgroundCheckCompleted]
    ) -> None:
        """Record police results on volunteers, with the consumer position, in one transaction.

        A result for a volunteer this service does not know, or one that does not answer
        the check last requested, is skipped (and logged); the position still advances so
        it is not processed again.
        """
        touched: dict[UUID, Volunteer] = {}
        for result in results:
            volunteer_id = UUID(result.volunteer_id)
            volunteer = touched.get(volunteer_id)
            if volunteer is None:
                try:
                    volunteer = self.volunteer(volunteer_id)
                except NotFoundError:
                    continue
                touched[volunteer_id] = volunteer
            if not volunteer.awaits_result_of(result.check_id):
                log.warning(
                    "ignored police result %s for volunteer %s: not the check requested",
                    result.check_id,
                    volunteer_id,
                )
                continue
            volunteer.record_background_check(
                check_id=result.check_id, outcome=result.outcome, expires_on=result.expires_on
            )
        self.save_tracked(Tracking(consumer, position), *touched.values())

    def react_to_study_tours(
        self,
        consumer: str,
        position: int,
        news: Sequence[EscortsRequested | VisitCancelled],
    ) -> None:
        """Open an escort shift for each study tour asking for escorts, and close it when
        its booking is cancelled (released for want of escorts, by its school, by a
        closure), with the consumer position, in one transaction. The shift's id comes from
        the booking, so a tour never gets two shifts."""
        shifts: dict[UUID, Shift] = {}
        for item in news:
            shift_id = escort_shift_id(item.booking_id)
            shift = shifts.get(shift_id)
            if shift is None:
                try:
                    shift = self.shift(shift_id)
                except NotFoundError:
                    shift = None
            if isinstance(item, EscortsRequested):
                if shift is None:
                    shift = Shift.open_for_escorts(
                        booking_id=item.booking_id,
                        school_id=item.school_id,
                        venue_name=item.venue_name,
                        starts_at=item.starts_at,
                        ends_at=item.ends_at,
                        escorts=item.escorts,
                        head_count=item.head_count,
                    )
                    shifts[shift_id] = shift
            elif shift is not None and shift.close(reason=item.reason):
                shifts[shift_id] = shift
        self.save_tracked(Tracking(consumer, position), *shifts.values())

    @staticmethod
    def _place_response(shift: Shift, volunteer_id: UUID) -> dict[str, Any]:
        return {
            "shift_id": str(shift.id),
            "volunteer_id": str(volunteer_id),
            "places_filled": shift.places_filled,
            "places_left": shift.places_left,
            "version": shift.version,
        }


def _by_name(entry: tuple[NameCard, Decrypted]) -> tuple[int, str, str, str]:
    card, name = entry
    if name is ERASED:
        return (1, "", "", str(card.id))
    # Case-insensitive first, then exact, then by id: a total order, so pages never overlap.
    return (0, name.casefold(), name, str(card.id))


def _latest_versions(recorder: Recorder, ids: Collection[UUID]) -> dict[UUID, int]:
    """Each stored aggregate's latest version, for those of `ids` that have events."""
    rows = _select(
        recorder, ids, "originator_id, MAX(originator_version)", "GROUP BY originator_id"
    )
    if rows is None:  # any other store (in memory): one look-up per id
        assert isinstance(recorder, AggregateRecorder)
        latest = {i: recorder.select_events(i, desc=True, limit=1) for i in ids}
        return {i: events[0].originator_version for i, events in latest.items() if events}
    return {_uuid(row[0]): int(row[1]) for row in rows}


def _stored_events(recorder: Recorder, ids: Collection[UUID]) -> dict[UUID, list[StoredEvent]]:
    """The stored events of each of `ids` that has any, oldest first."""
    columns = "originator_id, originator_version, topic, state"
    rows = _select(recorder, ids, columns, "ORDER BY originator_id, originator_version")
    if rows is None:
        assert isinstance(recorder, AggregateRecorder)
        everything = {i: list(recorder.select_events(i)) for i in ids}
        return {i: events for i, events in everything.items() if events}
    found: dict[UUID, list[StoredEvent]] = {}
    for row in rows:
        originator_id = _uuid(row[0])
        stored = StoredEvent(originator_id, int(row[1]), str(row[2]), bytes(row[3]))
        found.setdefault(originator_id, []).append(stored)
    return found


def _select(
    recorder: Recorder, ids: Collection[UUID], columns: str, tail: str
) -> list[Sequence[Any]] | None:
    """`SELECT columns FROM <events> WHERE originator_id IN ids tail` in one statement, as
    tuples; None for a store this cannot query (neither SQLite nor PostgreSQL)."""
    if not ids:
        return []
    if isinstance(recorder, SQLiteAggregateRecorder):
        marks = ",".join("?" * len(ids))
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {recorder.events_table_name}"
                f" WHERE originator_id IN ({marks}) {tail}",
                [i.hex for i in ids],
            )
            return [tuple(row) for row in cursor.fetchall()]
    if isinstance(recorder, PostgresAggregateRecorder):
        datastore = recorder.datastore
        statement = SQL(
            "SELECT {columns} FROM {schema}.{table} WHERE originator_id = ANY(%s) {tail}"
        )
        query = statement.format(
            columns=SQL(columns),
            schema=Identifier(datastore.schema),
            table=Identifier(recorder.events_table_name),
            tail=SQL(tail),
        )
        keys: list[UUID] | list[str] = (
            list(ids) if datastore.originator_id_type == "uuid" else [str(i) for i in ids]
        )
        with datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(query, [keys])
            return [tuple(row.values()) for row in cursor.fetchall()]
    return None


def _uuid(value: Any) -> UUID:
    # SQLite keeps ids as hex text, PostgreSQL as uuid.
    return value if isinstance(value, UUID) else UUID(str(value))
