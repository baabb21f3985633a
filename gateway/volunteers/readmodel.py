"""The volunteers read model: a SQLite projection of the volunteers boundary's events.

Positions, transactions and change notification come from `SqliteProjection`;
changes notify the ids of the shifts touched (`shiftChanged`).

Tolerant reader: unknown event types are ignored; events about a volunteer or a
shift the model has not seen yet never fail. Derived figures (hours, places
filled, school totals) are recomputed from `sign_ups`, so they stay right
whatever order a tolerant replay brings.

No personal data: volunteers are ids and facts (kind, home school, check status,
hours). Names stay in the volunteers service and are read from it as the caller
(`gateway.core.personal`); a `volunteer-registered.v1` of an old stream still carries
one, and it is dropped on read. An erasure drops what could lead back to the person
(the police check's id) and marks the volunteer erased; figures stay.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from contracts.city import city_today
from contracts.events import ContractEvent
from contracts.volunteers import (
    BackgroundCheckRecorded,
    BackgroundCheckRequested,
    ShiftPublished,
    SignUpCancelled,
    VolunteerCheckedIn,
    VolunteerCheckedOut,
    VolunteerErased,
    VolunteerRegistered,
    VolunteerRegisteredV1,
    VolunteerSignedUp,
)
from gateway.core.pagination import InvalidCursorError, Page, decode_cursor, encode_cursor
from gateway.core.projection import SqliteProjection

ACTIVE = ("signed-up", "checked-in", "checked-out")  # Statuses that hold a place.
# Changed shifts kept for pushes, at most (a semester's busiest shifts, a few MB).
RECENT_SHIFTS = 10_000

REGISTER = (
    "INSERT INTO volunteers (id, kind, school_id, registered_at, erased_at) "
    "VALUES (?, ?, ?, ?, (SELECT erased_at FROM erasures WHERE volunteer_id = ?)) "
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
    "school_id = excluded.school_id, registered_at = excluded.registered_at"
)
FOLD_CHECK = (
    "UPDATE volunteers SET (check_status, check_id, check_expires_on) = "
    "(SELECT check_status, check_id, check_expires_on FROM background_checks "
    "WHERE volunteer_id = volunteers.id) "
    "WHERE id = ? AND EXISTS "
    "(SELECT 1 FROM background_checks WHERE background_checks.volunteer_id = volunteers.id)"
)
# A sign-up's status, and a check-out's hours and school (?4 is 0 and ?5 NULL otherwise):
# one statement for both, so that a run's sign-ups and check-outs go in order in one call.
SIGN_UP = (
    "INSERT INTO sign_ups (shift_id, volunteer_id, status, hours, school_id) "
    "VALUES (?1, ?2, ?3, ?4, COALESCE(?5, (SELECT school_id FROM shifts WHERE id = ?1))) "
    "ON CONFLICT (shift_id, volunteer_id) DO UPDATE SET status = excluded.status, "
    "hours = sign_ups.hours + excluded.hours, school_id = COALESCE(?5, sign_ups.school_id)"
)
# The event carries the authoritative figure; an unknown shift gets it on publication.
PLACES = "UPDATE shifts SET places_filled = ? WHERE id = ?"
VOLUNTEER_HOURS = (
    "UPDATE volunteers SET hours = "
    "(SELECT ROUND(COALESCE(SUM(hours), 0), 2) FROM sign_ups WHERE volunteer_id = ?) "
    "WHERE id = ?"
)
SCHOOL_HOURS = (
    "INSERT INTO school_hours (school_id, hours, volunteers) "
    "SELECT ?, ROUND(COALESCE(SUM(hours), 0), 2), COUNT(DISTINCT volunteer_id) "
    "FROM sign_ups "
    "WHERE school_id = ? AND hours > 0 "
    "ON CONFLICT (school_id) DO UPDATE SET hours = excluded.hours, "
    "volunteers = excluded.volunteers"
)

# Events written a run at a time (`VolunteersReadModel.apply_events`).
REGISTRATIONS = (VolunteerRegistered, VolunteerRegisteredV1)
WORKED = (*REGISTRATIONS, VolunteerCheckedOut)  # Events after which hours are summed.
RUN_EVENTS = (
    *REGISTRATIONS,
    VolunteerSignedUp,
    SignUpCancelled,
    VolunteerCheckedIn,
    VolunteerCheckedOut,
)
RunEvent = (
    VolunteerRegistered
    | VolunteerRegisteredV1
    | VolunteerSignedUp
    | SignUpCancelled
    | VolunteerCheckedIn
    | VolunteerCheckedOut
)
_SIGN_UP_STATUS: dict[type, str] = {
    VolunteerSignedUp: "signed-up",
    SignUpCancelled: "cancelled",
    VolunteerCheckedIn: "checked-in",
}


def _sign_up_row(event: ContractEvent) -> tuple[str, str, str, float, str | None]:
    if isinstance(event, VolunteerCheckedOut):
        return (event.shift_id, event.volunteer_id, "checked-out", event.hours, event.school_id)
    assert isinstance(event, VolunteerSignedUp | SignUpCancelled | VolunteerCheckedIn)
    return (event.shift_id, event.volunteer_id, _SIGN_UP_STATUS[type(event)], 0.0, None)


def _unique(events: Sequence[Any], field: str) -> list[str]:
    """The events' values of a field, each once, in first-seen order."""
    return list(dict.fromkeys(getattr(e, field) for e in events))


