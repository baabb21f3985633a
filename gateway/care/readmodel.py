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
        if isinstance(event, CareLeadNamed):
            conn.execute(
                "INSERT INTO care_leads (school_id, lead_id) VALUES (?, ?) "
                "ON CONFLICT (school_id) DO UPDATE SET lead_id = excluded.lead_id",
                (event.school_id, event.lead_id),
            )
            changed.add(f"school:{event.school_id}")
            return
        if isinstance(event, IntakeReceived):
            conn.execute(
                "INSERT OR IGNORE INTO intakes (id, file_id, school_id, source, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    event.intake_id,
                    event.file_id,
                    event.school_id,
                    event.source,
                    event.received_at.isoformat(),
                ),
            )
            changed.add(f"school:{event.school_id}")
            return
        if isinstance(event, FileOpened):
            conn.execute(
                "INSERT OR IGNORE INTO files (id, school_id, class_id, district_id, source, "
                "opened_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event.file_id,
                    event.school_id,
                    event.class_id,
                    event.district_id,
                    event.source,
                    event.opened_at.isoformat(),
                ),
            )
            # The intake this file was opened from (if any) is no longer waiting.
            conn.execute("DELETE FROM intakes WHERE file_id = ?", (event.file_id,))
            self._timeline(conn, event.file_id, event.opened_at.isoformat(), "opened", event.source)
        elif isinstance(event, FileStatusChanged):
            conn.execute("UPDATE files SET status = ? WHERE id = ?", (event.status, event.file_id))
            self._timeline(
                conn, event.file_id, event.changed_at.isoformat(), "status", event.status
            )
        elif isinstance(event, LeadAssigned):
            conn.execute(
                "UPDATE files SET lead_id = ? WHERE id = ?", (event.lead_id, event.file_id)
            )
            self._timeline(
                conn, event.file_id, event.assigned_at.isoformat(), "lead-assigned", event.lead_id
            )
        elif isinstance(event, ReviewScheduled):
            conn.execute(
                "UPDATE files SET review_on = ?, review_overdue_on = NULL WHERE id = ?",
                (event.review_on.isoformat(), event.file_id),
            )
            self._timeline(
                conn, event.file_id, event.review_on.isoformat(), "review-due", "scheduled"
            )
        elif isinstance(event, ReviewsCleared):
            conn.execute(
                "UPDATE files SET review_on = NULL, review_overdue_on = NULL WHERE id = ?",
                (event.file_id,),
            )
        elif isinstance(event, ReviewOverdue):
            conn.execute(
                "UPDATE files SET review_overdue_on = ? WHERE id = ?",
                (event.review_on.isoformat(), event.file_id),
            )
            self._timeline(
                conn, event.file_id, event.review_on.isoformat(), "review-overdue", "not reviewed"
            )
        elif isinstance(event, FollowUpRecorded):
            self._timeline(
                conn, event.file_id, event.followed_up_on.isoformat(), "follow-up", event.mode
            )
        elif isinstance(event, HomeTeachingScheduled):
            self._timeline(
                conn,
                event.file_id,
                event.starts_on.isoformat(),
                "home-teaching",
                f"{event.sessions_per_week} a week until {event.ends_on.isoformat()}",
            )
        elif isinstance(event, HomeTeachingSessionDelivered):
            conn.execute(
                "INSERT OR IGNORE INTO home_sessions (id, file_id, delivered_on, hours) "
                "VALUES (?, ?, ?, ?)",
                (event.session_id, event.file_id, event.delivered_on.isoformat(), event.hours),
            )
            self._timeline(
                conn,
                event.file_id,
                event.delivered_on.isoformat(),
                "home-session",
                f"{event.hours:g} hours",
            )
        elif isinstance(event, HomeVisitRecorded):
            # Visits may be recorded late: the latest visit decides, whatever the order.
            conn.execute(
                "UPDATE files SET last_visit_on = ?, next_visit_on = ? WHERE id = ? "
                "AND (last_visit_on IS NULL OR last_visit_on <= ?)",
                (
                    event.visited_on.isoformat(),
                    event.next_visit_on.isoformat() if event.next_visit_on else None,
                    event.file_id,
                    event.visited_on.isoformat(),
                ),
            )
            who = f"{event.mode}, {event.visitors} people" + (
                ", head teacher" if event.head_teacher_went else ""
            )
            self._timeline(conn, event.file_id, event.visited_on.isoformat(), "visit", who)
        elif isinstance(event, BreakGlassOpened):
            self._timeline(
                conn,
                event.file_id,
                event.until.isoformat(),
                "break-glass",
                f"by {event.opened_by} until {event.until.isoformat()}",
            )
        elif isinstance(event, FileErased):
            conn.execute("UPDATE files SET erased = 1 WHERE id = ?", (event.file_id,))
            conn.execute("DELETE FROM timeline WHERE file_id = ?", (event.file_id,))
        else:
            return
        changed.add(f"file:{getattr(event, 'file_id', '')}")

    @staticmethod
    def _timeline(conn: sqlite3.Connection, file_id: str, at: str, kind: str, detail: str) -> None:
        conn.execute(
            "INSERT INTO timeline (file_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            (file_id, at, kind, detail),
        )

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
