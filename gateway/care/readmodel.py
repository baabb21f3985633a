"""The care read model: a SQLite projection of the care boundary's events.

No personal data, and nothing that says why a child is in care: files are opaque ids
with their school, class and district, status, lead, next review and visits, as the
care service publishes them. Worklists and timelines are for staff in scope (the
feature's policy); coverage leaves the gateway only as suppressed counts.

An erased file stays in the figures (it was in care, and was visited) but drops out of
every worklist and timeline.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from contracts.care import (
    BreakGlassOpened,
    CareLeadNamed,
    FileErased,
    FileOpened,
    FileStatusChanged,
    FollowUpRecorded,
    HomeTeachingScheduled,
    HomeTeachingSessionDelivered,
    HomeVisitRecorded,
    IntakeReceived,
    LeadAssigned,
    ReviewOverdue,
    ReviewScheduled,
    ReviewsCleared,
)
from contracts.events import ContractEvent
from gateway.care import due
from gateway.core.pagination import InvalidCursorError, Page, decode_cursor, encode_cursor
from gateway.core.projection import SqliteProjection

Level = Literal["class", "school", "district"]

TABLES_DDL = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    school_id TEXT NOT NULL,
    class_id TEXT NOT NULL,
    district_id TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    opened_at TEXT NOT NULL,
    lead_id TEXT,
    review_on TEXT,
    last_visit_on TEXT,
    next_visit_on TEXT,
    review_overdue_on TEXT,
    erased INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS home_sessions (
    id TEXT PRIMARY KEY,
    file_id TEXT NOT NULL,
    delivered_on TEXT NOT NULL,
    hours REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS home_sessions_by_day ON home_sessions (delivered_on);
CREATE INDEX IF NOT EXISTS files_by_school ON files (school_id, id);
CREATE INDEX IF NOT EXISTS files_by_lead ON files (lead_id, school_id, id);
CREATE TABLE IF NOT EXISTS care_leads (
    school_id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS intakes (
    id TEXT PRIMARY KEY,
    file_id TEXT NOT NULL,
    school_id TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timeline (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_by_file ON timeline (file_id, seq);
"""


@dataclass(frozen=True)
class FileRow:
    id: str
    school_id: str
    class_id: str
    district_id: str
    source: str
    status: str
    lead_id: str | None
    review_on: date | None
    last_visit_on: date | None
    next_visit_on: date | None
    review_overdue_on: date | None = None

    def review_overdue(self, today: date) -> bool:
        # The service's deadline flagged it (on its clock), or its date has passed.
        return self.review_overdue_on is not None or due.review_overdue(self.review_on, today)

    def visit_due(self, today: date) -> bool:
        return due.visit_due(self.last_visit_on, self.next_visit_on, today)


@dataclass(frozen=True)
class TimelineRow:
    seq: int
    at: str
    kind: str
    detail: str


@dataclass(frozen=True)
class HomeTeachingRow:
    key: str
    children: int
    sessions: int
    hours: float


@dataclass(frozen=True)
class CoverageRow:
    key: str
    files: int
    visited: int


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _file(row: sqlite3.Row) -> FileRow:
    return FileRow(
        id=row["id"],
        school_id=row["school_id"],
        class_id=row["class_id"],
        district_id=row["district_id"],
        source=row["source"],
        status=row["status"],
        lead_id=row["lead_id"],
        review_on=_day(row["review_on"]),
        last_visit_on=_day(row["last_visit_on"]),
        next_visit_on=_day(row["next_visit_on"]),
        review_overdue_on=_day(row["review_overdue_on"]),
    )


