"""The learning map's read model: a SQLite projection of the resources boundary's events.

Venues with their hours and closures, slots and the bookings on them. Places are
recomputed from the bookings of a slot on every change, so they stay right whatever order
a tolerant replay brings. Changes notify the ids of the slots whose places changed
(`slotPlaces`).

No personal data: a booking is a school's code, head counts and an age.

Figures are computed on read for the period asked: offered places are the venue's slots
in that period by its opening hours (closed slots left out) times its capacity; booked
children are those of bookings that held places (no-shows included: the places were
held); attended children are the completed visits' head counts.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from contracts.events import ContractEvent
from contracts.resources import (
    CITY_TZ,
    OpeningHours,
    StudyTourConfirmed,
    VenueClosed,
    VenueRegistered,
    VisitApproved,
    VisitBooked,
    VisitCancelled,
    VisitCheckedIn,
    VisitCompleted,
    VisitDeclined,
    VisitReleased,
    VisitWaitlisted,
    slot_id,
    slot_starts_on,
)
from gateway.core.projection import SqliteProjection

# Statuses whose children count as booked on a slot's places ("requested",
# "awaiting-escorts": provisional).
HOLDING = ("requested", "awaiting-escorts", "booked", "checked-in", "completed")
# ... and in utilisation (a no-show held its places until released).
BOOKED = (*HOLDING, "no-show")
EARTH_RADIUS_KM = 6371.0
KM_PER_DEGREE = 111.2
# Each venue's slots are laid out as rows with their free places (`offered`) for this many
# days from its registration: a search reads the rows, not opening hours. Past them (and
# before), the slots are computed from the opening hours as before, venue by venue.
OFFERED_DAYS = 200

TABLES_DDL = """
CREATE TABLE IF NOT EXISTS venues (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    district TEXT NOT NULL,
    address TEXT NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    owner TEXT NOT NULL,
    lists TEXT NOT NULL,
    heritage INTEGER NOT NULL,
    capacity INTEGER NOT NULL,
    slot_minutes INTEGER NOT NULL,
    buffer_minutes INTEGER NOT NULL DEFAULT 0,
    opening_hours TEXT NOT NULL,
    age_min INTEGER NOT NULL,
    age_max INTEGER NOT NULL,
    accessible INTEGER NOT NULL,
    registered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS venues_by_district ON venues (district, name);
CREATE TABLE IF NOT EXISTS closures (
    venue_id TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (venue_id, starts_at, ends_at)
);
CREATE TABLE IF NOT EXISTS slots (
    id TEXT PRIMARY KEY,
    venue_id TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    booked INTEGER NOT NULL DEFAULT 0,
    waitlisted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS slots_by_venue ON slots (venue_id, starts_at);
CREATE TABLE IF NOT EXISTS bookings (
    id TEXT PRIMARY KEY,
    slot_id TEXT NOT NULL,
    venue_id TEXT NOT NULL,
    school_id TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    head_count INTEGER NOT NULL DEFAULT 0,
    age INTEGER,
    teachers INTEGER,
    status TEXT NOT NULL,
    from_waitlist INTEGER NOT NULL DEFAULT 0,
    arrived INTEGER,
    attended INTEGER,
    rating INTEGER,
    cancel_reason TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS bookings_by_school ON bookings (school_id, starts_at, id);
CREATE INDEX IF NOT EXISTS bookings_by_slot ON bookings (slot_id);
CREATE INDEX IF NOT EXISTS bookings_by_venue ON bookings (venue_id, starts_at);
CREATE TABLE IF NOT EXISTS offered (
    slot_id TEXT PRIMARY KEY,
    venue_id TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    district TEXT NOT NULL,
    places_left INTEGER NOT NULL,
    waitlisted INTEGER NOT NULL DEFAULT 0,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS offered_free ON offered (venue_id, starts_at, places_left)
    WHERE closed = 0 AND waitlisted = 0;
CREATE INDEX IF NOT EXISTS offered_by_day ON offered (day, kind, district, places_left);
CREATE TABLE IF NOT EXISTS offered_span (
    venue_id TEXT PRIMARY KEY,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL
);
"""


def _utc(moment: datetime) -> str:
    """Datetimes are stored in UTC ISO form so that they sort as text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class VenueRow:
    id: str
    name: str
    kind: str
    district: str
    address: str
    latitude: float
    longitude: float
    owner: str
    lists: tuple[str, ...]
    heritage: bool
    capacity: int
    slot_minutes: int
    opening_hours: tuple[OpeningHours, ...]
    age_min: int
    age_max: int
    accessible: bool
    closures: tuple[tuple[datetime, datetime, str], ...] = ()
    buffer_minutes: int = 0

    def slot_starts(self, start: datetime, end: datetime) -> list[datetime]:
        """Starts of the open slots beginning in [start, end)."""
        found: list[datetime] = []
        day = start.astimezone(CITY_TZ).date()
        while day <= end.astimezone(CITY_TZ).date():
            for slot_start in slot_starts_on(
                self.opening_hours, self.slot_minutes, day, self.buffer_minutes
            ):
                if start <= slot_start < end and not self.closed_at(slot_start):
                    found.append(slot_start)
            day += timedelta(days=1)
        return found

    def closed_at(self, starts_at: datetime) -> bool:
        ends_at = starts_at + timedelta(minutes=self.slot_minutes)
        return any(c[0] < ends_at and c[1] > starts_at for c in self.closures)

    def distance_km(self, latitude: float, longitude: float) -> float:
        """Great-circle distance (haversine)."""
        return _haversine_km(self.latitude, self.longitude, latitude, longitude)


@dataclass(frozen=True)
class Utilisation:
    """Places offered, children booked and attended over a period."""

    offered: int = 0
    booked: int = 0
    attended: int = 0

    def __add__(self, other: Utilisation) -> Utilisation:
        return Utilisation(
            self.offered + other.offered,
            self.booked + other.booked,
            self.attended + other.attended,
        )


@dataclass(frozen=True)
class SlotRow:
    id: str
    venue_id: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    waitlisted: int

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.booked, 0)


@dataclass(frozen=True)
class BookingRow:
    id: str
    slot_id: str
    venue_id: str
    school_id: str
    starts_at: datetime
    head_count: int
    age: int | None
    teachers: int | None
    status: str
    from_waitlist: bool
    arrived: int | None
    attended: int | None
    rating: int | None
    cancel_reason: str | None
    detail: str | None


@dataclass(frozen=True)
class FreeSlot:
    slot_id: str
    starts_at: datetime
    ends_at: datetime
    places_left: int


@dataclass(frozen=True)
class Availability:
    venue: VenueRow
    distance_km: float | None
    slots: list[FreeSlot] = field(default_factory=list)


class ResourcesReadModel(SqliteProjection):
    """Venues, closures, slots and bookings, kept up to date from events."""

    SCHEMA = TABLES_DDL
    VERSION = 2
    TABLES = ("venues", "closures", "slots", "bookings", "offered", "offered_span")
    DUMPED = {
        "venues": "id",
        "closures": "venue_id, starts_at, ends_at",
        "slots": "id",
        "bookings": "id",
    }

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        match event:
            case VenueRegistered():
                self._venue(conn, event)
                self._offer(conn, event)
                changed.add(event.venue_id)
            case VenueClosed():
                conn.execute(
                    "INSERT INTO closures (venue_id, starts_at, ends_at, reason) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (event.venue_id, _utc(event.starts_at), _utc(event.ends_at), event.reason),
                )
                conn.execute(
                    "UPDATE offered SET closed = 1 "
                    "WHERE venue_id = ? AND starts_at < ? AND ends_at > ?",
                    (event.venue_id, _utc(event.ends_at), _utc(event.starts_at)),
                )
                changed.add(event.venue_id)
            case VisitBooked() | VisitWaitlisted():
                self._slot(conn, event)
                status = "waitlisted"
                if isinstance(event, VisitBooked):
                    status = "booked" if event.approved else "requested"
                    if event.awaiting_escorts:
                        status = "awaiting-escorts"
                from_waitlist = isinstance(event, VisitBooked) and event.from_waitlist
                conn.execute(
                    "INSERT INTO bookings (id, slot_id, venue_id, school_id, starts_at, "
                    "head_count, age, teachers, status, from_waitlist) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "status = excluded.status, from_waitlist = excluded.from_waitlist",
                    (
                        event.booking_id,
                        event.slot_id,
                        event.venue_id,
                        event.school_id,
                        _utc(event.starts_at),
                        event.head_count,
                        event.age,
                        event.teachers,
                        status,
                        int(from_waitlist),
                    ),
                )
                self._places(conn, event.slot_id)
                changed.add(event.slot_id)
            case VisitCancelled():
                self._status(conn, event.booking_id, "cancelled")
                conn.execute(
                    "UPDATE bookings SET cancel_reason = ?, detail = ? WHERE id = ?",
                    (event.reason, event.detail, event.booking_id),
                )
                self._places(conn, event.slot_id)
                changed.add(event.slot_id)
            case VisitApproved():
                self._status(conn, event.booking_id, "booked")
            case StudyTourConfirmed():
                self._status(conn, event.booking_id, "booked" if event.approved else "requested")
            case VisitDeclined():
                self._status(conn, event.booking_id, "declined")
                conn.execute(
                    "UPDATE bookings SET detail = ? WHERE id = ?", (event.reason, event.booking_id)
                )
                self._places(conn, event.slot_id)
                changed.add(event.slot_id)
            case VisitCheckedIn():
                self._status(conn, event.booking_id, "checked-in")
                conn.execute(
                    "UPDATE bookings SET arrived = ? WHERE id = ?",
                    (event.head_count, event.booking_id),
                )
            case VisitCompleted():
                self._status(conn, event.booking_id, "completed")
                conn.execute(
                    "UPDATE bookings SET attended = ?, rating = ? WHERE id = ?",
                    (event.head_count, event.rating, event.booking_id),
                )
            case VisitReleased():
                self._status(conn, event.booking_id, "no-show")
                self._places(conn, event.slot_id)
                changed.add(event.slot_id)
            case _:
                pass  # Tolerant reader: events this model does not use are ignored.

    # -- event handlers ---------------------------------------------------------------------

    @staticmethod
    def _venue(conn: sqlite3.Connection, event: VenueRegistered) -> None:
        conn.execute(
            "INSERT INTO venues (id, name, kind, district, address, latitude, longitude, "
            "owner, lists, heritage, capacity, slot_minutes, opening_hours, age_min, age_max, "
            "accessible, registered_at, buffer_minutes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING",
            (
                event.venue_id,
                event.name,
                event.kind,
                event.district,
                event.address,
                event.latitude,
                event.longitude,
                event.owner,
                json.dumps(sorted(event.lists)),
                int(event.heritage),
                event.capacity,
                event.slot_minutes,
                json.dumps([h.model_dump() for h in event.opening_hours]),
                event.age_min,
                event.age_max,
                int(event.accessible),
                _utc(event.registered_at),
                event.buffer_minutes,
            ),
        )

    @staticmethod
    def _offer(conn: sqlite3.Connection, event: VenueRegistered) -> None:
        """Lay out the venue's slots for OFFERED_DAYS from its registration, all free."""
        if conn.execute(
            "SELECT 1 FROM offered_span WHERE venue_id = ?", (event.venue_id,)
        ).fetchone():
            return  # registered already (a redelivery)
        first = event.registered_at.astimezone(CITY_TZ).date()
        length = timedelta(minutes=event.slot_minutes)
        rows = []
        for n in range(OFFERED_DAYS):
            day = first + timedelta(days=n)
            for start in slot_starts_on(
                event.opening_hours, event.slot_minutes, day, event.buffer_minutes
            ):
                rows.append(
                    (
                        str(slot_id(event.venue_id, start)),
                        event.venue_id,
                        _utc(start),
                        _utc(start + length),
                        day.isoformat(),
                        event.kind,
                        event.district,
                        event.capacity,
                    )
                )
        conn.executemany(
            "INSERT INTO offered (slot_id, venue_id, starts_at, ends_at, day, kind, district, "
            "places_left) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (slot_id) DO NOTHING",
            rows,
        )
        span_start = datetime.combine(first, time(0, 0), CITY_TZ)
        conn.execute(
            "INSERT INTO offered_span (venue_id, starts_at, ends_at) VALUES (?, ?, ?)",
            (
                event.venue_id,
                _utc(span_start),
                _utc(span_start + timedelta(days=OFFERED_DAYS)),
            ),
        )

    @staticmethod
    def _slot(conn: sqlite3.Connection, event: VisitBooked | VisitWaitlisted) -> None:
        conn.execute(
            "INSERT INTO slots (id, venue_id, starts_at, ends_at, capacity) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                event.slot_id,
                event.venue_id,
                _utc(event.starts_at),
                _utc(event.ends_at),
                event.capacity,
            ),
        )

    @staticmethod
    def _status(conn: sqlite3.Connection, booking_id: str, status: str) -> None:
        # The stream brings a booking's creation before its changes.
        conn.execute("UPDATE bookings SET status = ? WHERE id = ?", (status, booking_id))

    @staticmethod
    def _places(conn: sqlite3.Connection, slot: str) -> None:
        marks = ",".join("?" * len(HOLDING))
        conn.execute(
            "UPDATE slots SET "
            f"booked = (SELECT COALESCE(SUM(head_count), 0) FROM bookings WHERE slot_id = ? "
            f"AND status IN ({marks})), "
            "waitlisted = (SELECT COUNT(*) FROM bookings WHERE slot_id = ? AND status = ?) "
            "WHERE id = ?",
            (slot, *HOLDING, slot, "waitlisted", slot),
        )
        conn.execute(
            "UPDATE offered SET places_left = MAX(s.capacity - s.booked, 0), "
            "waitlisted = s.waitlisted FROM slots AS s WHERE s.id = ? AND offered.slot_id = s.id",
            (slot,),
        )

    # -- reads ------------------------------------------------------------------------------

    def venues(
        self,
        *,
        kind: str | None = None,
        venue_list: str | None = None,
        district: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[VenueRow]:
        """Venues with their closures, by district then name, filtered."""
        where, args = [], []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if district is not None:
            where.append("district = ?")
            args.append(district)
        if venue_list is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(venues.lists) WHERE value = ?)")
            args.append(venue_list)
        if ids is not None:
            where.append(f"id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM venues {clause} ORDER BY district, name, id", args
            ).fetchall()
            closures: dict[str, list[tuple[datetime, datetime, str]]] = {}
            for c in conn.execute("SELECT * FROM closures ORDER BY starts_at").fetchall():
                closures.setdefault(c["venue_id"], []).append(
                    (
                        datetime.fromisoformat(c["starts_at"]),
                        datetime.fromisoformat(c["ends_at"]),
                        c["reason"],
                    )
                )
        return [_venue_row(row, closures.get(row["id"], [])) for row in rows]

    def booked_by_slot(
        self, venue_ids: Iterable[str], start: datetime, end: datetime
    ) -> dict[str, SlotRow]:
        ids = list(venue_ids)
        if not ids:
            return {}
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM slots WHERE venue_id IN ({','.join('?' * len(ids))}) "
                "AND starts_at >= ? AND starts_at < ?",
                (*ids, _utc(start), _utc(end)),
            ).fetchall()
        return {row["id"]: _slot_row(row) for row in rows}

    def slot(self, slot: str) -> SlotRow | None:
        with self._locked() as conn:
            row = conn.execute("SELECT * FROM slots WHERE id = ?", (slot,)).fetchone()
        return _slot_row(row) if row else None

    def utilisation(
        self, venues: Sequence[VenueRow], start: datetime, end: datetime
    ) -> dict[str, Utilisation]:
        """Per venue: places offered, children booked and attended in [start, end)."""
        ids = [v.id for v in venues]
        figures = {
            v.id: Utilisation(offered=v.capacity * len(v.slot_starts(start, end))) for v in venues
        }
        if not ids:
            return figures
        marks = ",".join("?" * len(BOOKED))
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT venue_id, COALESCE(SUM(head_count), 0) AS booked, "
                "COALESCE(SUM(CASE WHEN status = 'completed' THEN attended ELSE 0 END), 0) "
                "AS attended FROM bookings "
                f"WHERE venue_id IN ({','.join('?' * len(ids))}) AND status IN ({marks}) "
                "AND starts_at >= ? AND starts_at < ? GROUP BY venue_id",
                (*ids, *BOOKED, _utc(start), _utc(end)),
            ).fetchall()
        for row in rows:
            offered = figures[row["venue_id"]].offered
            figures[row["venue_id"]] = Utilisation(
                offered, int(row["booked"]), int(row["attended"])
            )
        return figures

    def school_bookings(
        self, school_id: str, *, start: datetime | None = None, limit: int = 50
    ) -> list[BookingRow]:
        """A school's bookings by start time (from `start`), with every status."""
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT * FROM bookings WHERE school_id = ? AND starts_at >= ? "
                "ORDER BY starts_at, id LIMIT ?",
                (school_id, _utc(start) if start else "", limit),
            ).fetchall()
        return [_booking_row(row) for row in rows]

    def available(
        self,
        *,
        start: datetime,
        end: datetime,
        children: int,
        age: int,
        near: tuple[float, float] | None = None,
        within_km: float | None = None,
        kind: str | None = None,
        venue_list: str | None = None,
        limit: int = 20,
        slots_per_venue: int = 5,
    ) -> list[Availability]:
        """Venues with a slot free for `children` of `age` in [start, end), nearest first.

        The candidate venues (kind, list, capacity, age and a box around `near` in SQL; the
        exact distance on what is left) are taken nearest first; each one's first free slots
        are read from its `offered` rows, an index range per venue, until `limit` venues
        have some. A venue whose rows do not cover the range is computed from its hours.
        """
        found: list[tuple[str, float | None, list[FreeSlot]]] = []
        uncovered: list[tuple[str, float | None]] = []
        span = (_utc(start), _utc(end))
        with self._locked() as conn:
            for venue_id, distance, covered in self._candidates(
                conn, children, age, near, within_km, kind, venue_list, span
            ):
                if len(found) >= limit:
                    break
                if not covered:
                    uncovered.append((venue_id, distance))
                    continue
                rows = conn.execute(
                    "SELECT slot_id, starts_at, ends_at, places_left FROM offered "
                    "WHERE venue_id = ? AND starts_at >= ? AND starts_at < ? "
                    "AND places_left >= ? AND closed = 0 AND waitlisted = 0 "
                    "ORDER BY starts_at LIMIT ?",
                    (venue_id, *span, children, slots_per_venue),
                ).fetchall()
                slots = [
                    FreeSlot(
                        r["slot_id"],
                        datetime.fromisoformat(r["starts_at"]),
                        datetime.fromisoformat(r["ends_at"]),
                        r["places_left"],
                    )
                    for r in rows
                ]
                if slots:
                    found.append((venue_id, distance, slots))
        # Venues past their laid-out days: computed from their hours (rare; a far search).
        for venue_id, distance in uncovered:
            slots = self._free_from_hours(venue_id, start, end, children, slots_per_venue)
            if slots:
                found.append((venue_id, distance, slots))
        rows_by_id = {v.id: v for v in self.venues(ids=[f[0] for f in found])}
        result = [
            Availability(rows_by_id[venue_id], distance, slots)
            for venue_id, distance, slots in found
            if venue_id in rows_by_id
        ]
        result.sort(key=lambda a: (a.distance_km or 0.0, a.venue.name, a.venue.id))
        return result[:limit]

    @staticmethod
    def _candidates(
        conn: sqlite3.Connection,
        children: int,
        age: int,
        near: tuple[float, float] | None,
        within_km: float | None,
        kind: str | None,
        venue_list: str | None,
        span: tuple[str, str],
    ) -> list[tuple[str, float | None, bool]]:
        """(venue id, distance, whether its offered rows cover the span), nearest first."""
        where = ["v.capacity >= ?", "v.age_min <= ?", "v.age_max >= ?"]
        args: list[Any] = [children, age, age]
        if kind is not None:
            where.append("v.kind = ?")
            args.append(kind)
        if venue_list is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(v.lists) WHERE value = ?)")
            args.append(venue_list)
        if near is not None and within_km is not None:
            # A box around the point first (an index-free but cheap cut), then the circle.
            dlat = within_km / KM_PER_DEGREE
            dlon = within_km / (KM_PER_DEGREE * max(math.cos(math.radians(near[0])), 0.01))
            where.append("v.latitude BETWEEN ? AND ? AND v.longitude BETWEEN ? AND ?")
            args += [near[0] - dlat, near[0] + dlat, near[1] - dlon, near[1] + dlon]
        rows = conn.execute(
            "SELECT v.id, v.name, v.latitude, v.longitude, "
            "(o.starts_at IS NOT NULL AND o.starts_at <= ? AND o.ends_at >= ?) AS covered "
            "FROM venues AS v LEFT JOIN offered_span AS o ON o.venue_id = v.id "
            f"WHERE {' AND '.join(where)}",
            (span[0], span[1], *args),
        ).fetchall()
        candidates: list[tuple[str, str, float | None, bool]] = []
        for row in rows:
            distance = None
            if near is not None:
                distance = _haversine_km(row["latitude"], row["longitude"], *near)
                if within_km is not None and distance > within_km:
                    continue
            candidates.append((row["id"], row["name"], distance, bool(row["covered"])))
        candidates.sort(key=lambda c: (c[2] or 0.0, c[1], c[0]))
        return [(venue_id, distance, covered) for venue_id, _, distance, covered in candidates]

    def _free_from_hours(
        self, venue_id: str, start: datetime, end: datetime, children: int, wanted: int
    ) -> list[FreeSlot]:
        """A venue's first free slots in [start, end), computed from its opening hours."""
        venues = self.venues(ids=[venue_id])
        if not venues:
            return []
        venue = venues[0]
        booked = self.booked_by_slot([venue_id], start, end)
        length = timedelta(minutes=venue.slot_minutes)
        slots: list[FreeSlot] = []
        for slot_start in venue.slot_starts(start, end):
            sid = str(slot_id(venue.id, slot_start))
            known = booked.get(sid)
            # A slot with a waitlist is not free, whatever is left: the queue goes first.
            left = venue.capacity if known is None else known.places_left
            if left >= children and (known is None or known.waitlisted == 0):
                slots.append(FreeSlot(sid, slot_start, slot_start + length, left))
                if len(slots) >= wanted:
                    break
        return slots


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def _venue_row(row: sqlite3.Row, closures: list[tuple[datetime, datetime, str]]) -> VenueRow:
    return VenueRow(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        district=row["district"],
        address=row["address"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        owner=row["owner"],
        lists=tuple(json.loads(row["lists"])),
        heritage=bool(row["heritage"]),
        capacity=row["capacity"],
        slot_minutes=row["slot_minutes"],
        opening_hours=tuple(OpeningHours(**h) for h in json.loads(row["opening_hours"])),
        age_min=row["age_min"],
        age_max=row["age_max"],
        accessible=bool(row["accessible"]),
        closures=tuple(closures),
        buffer_minutes=row["buffer_minutes"],
    )


def _slot_row(row: sqlite3.Row) -> SlotRow:
    return SlotRow(
        id=row["id"],
        venue_id=row["venue_id"],
        starts_at=datetime.fromisoformat(row["starts_at"]),
        ends_at=datetime.fromisoformat(row["ends_at"]),
        capacity=row["capacity"],
        booked=row["booked"],
        waitlisted=row["waitlisted"],
    )


def _booking_row(row: sqlite3.Row) -> BookingRow:
    return BookingRow(
        id=row["id"],
        slot_id=row["slot_id"],
        venue_id=row["venue_id"],
        school_id=row["school_id"],
        starts_at=datetime.fromisoformat(row["starts_at"]),
        head_count=row["head_count"],
        age=row["age"],
        teachers=row["teachers"],
        status=row["status"],
        from_waitlist=bool(row["from_waitlist"]),
        arrived=row["arrived"],
        attended=row["attended"],
        rating=row["rating"],
        cancel_reason=row["cancel_reason"],
        detail=row["detail"],
    )