def _registration(event: ContractEvent) -> VolunteerRegistered:
    if isinstance(event, VolunteerRegisteredV1):
        return event.upcast()  # The name is not kept.
    assert isinstance(event, VolunteerRegistered)
    return event


TABLES_DDL = """
CREATE TABLE IF NOT EXISTS volunteers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    school_id TEXT,
    check_status TEXT NOT NULL DEFAULT 'none',
    check_id TEXT,
    check_expires_on TEXT,
    hours REAL NOT NULL DEFAULT 0,
    registered_at TEXT NOT NULL,
    erased_at TEXT
);
CREATE INDEX IF NOT EXISTS volunteers_by_registration ON volunteers (registered_at, id);
CREATE INDEX IF NOT EXISTS volunteers_by_school ON volunteers (school_id, registered_at, id);
CREATE TABLE IF NOT EXISTS erasures (
    volunteer_id TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS background_checks (
    volunteer_id TEXT PRIMARY KEY,
    check_status TEXT NOT NULL,
    check_id TEXT,
    check_expires_on TEXT
);
CREATE TABLE IF NOT EXISTS shifts (
    id TEXT PRIMARY KEY,
    school_id TEXT NOT NULL,
    post TEXT NOT NULL,
    title TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    child_facing INTEGER NOT NULL,
    places_filled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS shifts_by_start ON shifts (starts_at, id);
CREATE INDEX IF NOT EXISTS shifts_by_school ON shifts (school_id, starts_at, id);
CREATE TABLE IF NOT EXISTS sign_ups (
    shift_id TEXT NOT NULL,
    volunteer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    hours REAL NOT NULL DEFAULT 0,
    school_id TEXT,
    PRIMARY KEY (shift_id, volunteer_id)
);
CREATE INDEX IF NOT EXISTS sign_ups_by_volunteer ON sign_ups (volunteer_id, shift_id);
CREATE INDEX IF NOT EXISTS sign_ups_by_school ON sign_ups (school_id);
CREATE TABLE IF NOT EXISTS school_hours (
    school_id TEXT PRIMARY KEY,
    hours REAL NOT NULL,
    volunteers INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS school_hours_by_hours ON school_hours (hours DESC, school_id);
"""


@dataclass(frozen=True)
class VolunteerRow:
    id: str
    kind: str
    school_id: str | None
    check_status: str
    check_id: str | None
    check_expires_on: date | None
    hours: float
    registered_at: datetime
    erased: bool = False


