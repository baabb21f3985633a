"""The learning map's read model: a SQLite projection of the resources boundary's events.

Venues with their hours and closures, slots and the bookings on them. Places are
recomputed from the bookings of a slot on every change, so they stay right whatever order
a tolerant replay brings. Changes notify the ids of the slots whose places changed
(`slotPlaces`).

No personal data: a booking is a school's code, head counts and an age.

Figures over a period: offered places are the venue's slots in that period by its opening
hours (closed slots left out) times its capacity; booked children are those of bookings
that held places (no-shows included: the places were held); attended children are the
completed visits' head counts. They are kept at apply time, so that a period is a few index
reads whatever its length: places offered per weekday (per venue and per district), and per
city day the places closed, children booked and attended (per venue and per district),
recomputed from the day's bookings and closures whenever one of them changes. A period's
whole days are summed from those rows; a part of a day at either end (a period not starting
or ending at the city's midnight) is computed from the hours and bookings of that part.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID

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
-- No read looks offered slots up by day: the index only slowed the venues' layout down.
DROP INDEX IF EXISTS offered_by_day;
CREATE TABLE IF NOT EXISTS weekly_places (
    venue_id TEXT NOT NULL,
    weekday INTEGER NOT NULL,
    places INTEGER NOT NULL,
    PRIMARY KEY (venue_id, weekday)
);
CREATE TABLE IF NOT EXISTS district_weekly_places (
    district TEXT NOT NULL,
    weekday INTEGER NOT NULL,
    places INTEGER NOT NULL,
    PRIMARY KEY (district, weekday)
);
CREATE TABLE IF NOT EXISTS usage_days (
    venue_id TEXT NOT NULL,
    day TEXT NOT NULL,
    district TEXT NOT NULL,
    closed INTEGER NOT NULL,
    booked INTEGER NOT NULL,
    attended INTEGER NOT NULL,
    PRIMARY KEY (venue_id, day)
);
CREATE INDEX IF NOT EXISTS usage_by_day ON usage_days (day, venue_id, closed, booked, attended);
CREATE TABLE IF NOT EXISTS district_usage_days (
    district TEXT NOT NULL,
    day TEXT NOT NULL,
    closed INTEGER NOT NULL,
    booked INTEGER NOT NULL,
    attended INTEGER NOT NULL,
    PRIMARY KEY (district, day)
);
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
    VERSION = 3
    TABLES = (
        "venues",
        "closures",
        "slots",
        "bookings",
        "offered",
        "offered_span",
        "weekly_places",
        "district_weekly_places",
        "usage_days",
        "district_usage_days",
    )
    DUMPED = {
        "venues": "id",
        "closures": "venue_id, starts_at, ends_at",
        "slots": "id",
        "bookings": "id",
        "weekly_places": "venue_id, weekday",
        "district_weekly_places": "district, weekday",
        "usage_days": "venue_id, day",
        "district_usage_days": "district, day",
    }

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 5.0) -> None:
        super().__init__(path, busy_timeout_s=busy_timeout_s)
        # (venue, city day) whose usage a batch changed: recomputed once before its commit.
        self._touched: set[tuple[str, str]] = set()
        # Venues as read, by id: a venue's row never changes once registered (a redelivery
        # inserts nothing), so only its closures are compared. Reading 500 venues' hours
        # anew took most of the learning map's time.
        self._read_venues: dict[str, VenueRow] = {}

    def reset(self) -> None:
        super().reset()
        self._read_venues = {}

    def apply_events(
        self, conn: sqlite3.Connection, events: Sequence[ContractEvent], changed: set[str]
    ) -> None:
        """Runs of bookings (the busiest events) are written with one `executemany` per
        statement: the slots (inserted once), the bookings (in the events' order), then
        each touched slot's places, computed once from what the run wrote. Other events end
        a run and are written on their own."""
        self._touched = set()
        run: list[VisitBooked | VisitWaitlisted] = []
        for event in events:
            if isinstance(event, VisitBooked | VisitWaitlisted):
                run.append(event)
                continue
            self._write_bookings(conn, run, changed)
            run = []
            self.apply_event(conn, event, changed)
        self._write_bookings(conn, run, changed)

    def before_commit(self, conn: sqlite3.Connection) -> None:
        self._write_usage(conn, self._touched)
        self._touched = set()

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        match event:
            case VenueRegistered():
                if self._venue(conn, event):
                    self._weekly(conn, event)
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
                # A slot starting the day before may reach into the closure.
                day = (event.starts_at.astimezone(CITY_TZ) - timedelta(days=1)).date()
                while day <= event.ends_at.astimezone(CITY_TZ).date():
                    self._touched.add((event.venue_id, day.isoformat()))
                    day += timedelta(days=1)
                changed.add(event.venue_id)
            case VisitBooked() | VisitWaitlisted():
                self._write_bookings(conn, [event], changed)
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
    def _venue(conn: sqlite3.Connection, event: VenueRegistered) -> bool:
        """Insert the venue; whether it is new (not a redelivery)."""
        cursor = conn.execute(
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
        return cursor.rowcount > 0

    def _weekly(self, conn: sqlite3.Connection, event: VenueRegistered) -> None:
        """The venue's places on each weekday, added to its district's; and the days its
        bookings came before it (a tolerant replay) counted in its district."""
        # Any week will do: slots depend on the weekday only.
        monday = date(2024, 1, 1)
        rows = [
            (
                event.venue_id,
                weekday,
                event.capacity
                * sum(
                    1
                    for _ in slot_starts_on(
                        event.opening_hours,
                        event.slot_minutes,
                        monday + timedelta(days=weekday - 1),
                        event.buffer_minutes,
                    )
                ),
            )
            for weekday in range(1, 8)
        ]
        conn.executemany(
            "INSERT INTO weekly_places (venue_id, weekday, places) VALUES (?, ?, ?)", rows
        )
        conn.executemany(
            "INSERT INTO district_weekly_places (district, weekday, places) VALUES (?, ?, ?) "
            "ON CONFLICT (district, weekday) DO UPDATE SET places = places + excluded.places",
            [(event.district, weekday, places) for _, weekday, places in rows],
        )
        for (day,) in conn.execute(
            "SELECT day FROM usage_days WHERE venue_id = ?", (event.venue_id,)
        ).fetchall():
            self._touched.add((event.venue_id, day))

    @staticmethod
    def _offer(conn: sqlite3.Connection, event: VenueRegistered) -> None:
        """Lay out the venue's slots for OFFERED_DAYS from its registration, all free."""
        if conn.execute(
            "SELECT 1 FROM offered_span WHERE venue_id = ?", (event.venue_id,)
        ).fetchone():
            return  # registered already (a redelivery)
        first = event.registered_at.astimezone(CITY_TZ).date()
        length = timedelta(minutes=event.slot_minutes)
        # A day's slots depend on its weekday only, and the city keeps one offset all year:
        # each weekday's starts, as offsets from midnight, are computed once, not per day.
        week = _weekday_offsets(event.opening_hours, event.slot_minutes, event.buffer_minutes)
        named = hashlib.sha1(
            NAMESPACE_URL.bytes + f"tongxin:resources:slot:{UUID(str(event.venue_id))}:".encode(),
            usedforsecurity=False,
        )
        rows = []
        for n in range(OFFERED_DAYS):
            day = first + timedelta(days=n)
            offsets = week[day.isoweekday()]
            if not offsets:
                continue
            midnight = datetime.combine(day, time(0, 0), CITY_TZ).astimezone(UTC)
            day_text = day.isoformat()
            for offset in offsets:
                start = midnight + offset
                starts_at = start.isoformat()
                rows.append(
                    (
                        _uuid5_text(named, starts_at),
                        event.venue_id,
                        starts_at,
                        (start + length).isoformat(),
                        day_text,
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

    def _write_bookings(
        self,
        conn: sqlite3.Connection,
        run: Sequence[VisitBooked | VisitWaitlisted],
        changed: set[str],
    ) -> None:
        if not run:
            return
        conn.executemany(
            "INSERT INTO slots (id, venue_id, starts_at, ends_at, capacity) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [(e.slot_id, e.venue_id, _utc(e.starts_at), _utc(e.ends_at), e.capacity) for e in run],
        )
        conn.executemany(
            "INSERT INTO bookings (id, slot_id, venue_id, school_id, starts_at, "
            "head_count, age, teachers, status, from_waitlist) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "status = excluded.status, from_waitlist = excluded.from_waitlist",
            [
                (
                    e.booking_id,
                    e.slot_id,
                    e.venue_id,
                    e.school_id,
                    _utc(e.starts_at),
                    e.head_count,
                    e.age,
                    e.teachers,
                    _booked_status(e),
                    int(isinstance(e, VisitBooked) and e.from_waitlist),
                )
                for e in run
            ],
        )
        slots = list(dict.fromkeys(e.slot_id for e in run))
        self._places(conn, slots)
        changed.update(slots)
        for e in run:
            self._touched.add((e.venue_id, _city_day(e.starts_at)))

    def _status(self, conn: sqlite3.Connection, booking_id: str, status: str) -> None:
        # The stream brings a booking's creation before its changes.
        row = conn.execute(
            "UPDATE bookings SET status = ? WHERE id = ? RETURNING venue_id, starts_at",
            (status, booking_id),
        ).fetchone()
        if row is not None:
            self._touched.add((row[0], _city_day(datetime.fromisoformat(row[1]))))

    @staticmethod
    def _places(conn: sqlite3.Connection, slots: str | Sequence[str]) -> None:
        ids = [slots] if isinstance(slots, str) else list(slots)
        marks = ",".join("?" * len(HOLDING))
        conn.executemany(
            "UPDATE slots SET "
            f"booked = (SELECT COALESCE(SUM(head_count), 0) FROM bookings WHERE slot_id = ? "
            f"AND status IN ({marks})), "
            "waitlisted = (SELECT COUNT(*) FROM bookings WHERE slot_id = ? AND status = ?) "
            "WHERE id = ?",
            [(slot, *HOLDING, slot, "waitlisted", slot) for slot in ids],
        )
        conn.executemany(
            "UPDATE offered SET places_left = MAX(s.capacity - s.booked, 0), "
            "waitlisted = s.waitlisted FROM slots AS s WHERE s.id = ? AND offered.slot_id = s.id",
            [(slot,) for slot in ids],
        )

    def _write_usage(self, conn: sqlite3.Connection, touched: set[tuple[str, str]]) -> None:
        """Recompute each touched (venue, day)'s closed places and children booked and
        attended from its bookings and closures, then its district's day from its venues'."""
        if not touched:
            return
        marks = ",".join("?" * len(BOOKED))
        venues = {
            row["id"]: row
            for row in conn.execute(
                "SELECT id, district, capacity, slot_minutes, buffer_minutes, opening_hours "
                "FROM venues"
            ).fetchall()
        }
        rows = []
        for venue_id, day in sorted(touched):
            first = datetime.combine(date.fromisoformat(day), time(0, 0), CITY_TZ)
            found = conn.execute(
                "SELECT COALESCE(SUM(head_count), 0), "
                "COALESCE(SUM(CASE WHEN status = 'completed' THEN attended ELSE 0 END), 0) "
                f"FROM bookings WHERE venue_id = ? AND status IN ({marks}) "
                "AND starts_at >= ? AND starts_at < ?",
                (venue_id, *BOOKED, _utc(first), _utc(first + timedelta(days=1))),
            ).fetchone()
            venue = venues.get(venue_id)
            closed = _closed_places(conn, venue, first) if venue is not None else 0
            district = venue["district"] if venue is not None else ""
            rows.append((venue_id, day, district, closed, int(found[0]), int(found[1])))
        conn.executemany(
            "INSERT INTO usage_days (venue_id, day, district, closed, booked, attended) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (venue_id, day) DO UPDATE SET "
            "district = excluded.district, closed = excluded.closed, "
            "booked = excluded.booked, attended = excluded.attended",
            rows,
        )
        districts = sorted({(row[2], row[1]) for row in rows if row[2]})
        conn.executemany(
            "INSERT INTO district_usage_days (district, day, closed, booked, attended) "
            "SELECT ?, ?, COALESCE(SUM(closed), 0), COALESCE(SUM(booked), 0), "
            "COALESCE(SUM(attended), 0) FROM usage_days WHERE district = ? AND day = ? "
            "ON CONFLICT (district, day) DO UPDATE SET closed = excluded.closed, "
            "booked = excluded.booked, attended = excluded.attended",
            [(district, day, district, day) for district, day in districts],
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
        found = []
        for row in rows:
            kept = self._read_venues.get(row["id"])
            closed = tuple(closures.get(row["id"], []))
            if kept is None or kept.closures != closed:
                kept = self._read_venues[row["id"]] = _venue_row(row, list(closed))
            found.append(kept)
        return found

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
        """Per venue: places offered, children booked and attended in [start, end).

        The whole city days of the period from the rows kept at apply time; a part of a
        day at either end computed from hours and bookings (`computed_utilisation`).
        """
        first, last = _whole_days(start, end)
        if first >= last:
            return self.computed_utilisation(venues, start, end)
        figures = self._kept_utilisation(venues, first, last)
        for edge in _edges(start, end, first, last):
            extra = self.computed_utilisation(venues, *edge)
            figures = {v.id: figures[v.id] + extra[v.id] for v in venues}
        return figures

    def district_utilisation(self, start: datetime, end: datetime) -> dict[str, Utilisation]:
        """Per district: places offered, children booked and attended in [start, end)."""
        first, last = _whole_days(start, end)
        totals: dict[str, Utilisation] = {}
        edges = [(start, end)] if first >= last else _edges(start, end, first, last)
        if edges:
            venues = self.venues()
            for edge in edges:
                figures = self.computed_utilisation(venues, *edge)
                for venue in venues:
                    totals[venue.district] = (
                        totals.get(venue.district, Utilisation()) + figures[venue.id]
                    )
        if first >= last:
            return totals
        weekdays = _weekday_counts(first, last)
        with self._locked() as conn:
            offered: dict[str, int] = {}
            for row in conn.execute(
                "SELECT district, weekday, places FROM district_weekly_places"
            ).fetchall():
                offered[row[0]] = offered.get(row[0], 0) + row[2] * weekdays[row[1]]
            used = {
                row[0]: (row[1], row[2], row[3])
                for row in conn.execute(
                    "SELECT district, SUM(closed), SUM(booked), SUM(attended) "
                    "FROM district_usage_days WHERE day >= ? AND day < ? GROUP BY district",
                    (first.isoformat(), last.isoformat()),
                ).fetchall()
            }
        for district, places in offered.items():
            closed, booked, attended = used.get(district, (0, 0, 0))
            totals[district] = totals.get(district, Utilisation()) + Utilisation(
                places - int(closed), int(booked), int(attended)
            )
        return totals

    def venues_per_district(self) -> dict[str, int]:
        with self._locked() as conn:
            rows = conn.execute("SELECT district, COUNT(*) FROM venues GROUP BY district")
            return {row[0]: int(row[1]) for row in rows.fetchall()}

    def _kept_utilisation(
        self, venues: Sequence[VenueRow], first: date, last: date
    ) -> dict[str, Utilisation]:
        """Per venue over the city days [first, last), from the rows kept at apply time."""
        wanted = {v.id for v in venues}
        weekdays = _weekday_counts(first, last)
        offered = dict.fromkeys(wanted, 0)
        used: dict[str, tuple[int, int, int]] = {}
        with self._locked() as conn:
            for row in conn.execute("SELECT venue_id, weekday, places FROM weekly_places"):
                if row[0] in wanted:
                    offered[row[0]] += row[2] * weekdays[row[1]]
            for row in conn.execute(
                "SELECT venue_id, SUM(closed), SUM(booked), SUM(attended) FROM usage_days "
                "WHERE day >= ? AND day < ? GROUP BY venue_id",
                (first.isoformat(), last.isoformat()),
            ):
                if row[0] in wanted:
                    used[row[0]] = (int(row[1]), int(row[2]), int(row[3]))
        figures = {}
        for venue_id in wanted:
            closed, booked, attended = used.get(venue_id, (0, 0, 0))
            figures[venue_id] = Utilisation(offered[venue_id] - closed, booked, attended)
        return figures

    def computed_utilisation(
        self, venues: Sequence[VenueRow], start: datetime, end: datetime
    ) -> dict[str, Utilisation]:
        """Per venue over [start, end), computed from opening hours, closures and bookings
        (the edges of a period; and what the kept rows must always equal)."""
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


def _uuid5_text(named: Any, starts_at: str) -> str:
    """`contracts.resources.slot_id` as text, from SHA-1 of the namespace and the venue's
    name prefix (hashed once per venue, `named`) and the slot's start: a venue lays out
    thousands of slots, and `uuid.uuid5` builds three UUID objects for each."""
    hashed = named.copy()
    hashed.update(starts_at.encode())
    return _uuid5_hex(hashed.digest())


def _uuid5_hex(sha1: bytes) -> str:
    digest = bytearray(sha1)
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _weekday_offsets(
    opening_hours: Sequence[OpeningHours], slot_minutes: int, buffer_minutes: int
) -> dict[int, list[timedelta]]:
    """Each ISO weekday's slot starts as offsets from the city's midnight (`slot_starts_on`
    on one week: its starts are midnight plus minutes, whatever the date)."""
    monday = date(2024, 1, 1)
    offsets = {}
    for weekday in range(1, 8):
        day = monday + timedelta(days=weekday - 1)
        midnight = datetime.combine(day, time(0, 0), CITY_TZ)
        offsets[weekday] = [
            start - midnight
            for start in slot_starts_on(opening_hours, slot_minutes, day, buffer_minutes)
        ]
    return offsets


def _booked_status(event: VisitBooked | VisitWaitlisted) -> str:
    if isinstance(event, VisitWaitlisted):
        return "waitlisted"
    if event.awaiting_escorts:
        return "awaiting-escorts"
    return "booked" if event.approved else "requested"


def _city_day(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CITY_TZ).date().isoformat()


def _closed_places(conn: sqlite3.Connection, venue: sqlite3.Row, first: datetime) -> int:
    """Places of the venue's slots starting on the day from `first` that a closure covers."""
    length = timedelta(minutes=venue["slot_minutes"])
    closures = conn.execute(
        "SELECT starts_at, ends_at FROM closures WHERE venue_id = ? AND starts_at < ? "
        "AND ends_at > ?",
        (venue["id"], _utc(first + timedelta(days=1) + length), _utc(first)),
    ).fetchall()
    if not closures:
        return 0
    spans = [(datetime.fromisoformat(c[0]), datetime.fromisoformat(c[1])) for c in closures]
    hours = tuple(OpeningHours(**h) for h in json.loads(venue["opening_hours"]))
    closed = sum(
        1
        for start in slot_starts_on(
            hours, venue["slot_minutes"], first.date(), venue["buffer_minutes"]
        )
        if any(s < start + length and e > start for s, e in spans)
    )
    return closed * int(venue["capacity"])


def _whole_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The city days wholly inside [start, end): [first, last)."""
    local_start, local_end = start.astimezone(CITY_TZ), end.astimezone(CITY_TZ)
    first = local_start.date()
    if local_start.time() != time(0, 0):
        first += timedelta(days=1)
    return first, local_end.date()


def _edges(
    start: datetime, end: datetime, first: date, last: date
) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) before the city day `first` and from the day `last`."""
    edges = []
    head = datetime.combine(first, time(0, 0), CITY_TZ)
    tail = datetime.combine(last, time(0, 0), CITY_TZ)
    if start < head:
        edges.append((start, head))
    if tail < end:
        edges.append((tail, end))
    return edges


def _weekday_counts(first: date, last: date) -> dict[int, int]:
    """How many of each ISO weekday the days [first, last) hold."""
    days = (last - first).days
    counts = dict.fromkeys(range(1, 8), days // 7)
    for n in range(days % 7):
        counts[(first + timedelta(days=n)).isoweekday()] += 1
    return counts


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
