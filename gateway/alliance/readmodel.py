"""The alliance read model: the plan (tasks, milestones, targets, campaigns), each target's
movements (its live value and trend) and the assessments with their corrections.

Figures as of a past day and their breakdown by group are the alliance service's to
compute (from its ledger of every boundary's events); this model keeps what the alliance
published. Changes notify the ids of the targets that moved (`allianceTargetMoved`).
No personal data: departments, schools and numbers only.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts.alliance import (
    AssessmentClosed,
    AssessmentCorrected,
    CampaignLaunched,
    MilestoneReached,
    MilestoneScheduled,
    TargetDefined,
    TargetMoved,
    TaskDefined,
)
from contracts.events import ContractEvent
from gateway.core.projection import SqliteProjection

TABLES_DDL = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, code TEXT NOT NULL, title TEXT NOT NULL, action TEXT NOT NULL,
    lead TEXT NOT NULL, supporting TEXT NOT NULL, starts_on TEXT NOT NULL, ends_on TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS milestones (
    id TEXT PRIMARY KEY, task_id TEXT NOT NULL, title TEXT NOT NULL, answerable TEXT NOT NULL,
    due_on TEXT NOT NULL, reached_on TEXT, on_time INTEGER
);
CREATE INDEX IF NOT EXISTS milestones_by_task ON milestones (task_id, due_on, id);
CREATE TABLE IF NOT EXISTS targets (
    id TEXT PRIMARY KEY, task_id TEXT NOT NULL, definition TEXT NOT NULL,
    period TEXT, value REAL, groups INTEGER, groups_met INTEGER, moved_at TEXT
);
CREATE INDEX IF NOT EXISTS targets_by_task ON targets (task_id, id);
CREATE TABLE IF NOT EXISTS target_moves (
    target_id TEXT NOT NULL, moved_at TEXT NOT NULL, period TEXT NOT NULL, value REAL,
    PRIMARY KEY (target_id, moved_at)
);
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY, task_id TEXT NOT NULL, definition TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assessments (
    period TEXT PRIMARY KEY, id TEXT NOT NULL, starts_on TEXT NOT NULL, ends_on TEXT NOT NULL,
    closed_at TEXT NOT NULL, frozen TEXT NOT NULL, current TEXT NOT NULL,
    corrections INTEGER NOT NULL DEFAULT 0, last_reason TEXT
);
"""


@dataclass(frozen=True)
class TaskRow:
    id: str
    code: str
    title: str
    action: str
    lead: str
    supporting: list[str]
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class MilestoneRow:
    id: str
    task_id: str
    title: str
    answerable: str
    due_on: date
    reached_on: date | None
    on_time: bool | None


@dataclass(frozen=True)
class TargetRow:
    id: str
    task_id: str
    definition: dict[str, Any]
    period: str | None
    value: float | None
    groups: int | None
    groups_met: int | None
    moved_at: str | None


@dataclass(frozen=True)
class CampaignRow:
    id: str
    task_id: str
    definition: dict[str, Any]


@dataclass(frozen=True)
class AssessmentRow:
    id: str
    period: str
    starts_on: date
    ends_on: date
    closed_at: str
    frozen: list[dict[str, Any]]
    current: list[dict[str, Any]]
    corrections: int
    last_reason: str | None