@dataclass(frozen=True)
class ShiftRow:
    id: str
    school_id: str
    post: str
    title: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    child_facing: bool
    places_filled: int

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.places_filled, 0)


@dataclass(frozen=True)
class SignUpRow:
    shift_id: str
    volunteer_id: str
    status: str
    hours: float
    school_id: str | None = None  # The shift's school, once the shift is known.


UNKNOWN_KIND = "unknown"
"""The kind of a volunteer credited with hours whose registration the model has not seen."""


@dataclass(frozen=True)
class SchoolHoursRow:
    school_id: str
    hours: float
    volunteers: int
    by_kind: dict[str, int] = field(default_factory=dict)
    """Volunteers credited with hours there, by kind (disjoint; they add up to the total)."""


@dataclass(frozen=True)
class ChildFacingChecksRow:
    school_id: str
    places_held: int
    """Places held on the school's child-facing shifts not over yet."""
    checked: int
    """Of them, those whose volunteer's passed check is still valid on the shift's day."""


def _utc(moment: datetime) -> str:
    """Datetimes are stored in UTC ISO form so that they sort as text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _today() -> date:
    """A check valid until a day is valid through the city's whole day."""
    return city_today()


class VolunteersReadModel(SqliteProjection):
    """Volunteers, shifts, sign-ups and school hours, kept up to date from events."""

    SCHEMA = TABLES_DDL
    # 2: no display_name (names stay in the volunteers service); erasures.
    VERSION = 2
    TABLES = (
        "volunteers",
        "erasures",
        "background_checks",
        "shifts",
        "sign_ups",
        "school_hours",
    )
    DUMPED = {
        "volunteers": "id",
        "erasures": "volunteer_id",
        "background_checks": "volunteer_id",
        "shifts": "id",
        "sign_ups": "shift_id, volunteer_id",
        "school_hours": "school_id",
    }

    def __init__(
        self,
        path: Path | str,
        *,
        today: Callable[[], date] = _today,
        busy_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(path, busy_timeout_s=busy_timeout_s)
        self._today = today
        # Shifts as the last batch that changed them left them, for `shiftChanged` pushes.
        self._recent_shifts: dict[str, ShiftRow] = {}

    def after_commit(self, conn: sqlite3.Connection, changed: set[str]) -> None:
        """Keep the changed shifts as they now are: a push reads them without waiting for
        the lock while the projector applies the next batch (the hook runs before the
        change is announced, so a push never sees an older row than its change made)."""
        ids = list(changed)
        marks = ",".join("?" * len(ids))
        rows = conn.execute(f"SELECT * FROM shifts WHERE id IN ({marks})", ids).fetchall()
        recent = self._recent_shifts
        for row in rows:
            recent.pop(row["id"], None)  # Newest last: the oldest go first when full.
            recent[row["id"]] = self._shift(row)
        while len(recent) > RECENT_SHIFTS:
            del recent[next(iter(recent))]

    def forget_recent(self, keys: set[str] | None = None) -> None:
        if keys is None:
            self._recent_shifts.clear()
        for key in keys or ():
            self._recent_shifts.pop(key, None)

    def recent_shift(self, shift_id: str) -> ShiftRow | None:
        """The shift as the last batch that changed it left it, if that was recent (no
        database read: callable on the event loop)."""
        return self._recent_shifts.get(shift_id)

    def apply_events(
        self, conn: sqlite3.Connection, events: Sequence[ContractEvent], changed: set[str]
    ) -> None:
        """A term's busiest events (registrations, sign-ups, check-ins, check-outs) are
        written a run at a time, with one `executemany` per statement; the others (a shift
        published, a check, an erasure) end a run and are written on their own.

        Within a run, each statement writes what the run's other statements do not read
        (the volunteers' rows, the sign-ups, the shifts' places), in the events' order,
        and totals (hours per volunteer and school) are computed once at the end from
        what the run wrote: the run ends in the state its events one by one end in.
        """
        run: list[RunEvent] = []
        for event in events:
            if isinstance(event, RUN_EVENTS):
                run.append(event)
                continue
            self._write_run(conn, run, changed)
            run = []
            self.apply_event(conn, event, changed)
        self._write_run(conn, run, changed)

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        match event:
            case VolunteerRegistered():
                self._registered(conn, event)
            case VolunteerRegisteredV1():
                self._registered(conn, event.upcast())  # The name is not kept.
            case VolunteerErased():
                self._erased(conn, event)
            case BackgroundCheckRequested():
                self._check(conn, event.volunteer_id, "requested", event.check_id, None)
            case BackgroundCheckRecorded():
                expires = event.expires_on.isoformat() if event.expires_on else None
                self._check(conn, event.volunteer_id, event.outcome, event.check_id, expires)
            case ShiftPublished():
                self._shift_published(conn, event)
                changed.add(event.shift_id)
            case VolunteerSignedUp() | SignUpCancelled() | VolunteerCheckedIn():
                self._write_run(conn, [event], changed)
            case VolunteerCheckedOut():
                self._write_run(conn, [event], changed)
            case _:
                pass  # Tolerant reader: events this model does not use are ignored.

    # -- event handlers ---------------------------------------------------------------------

    def _registered(self, conn: sqlite3.Connection, event: VolunteerRegistered) -> None:
        self._write_run(conn, [event], set())

    def _write_run(
        self, conn: sqlite3.Connection, run: Sequence[RunEvent], changed: set[str]
    ) -> None:
        if not run:
            return
        registered = [_registration(e) for e in run if isinstance(e, REGISTRATIONS)]
        if registered:
            conn.executemany(
                REGISTER,
                [
                    (e.volunteer_id, e.kind, e.school_id, _utc(e.registered_at), e.volunteer_id)
                    for e in registered
                ],
            )
            # A check may have arrived first (tolerant replay): fold it in.
            conn.executemany(FOLD_CHECK, [(i,) for i in _unique(registered, "volunteer_id")])
        sign_ups = [e for e in run if not isinstance(e, REGISTRATIONS)]
        if sign_ups:
            conn.executemany(SIGN_UP, [_sign_up_row(e) for e in sign_ups])
        places = [
            (e.places_filled, e.shift_id)
            for e in sign_ups
            if isinstance(e, VolunteerSignedUp | SignUpCancelled)
        ]
        if places:
            # In order: the last event of a shift leaves its figure.
            conn.executemany(PLACES, places)
            changed.update(shift_id for _, shift_id in places)
        # Hours may have arrived before a registration too (a check-out replayed first).
        worked = [e for e in run if isinstance(e, WORKED)]
        volunteers = _unique(worked, "volunteer_id")
        if volunteers:
            conn.executemany(VOLUNTEER_HOURS, [(v, v) for v in volunteers])
        schools = _unique([e for e in run if isinstance(e, VolunteerCheckedOut)], "school_id")
        if schools:
            conn.executemany(SCHOOL_HOURS, [(s, s) for s in schools])

    @staticmethod
    def _erased(conn: sqlite3.Connection, event: VolunteerErased) -> None:
        # Kept apart as well, so that an erasure replayed before its registration holds.
        conn.execute(
            "INSERT INTO erasures (volunteer_id, erased_at) VALUES (?, ?) "
            "ON CONFLICT (volunteer_id) DO NOTHING",
            (event.volunteer_id, _utc(event.erased_at)),
        )
        # The check's id names the person in public security's register: it goes. The
        # outcome, the kind, the home school and the hours are facts the figures need.
        conn.execute(
            "UPDATE volunteers SET check_id = NULL, "
            "erased_at = (SELECT erased_at FROM erasures WHERE volunteer_id = ?) WHERE id = ?",
            (event.volunteer_id, event.volunteer_id),
        )
        conn.execute(
            "UPDATE background_checks SET check_id = NULL WHERE volunteer_id = ?",
            (event.volunteer_id,),
        )

    def _check(
        self,
        conn: sqlite3.Connection,
        volunteer_id: str,
        status: str,
        check_id: str,
        expires_on: str | None,
    ) -> None:
        # Kept apart as well, so that a check seen before its volunteer is not lost.
        erased = conn.execute(
            "SELECT 1 FROM erasures WHERE volunteer_id = ?", (volunteer_id,)
        ).fetchone()
        kept_id = None if erased else check_id
        conn.execute(
            "INSERT INTO background_checks (volunteer_id, check_status, check_id, "
            "check_expires_on) VALUES (?, ?, ?, ?) ON CONFLICT (volunteer_id) DO UPDATE SET "
            "check_status = excluded.check_status, check_id = excluded.check_id, "
            "check_expires_on = excluded.check_expires_on",
            (volunteer_id, status, kept_id, expires_on),
        )
        conn.execute(
            "UPDATE volunteers SET check_status = ?, check_id = ?, check_expires_on = ? "
            "WHERE id = ?",
            (status, kept_id, expires_on, volunteer_id),
        )

    def _shift_published(self, conn: sqlite3.Connection, event: ShiftPublished) -> None:
        conn.execute(
            "INSERT INTO shifts (id, school_id, post, title, starts_at, ends_at, capacity, "
            "child_facing, places_filled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "(SELECT COUNT(*) FROM sign_ups WHERE shift_id = ? AND status IN (?, ?, ?))) "
            "ON CONFLICT (id) DO UPDATE SET school_id = excluded.school_id, "
            "post = excluded.post, title = excluded.title, starts_at = excluded.starts_at, "
            "ends_at = excluded.ends_at, capacity = excluded.capacity, "
            "child_facing = excluded.child_facing",
            (
                event.shift_id,
                event.school_id,
                event.post,
                event.title,
                _utc(event.starts_at),
                _utc(event.ends_at),
                event.capacity,
                int(event.child_facing),
                event.shift_id,
                *ACTIVE,
            ),
        )
        conn.execute(
            "UPDATE sign_ups SET school_id = ? WHERE shift_id = ? AND school_id IS NULL",
            (event.school_id, event.shift_id),
        )

    # -- reads ------------------------------------------------------------------------------

    def _volunteer(self, row: sqlite3.Row) -> VolunteerRow:
        expires = date.fromisoformat(row["check_expires_on"]) if row["check_expires_on"] else None
        status = row["check_status"]
        if status == "passed" and expires is not None and expires < self._today():
            status = "expired"
        return VolunteerRow(
            id=row["id"],
            kind=row["kind"],
            school_id=row["school_id"],
            check_status=status,
            check_id=row["check_id"],
            check_expires_on=expires,
            hours=float(row["hours"]),
            registered_at=datetime.fromisoformat(row["registered_at"]),
            erased=row["erased_at"] is not None,
        )

    @staticmethod
    def _shift(row: sqlite3.Row) -> ShiftRow:
        return ShiftRow(
            id=row["id"],
            school_id=row["school_id"],
            post=row["post"],
            title=row["title"],
            starts_at=datetime.fromisoformat(row["starts_at"]),
            ends_at=datetime.fromisoformat(row["ends_at"]),
            capacity=int(row["capacity"]),
            child_facing=bool(row["child_facing"]),
            places_filled=int(row["places_filled"]),
        )

    @staticmethod
    def _sign_up(row: sqlite3.Row) -> SignUpRow:
        return SignUpRow(
            shift_id=row["shift_id"],
            volunteer_id=row["volunteer_id"],
            status=row["status"],
            hours=float(row["hours"]),
            school_id=row["school_id"],
        )

    def volunteer(self, volunteer_id: str) -> VolunteerRow | None:
        return self.volunteers_by_id([volunteer_id]).get(volunteer_id)

    def volunteers_by_id(self, ids: Sequence[str]) -> dict[str, VolunteerRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._locked() as conn:
            rows = conn.execute(f"SELECT * FROM volunteers WHERE id IN ({marks})", list(ids))
            return {row["id"]: self._volunteer(row) for row in rows.fetchall()}

    def volunteers(
        self,
        *,
        first: int,
        after: str | None = None,
        school_id: str | None = None,
        school_ids: Sequence[str] | None = None,
    ) -> Page[VolunteerRow]:
        """Volunteers by registration time (then id), optionally of one school or of some schools.

        `school_ids` (when not None) keeps only volunteers whose home school is one of
        them: an empty sequence gives an empty page.
        """
        where: list[str] = []
        params: list[Any] = []
        if school_id is not None:
            where.append("school_id = ?")
            params.append(school_id)
        if school_ids is not None:
            schools = sorted(set(school_ids))
            where.append(f"school_id IN ({','.join('?' * len(schools))})" if schools else "0")
            params += schools
        if after is not None:
            # A cursor of the former order (by name) is refused, not misread.
            registered, vid = decode_cursor("volunteer-registered", after, 2)
            where.append("(registered_at, id) > (?, ?)")
            params += [registered, vid]
        sql = "SELECT * FROM volunteers"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY registered_at, id LIMIT ?"
        with self._locked() as conn:
            rows = conn.execute(sql, [*params, first + 1]).fetchall()
            items = [self._volunteer(row) for row in rows[:first]]
            keys = [(row["registered_at"], row["id"]) for row in rows[:first]]
        return Page(
            rows=items,
            cursors=[encode_cursor("volunteer-registered", *key) for key in keys],
            has_next=len(rows) > first,
        )

    def shift(self, shift_id: str) -> ShiftRow | None:
        return self.shifts_by_id([shift_id]).get(shift_id)

    def shifts_by_id(self, ids: Sequence[str]) -> dict[str, ShiftRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._locked() as conn:
            rows = conn.execute(f"SELECT * FROM shifts WHERE id IN ({marks})", list(ids))
            return {row["id"]: self._shift(row) for row in rows.fetchall()}

    def shifts(
        self, *, first: int, after: str | None = None, school_id: str | None = None
    ) -> Page[ShiftRow]:
        """Shifts by start time (then id), optionally at one school."""
        where, params = [], []
        if school_id is not None:
            where.append("school_id = ?")
            params.append(school_id)
        if after is not None:
            starts_at, sid = decode_cursor("shift", after, 2)
            where.append("(starts_at, id) > (?, ?)")
            params += [starts_at, sid]
        sql = "SELECT * FROM shifts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY starts_at, id LIMIT ?"
        with self._locked() as conn:
            rows = conn.execute(sql, [*params, first + 1]).fetchall()
        page_rows = rows[:first]
        return Page(
            rows=[self._shift(row) for row in page_rows],
            cursors=[encode_cursor("shift", r["starts_at"], r["id"]) for r in page_rows],
            has_next=len(rows) > first,
        )

    def open_places(self, now: datetime) -> tuple[int, int]:
        """Shifts starting after `now`, and their places still free: one read, whatever the
        number of shifts (a page listing them all would take one request per hundred)."""
        with self._locked() as conn:
            row = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(MAX(capacity - places_filled, 0)), 0) "
                "FROM shifts WHERE starts_at > ?",
                (_utc(now),),
            ).fetchone()
        return int(row[0]), int(row[1])

    def school_hours(self, *, first: int, after: str | None = None) -> Page[SchoolHoursRow]:
        """Schools by hours credited, most first (then by school id), with their volunteers
        by kind (read in the same transaction, so the kinds add up to the school's total)."""
        params: list[Any] = []
        sql = "SELECT * FROM school_hours"
        if after is not None:
            hours, school = decode_cursor("school-hours", after, 2)
            if not isinstance(hours, int | float):
                raise InvalidCursorError("the cursor is not valid")
            sql += " WHERE hours < ? OR (hours = ? AND school_id > ?)"
            params += [hours, hours, school]
        sql += " ORDER BY hours DESC, school_id LIMIT ?"
        with self._locked() as conn:
            rows = conn.execute(sql, [*params, first + 1]).fetchall()
            by_kind = self._volunteers_by_kind(conn, [r["school_id"] for r in rows[:first]])
        items = [
            SchoolHoursRow(
                r["school_id"],
                float(r["hours"]),
                sum(by_kind.get(r["school_id"], {}).values()),
                by_kind.get(r["school_id"], {}),
            )
            for r in rows[:first]
        ]
        return Page(
            rows=items,
            cursors=[encode_cursor("school-hours", s.hours, s.school_id) for s in items],
            has_next=len(rows) > first,
        )

    def child_facing_checks(self, now: datetime) -> list[ChildFacingChecksRow]:
        """Per school, places held on child-facing shifts not over at `now`, and how many of
        them a volunteer with a passed background check valid on the shift's day holds.

        A check is required to sign up, but it may expire or be replaced by a failed one
        before the shift: the difference is what the figure is for."""
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT s.school_id, COUNT(*) AS held, "
                "SUM(CASE WHEN b.check_status = 'passed' AND (b.check_expires_on IS NULL "
                "OR b.check_expires_on >= substr(s.starts_at, 1, 10)) THEN 1 ELSE 0 END) "
                "AS checked FROM shifts s "
                "JOIN sign_ups u ON u.shift_id = s.id "
                "LEFT JOIN background_checks b ON b.volunteer_id = u.volunteer_id "
                "WHERE s.child_facing = 1 AND s.ends_at >= ? AND u.status IN (?, ?, ?) "
                "GROUP BY s.school_id ORDER BY s.school_id",
                (_utc(now), *ACTIVE),
            ).fetchall()
        return [
            ChildFacingChecksRow(r["school_id"], int(r["held"]), int(r["checked"])) for r in rows
        ]

    @staticmethod
    def _volunteers_by_kind(
        conn: sqlite3.Connection, schools: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        if not schools:
            return {}
        marks = ",".join("?" * len(schools))
        rows = conn.execute(
            "SELECT s.school_id, COALESCE(v.kind, ?) AS kind, "
            "COUNT(DISTINCT s.volunteer_id) AS volunteers "
            "FROM sign_ups s LEFT JOIN volunteers v ON v.id = s.volunteer_id "
            f"WHERE s.school_id IN ({marks}) AND s.hours > 0 GROUP BY s.school_id, kind",
            [UNKNOWN_KIND, *schools],
        ).fetchall()
        found: dict[str, dict[str, int]] = {}
        for row in rows:
            found.setdefault(row["school_id"], {})[row["kind"]] = int(row["volunteers"])
        return found

    def sign_ups_for_shifts(self, shift_ids: Sequence[str]) -> dict[str, list[SignUpRow]]:
        return self._sign_ups_by("shift_id", shift_ids)

    def sign_ups_for_volunteers(self, volunteer_ids: Sequence[str]) -> dict[str, list[SignUpRow]]:
        return self._sign_ups_by("volunteer_id", volunteer_ids)

    def _sign_ups_by(self, column: str, keys: Sequence[str]) -> dict[str, list[SignUpRow]]:
        out: dict[str, list[SignUpRow]] = {key: [] for key in keys}
        if not keys:
            return out
        marks = ",".join("?" * len(keys))
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM sign_ups WHERE {column} IN ({marks}) "
                "ORDER BY shift_id, volunteer_id",
                list(keys),
            ).fetchall()
        for row in rows:
            out[row[column]].append(self._sign_up(row))
        return out