class CareReadModel(SqliteProjection):
    SCHEMA = TABLES_DDL
    TABLES = ("files", "care_leads", "intakes", "timeline", "home_sessions")
    DUMPED = {
        "files": "id",
        "home_sessions": "id",
        "care_leads": "school_id",
        "intakes": "id",
        "timeline": "file_id, seq",
    }
    VERSION = 2

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        for _, sql, params in _statements(event, changed):
            conn.execute(sql, params)

    def apply_events(
        self, conn: sqlite3.Connection, events: Sequence[ContractEvent], changed: set[str]
    ) -> None:
        """A batch's statements, with each run of one statement written by one `executemany`.

        Every statement here reads and writes one table only. So the batch ends where
        its events one by one end as long as each table's statements keep their order:
        they are gathered per table, in order, and a statement repeated (a term's visits,
        the timeline's lines) extends the run of the one before it.
        """
        runs: dict[str, list[tuple[str, list[Params]]]] = {}
        for event in events:
            for table, sql, params in _statements(event, changed):
                table_runs = runs.setdefault(table, [])
                if table_runs and table_runs[-1][0] is sql:
                    table_runs[-1][1].append(params)
                else:
                    table_runs.append((sql, [params]))
        for table_runs in runs.values():
            for sql, rows in table_runs:
                conn.executemany(sql, rows)

    # -- reads --------------------------------------------------------------------------
    def file(self, file_id: str) -> FileRow | None:
        with self._locked() as conn:
            row = conn.execute(
                "SELECT * FROM files WHERE id = ? AND erased = 0", (file_id,)
            ).fetchone()
        return _file(row) if row else None

    def care_lead(self, school_id: str) -> str | None:
        with self._locked() as conn:
            row = conn.execute(
                "SELECT lead_id FROM care_leads WHERE school_id = ?", (school_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def led_schools(self, account: str) -> list[str]:
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT school_id FROM care_leads WHERE lead_id = ?", (account,)
            ).fetchall()
        return [r[0] for r in rows]

    def worklist(
        self,
        *,
        today: date,
        first: int,
        after: str | None,
        school_ids: tuple[str, ...] | None,
        lead_id: str | None,
    ) -> Page[FileRow]:
        """Open files needing attention (review overdue or visit due), by school then id.

        `school_ids` limits them to those schools (None: every school); `lead_id` adds the
        files that person leads, wherever they are.
        """
        params: dict[str, Any] = due.sql_params(today)
        reach = []
        if school_ids is None:
            reach.append("1 = 1")
        elif school_ids:
            marks = ", ".join(f":s{i}" for i in range(len(school_ids)))
            reach.append(f"school_id IN ({marks})")
            params |= {f"s{i}": s for i, s in enumerate(school_ids)}
        if lead_id is not None:
            reach.append("lead_id = :lead")
            params["lead"] = lead_id
        if not reach:
            return Page(rows=[], cursors=[], has_next=False)
        sql = (
            "SELECT * FROM files WHERE erased = 0 AND status != 'closed' "
            f"AND ({' OR '.join(reach)}) "
            f"AND (review_overdue_on IS NOT NULL OR {due.REVIEW_OVERDUE_SQL} "
            f"OR {due.VISIT_DUE_SQL})"
        )
        if after is not None:
            school, file_id = decode_cursor("care-worklist", after, 2)
            sql += " AND (school_id > :cs OR (school_id = :cs AND id > :cf))"
            params |= {"cs": str(school), "cf": str(file_id)}
        sql += " ORDER BY school_id, id LIMIT :limit"
        params["limit"] = first + 1
        with self._locked() as conn:
            rows = conn.execute(sql, params).fetchall()
        items = [_file(r) for r in rows[:first]]
        return Page(
            rows=items,
            cursors=[encode_cursor("care-worklist", f.school_id, f.id) for f in items],
            has_next=len(rows) > first,
        )

    def intakes_waiting(self, school_ids: tuple[str, ...] | None) -> dict[str, int]:
        """Intakes waiting for a file, counted per school (a worklist's heads-up)."""
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT school_id, COUNT(*) FROM intakes GROUP BY school_id ORDER BY school_id"
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows if school_ids is None or r[0] in school_ids}

    def intake_ids(self, school_id: str) -> list[str]:
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT id FROM intakes WHERE school_id = ? ORDER BY received_at, id", (school_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def timeline(self, file_id: str, *, first: int, after: str | None) -> Page[TimelineRow]:
        params: list[Any] = [file_id]
        sql = "SELECT seq, at, kind, detail FROM timeline WHERE file_id = ?"
        if after is not None:
            (seq,) = decode_cursor("care-timeline", after, 1)
            if not isinstance(seq, int):
                raise InvalidCursorError("the cursor is not valid")
            sql += " AND seq > ?"
            params.append(seq)
        sql += " ORDER BY seq LIMIT ?"
        with self._locked() as conn:
            rows = conn.execute(sql, [*params, first + 1]).fetchall()
        items = [TimelineRow(int(r[0]), r[1], r[2], r[3]) for r in rows[:first]]
        return Page(
            rows=items,
            cursors=[encode_cursor("care-timeline", t.seq) for t in items],
            has_next=len(rows) > first,
        )

    def coverage(
        self, level: Level, *, today: date, first: int, after: str | None
    ) -> Page[CoverageRow]:
        """Per class, school or district: files in care this school year, and how many of
        those families were visited since it began (raw counts: suppress before showing)."""
        key = {
            "class": "school_id || '/' || class_id",
            "school": "school_id",
            "district": "district_id",
        }[level]
        params: dict[str, Any] = due.sql_params(today)
        sql = (
            f"SELECT {key} AS k, COUNT(*) AS files, "
            "SUM(CASE WHEN last_visit_on >= :year_start THEN 1 ELSE 0 END) AS visited "
            "FROM files WHERE status != 'closed' GROUP BY k"
        )
        if after is not None:
            (last,) = decode_cursor(f"care-coverage-{level}", after, 1)
            sql = f"SELECT * FROM ({sql}) WHERE k > :after"
            params["after"] = str(last)
        sql += " ORDER BY k LIMIT :limit"
        params["limit"] = first + 1
        with self._locked() as conn:
            rows = conn.execute(sql, params).fetchall()
        items = [CoverageRow(r[0], int(r[1]), int(r[2] or 0)) for r in rows[:first]]
        return Page(
            rows=items,
            cursors=[encode_cursor(f"care-coverage-{level}", c.key) for c in items],
            has_next=len(rows) > first,
        )

    def home_teaching(
        self, level: Level, *, today: date, first: int, after: str | None
    ) -> Page[HomeTeachingRow]:
        """Per class, school or district: children taught at home this school year, the
        sessions delivered and their hours (raw counts: suppress before showing)."""
        key = {
            "class": "f.school_id || '/' || f.class_id",
            "school": "f.school_id",
            "district": "f.district_id",
        }[level]
        params: dict[str, Any] = due.sql_params(today)
        sql = (
            f"SELECT {key} AS k, COUNT(DISTINCT s.file_id) AS children, COUNT(*) AS sessions, "
            "SUM(s.hours) AS hours FROM home_sessions s JOIN files f ON f.id = s.file_id "
            "WHERE s.delivered_on >= :year_start GROUP BY k"
        )
        if after is not None:
            (last,) = decode_cursor(f"care-home-teaching-{level}", after, 1)
            sql = f"SELECT * FROM ({sql}) WHERE k > :after"
            params["after"] = str(last)
        sql += " ORDER BY k LIMIT :limit"
        params["limit"] = first + 1
        with self._locked() as conn:
            rows = conn.execute(sql, params).fetchall()
        items = [
            HomeTeachingRow(r[0], int(r[1]), int(r[2]), float(r[3] or 0)) for r in rows[:first]
        ]
        return Page(
            rows=items,
            cursors=[encode_cursor(f"care-home-teaching-{level}", h.key) for h in items],
            has_next=len(rows) > first,
        )


