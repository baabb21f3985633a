"""The committees read model: a SQLite projection of the committees boundary's events.

No personal data: committees, members (ids and roles), suggestions (ids, codes, dates,
levels, on-time and ratings), joint meetings' action items (departments, due times,
progress). A suggestion's text, its answer and its submitter stay in
the committees service. Changes notify `suggestion:<department or school>` keys, which
the assignment subscription listens to.

Tolerant reader: unknown types are ignored, and an event about a suggestion not seen yet
creates nothing.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.city import load_city
from contracts.committees import (
    ActionItemAssigned,
    ActionItemCompleted,
    ActionItemEscalated,
    ActionItemProgressed,
    CommitteeFormed,
    CommitteeMemberJoined,
    CommitteeMemberLeft,
    MeetingHeld,
    MeetingScheduled,
    SuggestionAnswered,
    SuggestionAssigned,
    SuggestionClosed,
    SuggestionEscalated,
    SuggestionReopened,
    SuggestionSubmitted,
)
from contracts.events import ContractEvent
from gateway.core.pagination import Page, decode_cursor, encode_cursor
from gateway.core.projection import SqliteProjection

TABLES_DDL = """
CREATE TABLE IF NOT EXISTS committees (
    id TEXT PRIMARY KEY,
    level TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    school_id TEXT,
    district TEXT NOT NULL,
    title TEXT NOT NULL,
    grandparents INTEGER NOT NULL,
    term_ends_on TEXT NOT NULL,
    formed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS committees_by_school ON committees (school_id, level, id);
CREATE TABLE IF NOT EXISTS members (
    committee_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    role TEXT NOT NULL,
    grandparent INTEGER NOT NULL,
    joined_at TEXT NOT NULL,
    PRIMARY KEY (committee_id, member_id)
);
CREATE TABLE IF NOT EXISTS meetings (
    id TEXT PRIMARY KEY,
    committee_id TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    held INTEGER NOT NULL DEFAULT 0,
    attended INTEGER,
    resolutions INTEGER
);
CREATE INDEX IF NOT EXISTS meetings_by_committee ON meetings (committee_id, starts_at);
CREATE TABLE IF NOT EXISTS suggestions (
    id TEXT PRIMARY KEY,
    committee_id TEXT NOT NULL,
    school_id TEXT,
    district TEXT NOT NULL,
    topic TEXT NOT NULL,
    anonymous INTEGER NOT NULL,
    received_on TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'assigned',
    level TEXT NOT NULL DEFAULT 'school',
    department TEXT,
    due_at TEXT,
    escalations INTEGER NOT NULL DEFAULT 0,
    answered_at TEXT,
    answered_by TEXT,
    on_time INTEGER,
    rating INTEGER,
    satisfied INTEGER
);
CREATE INDEX IF NOT EXISTS suggestions_by_submission ON suggestions (submitted_at, id);
CREATE INDEX IF NOT EXISTS suggestions_by_school ON suggestions (school_id, submitted_at, id);
CREATE INDEX IF NOT EXISTS suggestions_by_department ON suggestions (department, submitted_at, id);
CREATE TABLE IF NOT EXISTS action_items (
    id TEXT PRIMARY KEY,
    joint_meeting_id TEXT NOT NULL,
    convened_by TEXT NOT NULL,
    district TEXT,
    title TEXT NOT NULL,
    lead TEXT NOT NULL,
    due_at TEXT NOT NULL,
    assigned_at TEXT NOT NULL,
    percent INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    completed_at TEXT,
    on_time INTEGER,
    escalated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS action_items_by_lead ON action_items (lead, due_at, id);
CREATE TABLE IF NOT EXISTS action_item_departments (
    action_item_id TEXT NOT NULL,
    department TEXT NOT NULL,
    lead INTEGER NOT NULL,
    PRIMARY KEY (department, action_item_id)
);
"""


@dataclass(frozen=True)
class MemberRow:
    member_id: str
    role: str
    grandparent: bool


@dataclass(frozen=True)
class CommitteeRow:
    id: str
    level: str
    scope_id: str
    school_id: str | None
    district: str
    title: str
    grandparents: bool
    term_ends_on: str
    members: tuple[MemberRow, ...]
    meetings: int
    meetings_held: int
    resolutions: int


@dataclass(frozen=True)
class SuggestionRow:
    id: str
    committee_id: str
    school_id: str | None
    district: str
    topic: str
    anonymous: bool
    received_on: str
    submitted_at: datetime
    status: str
    level: str
    department: str | None
    due_at: datetime | None
    escalations: int
    answered_at: datetime | None
    on_time: bool | None
    rating: int | None


@dataclass(frozen=True)
class ActionItemRow:
    id: str
    joint_meeting_id: str
    convened_by: str
    district: str | None
    title: str
    lead: str
    supporters: tuple[str, ...]
    due_at: datetime
    percent: int
    done: bool
    completed_at: datetime | None
    on_time: bool | None
    escalated: bool


@dataclass(frozen=True)
class ActionRate:
    department: str
    assigned: int
    done: int
    on_time: int
    escalated: int


@dataclass(frozen=True)
class Rate:
    key: str
    answered: int
    on_time: int


@dataclass(frozen=True)
class Figures:
    by_status: dict[str, int]
    escalated: int
    overdue: int
    answered: int
    median_days_to_answer: float | None
    p90_days_to_answer: float | None
    on_time_by_school: list[Rate]
    on_time_by_department: list[Rate]
    closed: int
    satisfied: int
    committees_by_level: dict[str, int]
    schools_with_committee: int
    villages_with_grandparent_committee: int
    action_items_by_department: list[ActionRate]
    coverage: Coverage


@dataclass(frozen=True)
class Coverage:
    """Committees against the city's schools and classes (contracts/city.json)."""

    schools: int
    schools_covered: int
    classes: int
    classes_covered: int


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class CommitteesReadModel(SqliteProjection):
    SCHEMA = TABLES_DDL
    TABLES = (
        "committees",
        "members",
        "meetings",
        "suggestions",
        "action_items",
        "action_item_departments",
    )
    DUMPED = {
        "committees": "id",
        "members": "committee_id, member_id",
        "meetings": "id",
        "suggestions": "id",
        "action_items": "id",
        "action_item_departments": "department, action_item_id",
    }
    VERSION = 2

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        if isinstance(event, CommitteeFormed):
            conn.execute(
                "INSERT OR REPLACE INTO committees VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.committee_id,
                    event.level,
                    event.scope_id,
                    event.school_id,
                    event.district,
                    event.title,
                    int(event.grandparents),
                    event.term_ends_on,
                    _utc(event.formed_at),
                ),
            )
        elif isinstance(event, CommitteeMemberJoined):
            conn.execute(
                "INSERT OR REPLACE INTO members VALUES (?, ?, ?, ?, ?)",
                (
                    event.committee_id,
                    event.member_id,
                    event.role,
                    int(event.grandparent),
                    _utc(event.joined_at),
                ),
            )
        elif isinstance(event, CommitteeMemberLeft):
            conn.execute(
                "DELETE FROM members WHERE committee_id = ? AND member_id = ?",
                (event.committee_id, event.member_id),
            )
        elif isinstance(event, MeetingScheduled):
            conn.execute(
                "INSERT OR IGNORE INTO meetings (id, committee_id, starts_at, ends_at) "
                "VALUES (?, ?, ?, ?)",
                (event.meeting_id, event.committee_id, _utc(event.starts_at), _utc(event.ends_at)),
            )
        elif isinstance(event, MeetingHeld):
            conn.execute(
                "UPDATE meetings SET held = 1, attended = ?, resolutions = ? WHERE id = ?",
                (event.attended, event.resolutions, event.meeting_id),
            )
        elif isinstance(
            event,
            ActionItemAssigned | ActionItemProgressed | ActionItemCompleted | ActionItemEscalated,
        ):
            self._action_item_event(conn, event, changed)
        else:
            self._suggestion_event(conn, event, changed)

    @staticmethod
    def _action_item_event(
        conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        if isinstance(event, ActionItemAssigned):
            conn.execute(
                "INSERT OR IGNORE INTO action_items (id, joint_meeting_id, convened_by, district, "
                "title, lead, due_at, assigned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.action_item_id,
                    event.joint_meeting_id,
                    event.convened_by,
                    event.district,
                    event.title,
                    event.lead_department,
                    _utc(event.due_at),
                    _utc(event.assigned_at),
                ),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO action_item_departments VALUES (?, ?, ?)",
                [(event.action_item_id, event.lead_department, 1)]
                + [(event.action_item_id, d, 0) for d in event.supporting_departments],
            )
            for department in (event.lead_department, *event.supporting_departments):
                changed.add(f"action:{department}:{event.action_item_id}")
        elif isinstance(event, ActionItemProgressed):
            conn.execute(
                "UPDATE action_items SET percent = ? WHERE id = ?",
                (event.percent, event.action_item_id),
            )
        elif isinstance(event, ActionItemCompleted):
            conn.execute(
                "UPDATE action_items SET done = 1, percent = 100, completed_at = ?, on_time = ? "
                "WHERE id = ?",
                (_utc(event.completed_at), int(event.on_time), event.action_item_id),
            )
        elif isinstance(event, ActionItemEscalated):
            conn.execute(
                "UPDATE action_items SET escalated = 1 WHERE id = ?", (event.action_item_id,)
            )

    def _suggestion_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        if isinstance(event, SuggestionSubmitted):
            conn.execute(
                "INSERT OR IGNORE INTO suggestions (id, committee_id, school_id, district, topic, "
                "anonymous, received_on, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.suggestion_id,
                    event.committee_id,
                    event.school_id,
                    event.district,
                    event.topic,
                    int(event.anonymous),
                    event.received_on,
                    _utc(event.submitted_at),
                ),
            )
            return
        if isinstance(event, SuggestionAssigned):
            conn.execute(
                "UPDATE suggestions SET status = 'assigned', level = ?, department = ?, "
                "due_at = ? WHERE id = ?",
                (event.level, event.assigned_department, _utc(event.due_at), event.suggestion_id),
            )
        elif isinstance(event, SuggestionEscalated):
            conn.execute(
                "UPDATE suggestions SET level = ?, due_at = ?, escalations = escalations + 1 "
                "WHERE id = ?",
                (
                    event.to_level,
                    _utc(event.due_at) if event.due_at else None,
                    event.suggestion_id,
                ),
            )
        elif isinstance(event, SuggestionAnswered):
            conn.execute(
                "UPDATE suggestions SET status = 'answered', answered_at = ?, answered_by = ?, "
                "on_time = ? WHERE id = ?",
                (
                    _utc(event.answered_at),
                    event.answered_by,
                    int(event.on_time),
                    event.suggestion_id,
                ),
            )
        elif isinstance(event, SuggestionClosed):
            conn.execute(
                "UPDATE suggestions SET status = 'closed', rating = ?, satisfied = ? WHERE id = ?",
                (event.rating, int(event.satisfied), event.suggestion_id),
            )
        elif isinstance(event, SuggestionReopened):
            conn.execute(
                "UPDATE suggestions SET status = 'assigned', due_at = ?, answered_at = NULL, "
                "on_time = NULL, rating = NULL, satisfied = NULL WHERE id = ?",
                (_utc(event.due_at), event.suggestion_id),
            )
        else:
            return
        row = conn.execute(
            "SELECT school_id, department FROM suggestions WHERE id = ?", (event.suggestion_id,)
        ).fetchone()
        if row is not None and isinstance(event, SuggestionAssigned | SuggestionEscalated):
            changed.add(f"assigned:{row['department'] or 'edu'}:{event.suggestion_id}")

    # -- reads ---------------------------------------------------------------------------

    def committees(self, school_id: str) -> list[CommitteeRow]:
        """A school's committees (school, grade and class levels), school level first."""
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT * FROM committees WHERE school_id = ? ORDER BY "
                "CASE level WHEN 'school' THEN 0 WHEN 'grade' THEN 1 ELSE 2 END, title, id",
                (school_id,),
            ).fetchall()
            return [self._committee(conn, row) for row in rows]

    def committees_of_level(self, level: str) -> list[CommitteeRow]:
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT * FROM committees WHERE level = ? ORDER BY district, title, id", (level,)
            ).fetchall()
            return [self._committee(conn, row) for row in rows]

    @staticmethod
    def _committee(conn: sqlite3.Connection, row: sqlite3.Row) -> CommitteeRow:
        members = conn.execute(
            "SELECT member_id, role, grandparent FROM members WHERE committee_id = ? "
            "ORDER BY CASE role WHEN 'chair' THEN 0 WHEN 'vice-chair' THEN 1 ELSE 2 END, "
            "member_id",
            (row["id"],),
        ).fetchall()
        meetings = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(held), 0), COALESCE(SUM(resolutions), 0) "
            "FROM meetings WHERE committee_id = ?",
            (row["id"],),
        ).fetchone()
        return CommitteeRow(
            id=row["id"],
            level=row["level"],
            scope_id=row["scope_id"],
            school_id=row["school_id"],
            district=row["district"],
            title=row["title"],
            grandparents=bool(row["grandparents"]),
            term_ends_on=row["term_ends_on"],
            members=tuple(
                MemberRow(m["member_id"], m["role"], bool(m["grandparent"])) for m in members
            ),
            meetings=int(meetings[0]),
            meetings_held=int(meetings[1]),
            resolutions=int(meetings[2]),
        )

    def suggestion(self, suggestion_id: str) -> SuggestionRow | None:
        with self._locked() as conn:
            row = conn.execute(
                "SELECT * FROM suggestions WHERE id = ?", (suggestion_id,)
            ).fetchone()
            return self._suggestion(row) if row else None

    def suggestions(
        self,
        *,
        first: int,
        after: str | None = None,
        school_id: str | None = None,
        school_ids: Sequence[str] | None = None,
        department: str | None = None,
        status: str | None = None,
    ) -> Page[SuggestionRow]:
        """Suggestions by submission time (then id), filtered."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("school_id", school_id), ("department", department)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if school_ids is not None:
            schools = sorted(set(school_ids))
            where.append(f"school_id IN ({','.join('?' * len(schools))})" if schools else "0")
            params += schools
        if after is not None:
            submitted, sid = decode_cursor("suggestion-submitted", after, 2)
            where.append("(submitted_at, id) > (?, ?)")
            params += [submitted, sid]
        sql = "SELECT * FROM suggestions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY submitted_at, id LIMIT ?"
        with self._locked() as conn:
            rows = conn.execute(sql, [*params, first + 1]).fetchall()
        items = [self._suggestion(row) for row in rows[:first]]
        return Page(
            rows=items,
            cursors=[
                encode_cursor("suggestion-submitted", row["submitted_at"], row["id"])
                for row in rows[:first]
            ],
            has_next=len(rows) > first,
        )

    @staticmethod
    def _suggestion(row: sqlite3.Row) -> SuggestionRow:
        return SuggestionRow(
            id=row["id"],
            committee_id=row["committee_id"],
            school_id=row["school_id"],
            district=row["district"],
            topic=row["topic"],
            anonymous=bool(row["anonymous"]),
            received_on=row["received_on"],
            submitted_at=datetime.fromisoformat(row["submitted_at"]),
            status=row["status"],
            level=row["level"],
            department=row["department"],
            due_at=_time(row["due_at"]),
            escalations=int(row["escalations"]),
            answered_at=_time(row["answered_at"]),
            on_time=None if row["on_time"] is None else bool(row["on_time"]),
            rating=row["rating"],
        )

    def action_items(
        self, *, department: str | None = None, open_only: bool = False, limit: int = 200
    ) -> list[ActionItemRow]:
        """Action items by due time: a department's (led or supported), or all."""
        where: list[str] = []
        params: list[Any] = []
        if department is not None:
            where.append(
                "id IN (SELECT action_item_id FROM action_item_departments WHERE department = ?)"
            )
            params.append(department)
        if open_only:
            where.append("done = 0")
        sql = "SELECT * FROM action_items"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY due_at, id LIMIT ?"
        with self._locked() as conn:
            rows = conn.execute(sql, [*params, limit]).fetchall()
            supporters: dict[str, list[str]] = {}
            ids = [row["id"] for row in rows]
            if ids:
                for found in conn.execute(
                    "SELECT action_item_id, department FROM action_item_departments WHERE lead = 0 "
                    f"AND action_item_id IN ({','.join('?' * len(ids))}) ORDER BY department",
                    ids,
                ):
                    supporters.setdefault(found[0], []).append(found[1])
        return [
            ActionItemRow(
                id=row["id"],
                joint_meeting_id=row["joint_meeting_id"],
                convened_by=row["convened_by"],
                district=row["district"],
                title=row["title"],
                lead=row["lead"],
                supporters=tuple(supporters.get(row["id"], ())),
                due_at=datetime.fromisoformat(row["due_at"]),
                percent=int(row["percent"]),
                done=bool(row["done"]),
                completed_at=_time(row["completed_at"]),
                on_time=None if row["on_time"] is None else bool(row["on_time"]),
                escalated=bool(row["escalated"]),
            )
            for row in rows
        ]

    def figures(self, now: datetime, district: str | None = None) -> Figures:
        """The city's suggestion and committee figures (optionally of one district)."""
        scope, params = ("WHERE district = ?", [district]) if district else ("", [])
        with self._locked() as conn:
            by_status = {
                row[0]: int(row[1])
                for row in conn.execute(
                    f"SELECT status, COUNT(*) FROM suggestions {scope} GROUP BY status", params
                )
            }
            escalated, overdue = conn.execute(
                "SELECT COALESCE(SUM(escalations > 0), 0), "
                "COALESCE(SUM(status = 'assigned' AND due_at IS NOT NULL AND due_at < ?), 0) "
                f"FROM suggestions {scope}",
                [_utc(now), *params],
            ).fetchone()
            answered = conn.execute(
                "SELECT received_on, answered_at FROM suggestions "
                f"WHERE answered_at IS NOT NULL {'AND district = ?' if district else ''}",
                params,
            ).fetchall()
            rates = {
                column: [
                    Rate(row[0] or "edu", int(row[1]), int(row[2]))
                    for row in conn.execute(
                        f"SELECT {column}, COUNT(*), SUM(on_time) FROM suggestions "
                        f"WHERE on_time IS NOT NULL {extra} "
                        f"{'AND district = ?' if district else ''} "
                        f"GROUP BY {column} ORDER BY {column}",
                        params,
                    )
                ]
                # Suggestions of committees above the schools have no school; those
                # assigned to no department are the Education Bureau's (its schools).
                for column, extra in (
                    ("school_id", "AND school_id IS NOT NULL"),
                    ("department", ""),
                )
            }
            closed, satisfied = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(satisfied), 0) FROM suggestions "
                f"WHERE status = 'closed' {'AND district = ?' if district else ''}",
                params,
            ).fetchone()
            levels = {
                row[0]: int(row[1])
                for row in conn.execute(
                    f"SELECT level, COUNT(*) FROM committees {scope} GROUP BY level", params
                )
            }
            schools = conn.execute(
                "SELECT COUNT(DISTINCT school_id) FROM committees WHERE level = 'school' "
                f"{'AND district = ?' if district else ''}",
                params,
            ).fetchone()[0]
            villages = conn.execute(
                "SELECT COUNT(DISTINCT scope_id) FROM committees WHERE grandparents = 1 "
                f"{'AND district = ?' if district else ''}",
                params,
            ).fetchone()[0]
            coverage = _coverage(conn, district)
            # Action items on time per lead department (a district's own meetings' items
            # when a district is asked for).
            actions = [
                ActionRate(row[0], int(row[1]), int(row[2]), int(row[3]), int(row[4]))
                for row in conn.execute(
                    "SELECT lead, COUNT(*), SUM(done), COALESCE(SUM(on_time), 0), "
                    f"SUM(escalated) FROM action_items {scope} GROUP BY lead ORDER BY lead",
                    params,
                )
            ]
        days = sorted(
            (
                datetime.fromisoformat(a) - datetime.fromisoformat(f"{r}T00:00:00+08:00")
            ).total_seconds()
            / 86_400
            for r, a in answered
        )
        return Figures(
            by_status=by_status,
            escalated=int(escalated),
            overdue=int(overdue),
            answered=len(days),
            median_days_to_answer=statistics.median(days) if days else None,
            p90_days_to_answer=_nearest_rank(days, 90) if days else None,
            on_time_by_school=rates["school_id"],
            on_time_by_department=rates["department"],
            closed=int(closed),
            satisfied=int(satisfied),
            committees_by_level=levels,
            schools_with_committee=int(schools),
            villages_with_grandparent_committee=int(villages),
            action_items_by_department=actions,
            coverage=coverage,
        )


def _coverage(conn: sqlite3.Connection, district: str | None) -> Coverage:
    """Schools of the city (of a district, by its code) with a school committee; their
    classes with a class committee (each class has one, at most)."""
    schools = {
        s.id: s.classes for s in load_city().schools if district is None or s.district == district
    }
    covered = {
        row[0]
        for row in conn.execute("SELECT DISTINCT school_id FROM committees WHERE level = 'school'")
    } & set(schools)
    classes_covered = sum(
        min(int(row[1]), schools[row[0]])
        for row in conn.execute(
            "SELECT school_id, COUNT(*) FROM committees WHERE level = 'class' GROUP BY school_id"
        )
        if row[0] in schools
    )
    return Coverage(
        schools=len(schools),
        schools_covered=len(covered),
        classes=sum(schools.values()),
        classes_covered=classes_covered,
    )


def _nearest_rank(ordered: list[float], point: float) -> float:
    rank = max(1, -(-len(ordered) * point // 100))
    return ordered[int(rank) - 1]