class AllianceReadModel(SqliteProjection):
    """The alliance's plan, target movements and assessments, kept up to date from events."""

    SCHEMA = TABLES_DDL
    VERSION = 1
    TABLES = ("tasks", "milestones", "targets", "target_moves", "campaigns", "assessments")
    DUMPED = {
        "tasks": "id",
        "milestones": "id",
        "targets": "id",
        "target_moves": "target_id, moved_at",
        "campaigns": "id",
        "assessments": "period",
    }

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        match event:
            case TaskDefined():
                conn.execute(
                    "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.task_id,
                        event.code,
                        event.title,
                        event.action,
                        event.lead,
                        json.dumps(event.supporting),
                        event.starts_on.isoformat(),
                        event.ends_on.isoformat(),
                    ),
                )
            case MilestoneScheduled():
                conn.execute(
                    "INSERT OR IGNORE INTO milestones VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                    (
                        event.milestone_id,
                        event.task_id,
                        event.title,
                        event.answerable,
                        event.due_on.isoformat(),
                    ),
                )
            case MilestoneReached():
                conn.execute(
                    "UPDATE milestones SET reached_on = ?, on_time = ? WHERE id = ?",
                    (event.reached_on.isoformat(), int(event.on_time), event.milestone_id),
                )
            case TargetDefined():
                definition = event.model_dump(mode="json")
                conn.execute(
                    "INSERT INTO targets (id, task_id, definition) VALUES (?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET definition = excluded.definition,"
                    " task_id = excluded.task_id",
                    (event.target_id, event.task_id, json.dumps(definition, sort_keys=True)),
                )
            case TargetMoved():
                moved_at = event.moved_at.isoformat()
                conn.execute(
                    "INSERT OR IGNORE INTO target_moves VALUES (?, ?, ?, ?)",
                    (event.target_id, moved_at, event.period, event.value),
                )
                # A movement may arrive before its definition on a tolerant replay.
                conn.execute(
                    "INSERT INTO targets (id, task_id, definition, period, value, groups,"
                    " groups_met, moved_at) VALUES (?, '', '{}', ?, ?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET period = excluded.period,"
                    " value = excluded.value, groups = excluded.groups,"
                    " groups_met = excluded.groups_met, moved_at = excluded.moved_at"
                    " WHERE targets.moved_at IS NULL OR targets.moved_at <= excluded.moved_at",
                    (
                        event.target_id,
                        event.period,
                        event.value,
                        event.groups,
                        event.groups_met,
                        moved_at,
                    ),
                )
                changed.add(event.target_id)
            case CampaignLaunched():
                conn.execute(
                    "INSERT OR REPLACE INTO campaigns VALUES (?, ?, ?)",
                    (
                        event.campaign_id,
                        event.task_id,
                        json.dumps(event.model_dump(mode="json"), sort_keys=True),
                    ),
                )
            case AssessmentClosed():
                cards = json.dumps([c.model_dump() for c in event.scorecards], sort_keys=True)
                conn.execute(
                    "INSERT OR IGNORE INTO assessments VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL)",
                    (
                        event.period,
                        event.assessment_id,
                        event.starts_on.isoformat(),
                        event.ends_on.isoformat(),
                        event.closed_at.isoformat(),
                        cards,
                        cards,
                    ),
                )
            case AssessmentCorrected():
                cards = json.dumps([c.model_dump() for c in event.scorecards], sort_keys=True)
                conn.execute(
                    "UPDATE assessments SET current = ?, corrections = ?, last_reason = ?"
                    " WHERE id = ? AND corrections < ?",
                    (cards, event.correction, event.reason, event.assessment_id, event.correction),
                )

    # -- reads ----------------------------------------------------------------------------

    def tasks(self, department: str | None = None) -> list[TaskRow]:
        with self._locked() as conn:
            rows = conn.execute("SELECT * FROM tasks ORDER BY code, id").fetchall()
        found = [
            TaskRow(
                id=r["id"],
                code=r["code"],
                title=r["title"],
                action=r["action"],
                lead=r["lead"],
                supporting=json.loads(r["supporting"]),
                starts_on=date.fromisoformat(r["starts_on"]),
                ends_on=date.fromisoformat(r["ends_on"]),
            )
            for r in rows
        ]
        if department is None:
            return found
        return [t for t in found if department == t.lead or department in t.supporting]

    def milestones(self, task_id: str) -> list[MilestoneRow]:
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT * FROM milestones WHERE task_id = ? ORDER BY due_on, id", (task_id,)
            ).fetchall()
        return [
            MilestoneRow(
                id=r["id"],
                task_id=r["task_id"],
                title=r["title"],
                answerable=r["answerable"],
                due_on=date.fromisoformat(r["due_on"]),
                reached_on=date.fromisoformat(r["reached_on"]) if r["reached_on"] else None,
                on_time=None if r["on_time"] is None else bool(r["on_time"]),
            )
            for r in rows
        ]

    def targets(self, task_id: str | None = None) -> list[TargetRow]:
        with self._locked() as conn:
            if task_id is None:
                rows = conn.execute(
                    "SELECT * FROM targets WHERE task_id <> '' ORDER BY task_id, id"
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM targets WHERE task_id = ? ORDER BY id", (task_id,)
                ).fetchall()
        return [_target(r) for r in rows]

    def target(self, target_id: str) -> TargetRow | None:
        with self._locked() as conn:
            row = conn.execute("SELECT * FROM targets WHERE id = ?", (target_id,)).fetchone()
        return None if row is None or not row["task_id"] else _target(row)

    def campaigns(self) -> list[CampaignRow]:
        with self._locked() as conn:
            rows = conn.execute("SELECT * FROM campaigns ORDER BY task_id, id").fetchall()
        return [CampaignRow(r["id"], r["task_id"], json.loads(r["definition"])) for r in rows]

    def assessments(self) -> list[AssessmentRow]:
        with self._locked() as conn:
            rows = conn.execute("SELECT * FROM assessments ORDER BY starts_on DESC").fetchall()
        return [
            AssessmentRow(
                id=r["id"],
                period=r["period"],
                starts_on=date.fromisoformat(r["starts_on"]),
                ends_on=date.fromisoformat(r["ends_on"]),
                closed_at=r["closed_at"],
                frozen=json.loads(r["frozen"]),
                current=json.loads(r["current"]),
                corrections=int(r["corrections"]),
                last_reason=r["last_reason"],
            )
            for r in rows
        ]


def _target(r: sqlite3.Row) -> TargetRow:
    return TargetRow(
        id=r["id"],
        task_id=r["task_id"],
        definition=json.loads(r["definition"]),
        period=r["period"],
        value=r["value"],
        groups=r["groups"],
        groups_met=r["groups_met"],
        moved_at=r["moved_at"],
    )
