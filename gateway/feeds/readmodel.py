"""The feeds read model: partners' agreements, endpoints and delivery figures, for prop staff.

Built from the feeds boundary's events. No secrets and nothing about a person: endpoints
are partner institutions' servers; deliveries are counted, not kept.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from contracts.events import ContractEvent
from contracts.feeds import (
    AgreementSet,
    EndpointAdded,
    EndpointDisabled,
    EndpointEnabled,
    MessageDeadLettered,
    MessageDelivered,
)
from gateway.core.projection import SqliteProjection

TABLES_DDL = """
CREATE TABLE IF NOT EXISTS feed_agreements (
    partner_id TEXT PRIMARY KEY,
    event_types TEXT NOT NULL,
    set_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_endpoints (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,
    ordered INTEGER NOT NULL,
    rate_per_s REAL NOT NULL,
    added_at TEXT NOT NULL,
    disabled TEXT,
    disabled_at TEXT,
    delivered INTEGER NOT NULL DEFAULT 0,
    dead_lettered INTEGER NOT NULL DEFAULT 0,
    latency_ms_total REAL NOT NULL DEFAULT 0,
    last_delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS feed_endpoints_by_partner ON feed_endpoints (partner_id, added_at);
"""


@dataclass(frozen=True)
class EndpointRow:
    id: str
    partner_id: str
    url: str
    event_types: list[str]
    ordered: bool
    rate_per_s: float
    added_at: str
    disabled: str | None
    disabled_at: str | None
    delivered: int
    dead_lettered: int
    mean_latency_ms: float | None
    last_delivered_at: str | None


class FeedsReadModel(SqliteProjection):
    SCHEMA = TABLES_DDL
    TABLES = ("feed_agreements", "feed_endpoints")
    DUMPED = {"feed_agreements": "partner_id", "feed_endpoints": "id"}

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        match event:
            case AgreementSet():
                conn.execute(
                    "INSERT INTO feed_agreements VALUES (?, ?, ?) ON CONFLICT (partner_id) "
                    "DO UPDATE SET event_types = excluded.event_types, set_at = excluded.set_at",
                    (event.partner_id, json.dumps(event.event_types), event.set_at.isoformat()),
                )
            case EndpointAdded():
                conn.execute(
                    "INSERT OR IGNORE INTO feed_endpoints (id, partner_id, url, event_types, "
                    "ordered, rate_per_s, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.endpoint_id,
                        event.partner_id,
                        event.url,
                        json.dumps(event.event_types),
                        int(event.ordered),
                        event.rate_per_s,
                        event.added_at.isoformat(),
                    ),
                )
            case EndpointDisabled():
                conn.execute(
                    "UPDATE feed_endpoints SET disabled = ?, disabled_at = ? WHERE id = ?",
                    (event.reason, event.disabled_at.isoformat(), event.endpoint_id),
                )
            case EndpointEnabled():
                conn.execute(
                    "UPDATE feed_endpoints SET disabled = NULL, disabled_at = NULL WHERE id = ?",
                    (event.endpoint_id,),
                )
            case MessageDelivered():
                conn.execute(
                    "UPDATE feed_endpoints SET delivered = delivered + 1, "
                    "latency_ms_total = latency_ms_total + ?, last_delivered_at = ? WHERE id = ?",
                    (event.latency_ms, event.delivered_at.isoformat(), event.endpoint_id),
                )
            case MessageDeadLettered():
                conn.execute(
                    "UPDATE feed_endpoints SET dead_lettered = dead_lettered + 1 WHERE id = ?",
                    (event.endpoint_id,),
                )
            case _:
                return
        changed.add("feeds")

    def endpoints(self, partner_id: str | None, first: int) -> list[EndpointRow]:
        sql = "SELECT * FROM feed_endpoints"
        params: list[object] = []
        if partner_id is not None:
            sql += " WHERE partner_id = ?"
            params.append(partner_id)
        sql += " ORDER BY partner_id, added_at, id LIMIT ?"
        params.append(first)
        with self._locked() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [
            EndpointRow(
                id=row["id"],
                partner_id=row["partner_id"],
                url=row["url"],
                event_types=json.loads(row["event_types"]),
                ordered=bool(row["ordered"]),
                rate_per_s=row["rate_per_s"],
                added_at=row["added_at"],
                disabled=row["disabled"],
                disabled_at=row["disabled_at"],
                delivered=row["delivered"],
                dead_lettered=row["dead_lettered"],
                mean_latency_ms=(
                    row["latency_ms_total"] / row["delivered"] if row["delivered"] else None
                ),
                last_delivered_at=row["last_delivered_at"],
            )
            for row in rows
        ]

    def agreements(self) -> dict[str, list[str]]:
        with self._locked() as conn:
            rows = conn.execute("SELECT * FROM feed_agreements ORDER BY partner_id").fetchall()
        return {row["partner_id"]: json.loads(row["event_types"]) for row in rows}