Params = tuple[Any, ...]
Statement = tuple[str, str, Params]

UPSERT_LEAD = (
    "INSERT INTO care_leads (school_id, lead_id) VALUES (?, ?) "
    "ON CONFLICT (school_id) DO UPDATE SET lead_id = excluded.lead_id"
)
INSERT_INTAKE = (
    "INSERT OR IGNORE INTO intakes (id, file_id, school_id, source, received_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
OPEN_FILE = (
    "INSERT OR IGNORE INTO files (id, school_id, class_id, district_id, source, "
    "opened_at) VALUES (?, ?, ?, ?, ?, ?)"
)
INTAKE_TAKEN = "DELETE FROM intakes WHERE file_id = ?"
SET_STATUS = "UPDATE files SET status = ? WHERE id = ?"
SET_LEAD = "UPDATE files SET lead_id = ? WHERE id = ?"
SCHEDULE_REVIEW = "UPDATE files SET review_on = ?, review_overdue_on = NULL WHERE id = ?"
CLEAR_REVIEWS = "UPDATE files SET review_on = NULL, review_overdue_on = NULL WHERE id = ?"
REVIEW_OVERDUE = "UPDATE files SET review_overdue_on = ? WHERE id = ?"
INSERT_SESSION = (
    "INSERT OR IGNORE INTO home_sessions (id, file_id, delivered_on, hours) VALUES (?, ?, ?, ?)"
)
# Visits may be recorded late: the latest visit decides, whatever the order.
VISIT = (
    "UPDATE files SET last_visit_on = ?, next_visit_on = ? WHERE id = ? "
    "AND (last_visit_on IS NULL OR last_visit_on <= ?)"
)
ERASE_FILE = "UPDATE files SET erased = 1 WHERE id = ?"
ERASE_TIMELINE = "DELETE FROM timeline WHERE file_id = ?"
TIMELINE = "INSERT INTO timeline (file_id, at, kind, detail) VALUES (?, ?, ?, ?)"


def _statements(event: ContractEvent, changed: set[str]) -> list[Statement]:
    """The event's writes as (table, statement, parameters), in order; watched keys added.

    Tolerant reader: an event type the model does not use writes nothing.
    """
    if isinstance(event, CareLeadNamed):
        changed.add(f"school:{event.school_id}")
        return [("care_leads", UPSERT_LEAD, (event.school_id, event.lead_id))]
    if isinstance(event, IntakeReceived):
        changed.add(f"school:{event.school_id}")
        intake: Params = (
            event.intake_id,
            event.file_id,
            event.school_id,
            event.source,
            event.received_at.isoformat(),
        )
        return [("intakes", INSERT_INTAKE, intake)]
    file_id = getattr(event, "file_id", "")
    if isinstance(event, FileOpened):
        opened_at = event.opened_at.isoformat()
        row = (file_id, event.school_id, event.class_id, event.district_id, event.source, opened_at)
        statements = [
            ("files", OPEN_FILE, row),
            # The intake this file was opened from (if any) is no longer waiting.
            ("intakes", INTAKE_TAKEN, (file_id,)),
            _timeline(file_id, opened_at, "opened", event.source),
        ]
    elif isinstance(event, FileStatusChanged):
        statements = [
            ("files", SET_STATUS, (event.status, file_id)),
            _timeline(file_id, event.changed_at.isoformat(), "status", event.status),
        ]
    elif isinstance(event, LeadAssigned):
        statements = [
            ("files", SET_LEAD, (event.lead_id, file_id)),
            _timeline(file_id, event.assigned_at.isoformat(), "lead-assigned", event.lead_id),
        ]
    elif isinstance(event, ReviewScheduled):
        review_on = event.review_on.isoformat()
        statements = [
            ("files", SCHEDULE_REVIEW, (review_on, file_id)),
            _timeline(file_id, review_on, "review-due", "scheduled"),
        ]
    elif isinstance(event, ReviewsCleared):
        statements = [("files", CLEAR_REVIEWS, (file_id,))]
    elif isinstance(event, ReviewOverdue):
        review_on = event.review_on.isoformat()
        statements = [
            ("files", REVIEW_OVERDUE, (review_on, file_id)),
            _timeline(file_id, review_on, "review-overdue", "not reviewed"),
        ]
    elif isinstance(event, FollowUpRecorded):
        statements = [_timeline(file_id, event.followed_up_on.isoformat(), "follow-up", event.mode)]
    elif isinstance(event, HomeTeachingScheduled):
        detail = f"{event.sessions_per_week} a week until {event.ends_on.isoformat()}"
        statements = [_timeline(file_id, event.starts_on.isoformat(), "home-teaching", detail)]
    elif isinstance(event, HomeTeachingSessionDelivered):
        delivered_on = event.delivered_on.isoformat()
        statements = [
            (
                "home_sessions",
                INSERT_SESSION,
                (event.session_id, file_id, delivered_on, event.hours),
            ),
            _timeline(file_id, delivered_on, "home-session", f"{event.hours:g} hours"),
        ]
    elif isinstance(event, HomeVisitRecorded):
        visited_on = event.visited_on.isoformat()
        next_on = event.next_visit_on.isoformat() if event.next_visit_on else None
        who = f"{event.mode}, {event.visitors} people" + (
            ", head teacher" if event.head_teacher_went else ""
        )
        statements = [
            ("files", VISIT, (visited_on, next_on, file_id, visited_on)),
            _timeline(file_id, visited_on, "visit", who),
        ]
    elif isinstance(event, BreakGlassOpened):
        until = event.until.isoformat()
        detail = f"by {event.opened_by} until {until}"
        statements = [_timeline(file_id, until, "break-glass", detail)]
    elif isinstance(event, FileErased):
        statements = [
            ("files", ERASE_FILE, (file_id,)),
            ("timeline", ERASE_TIMELINE, (file_id,)),
        ]
    else:
        return []
    changed.add(f"file:{file_id}")
    return statements


def _timeline(file_id: str, at: str, kind: str, detail: str) -> Statement:
    return ("timeline", TIMELINE, (file_id, at, kind, detail))
