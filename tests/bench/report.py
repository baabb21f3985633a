"""Figures, targets, the printed table and the JSON results file."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured number; `key` is how targets and the JSON file refer to it."""

    key: str
    label: str
    value: float
    unit: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """A platform figure against a raw one (a ratio), or against a fixed bound."""

    name: str
    platform: str
    raw: str | None = None
    at_least: float | None = None
    at_most: float | None = None

    def evaluate(self, figures: dict[str, Figure]) -> dict[str, Any] | None:
        measured = figures.get(self.platform)
        if measured is None or (self.raw is not None and self.raw not in figures):
            return None
        value = measured.value
        if self.raw is not None:
            base = figures[self.raw].value
            value = value / base if base else math.nan
        met = (self.at_least is None or value >= self.at_least) and (
            self.at_most is None or value <= self.at_most
        )
        return {
            "name": self.name,
            "platform": self.platform,
            "raw": self.raw,
            "value": round(value, 3),
            "at_least": self.at_least,
            "at_most": self.at_most,
            "met": met,
        }


TARGETS = (
    Target("relay, PostgreSQL log / raw publish_async", "relay.postgres", "raw.publish_async", 0.8),
    Target("relay, SQLite log / raw publish_async", "relay.sqlite", "raw.publish_async", 0.8),
    # CPU per event, raw over the relay's (reported): the relay's own cost on a busy machine.
    Target(
        "relay CPU: raw publish_async / relay, SQLite log, per event",
        "raw.publish_async.cpu_us",
        "relay.sqlite.cpu_us",
    ),
    Target(
        "relay CPU: raw publish_async / relay, PostgreSQL log, per event",
        "raw.publish_async.cpu_us",
        "relay.postgres.cpu_us",
    ),
    Target(
        "projection catch-up / raw pull consume", "projection.catch_up", "raw.pull_consume", 0.6
    ),
    Target(
        "HTTP commands on PostgreSQL / raw 1-connection commits",
        "http.volunteers",
        "raw.psycopg_commits_1",
        1.0,
    ),
    # How close a command comes to the HTTP stack's own ceiling (reported; no bar).
    Target("HTTP commands / GET /healthz, same process", "http.volunteers", "http.healthz"),
    Target("command -> GraphQL-visible p99 at 300/s (ms)", "visible.300.p99", at_most=150.0),
    Target("command -> GraphQL-visible p99 at 100/s (ms)", "visible.100.p99", at_most=50.0),
    Target("`tongxin run` idle: CPU (% of one core)", "idle.cpu_percent", at_most=5.0),
    Target("`tongxin run` idle: resident memory (MB)", "idle.rss_mb", at_most=1536.0),
    Target(
        "courses registrations, one session / raw 1-connection commits",
        "courses.registrations",
        "raw.psycopg_commits_1",
        0.5,
    ),
    Target("my points and rank among 800,000, p95 (ms)", "courses.my_rank.p95", at_most=20.0),
    Target("feeds deliveries / raw httpx POSTs", "feeds.deliveries", "feeds.raw_httpx", 0.5),
    # CPU per POST over per delivery (reported): the dispatcher's own cost on a busy machine.
    Target(
        "feeds CPU: raw httpx POST / delivery",
        "feeds.raw_cpu_per_post",
        "feeds.cpu_per_delivery",
    ),
    Target("my points and rank among 800,000, p50 (ms)", "courses.my_rank.p50", at_most=20.0),
    Target(
        "a school's monthly ranking page among 800,000, p95 (ms)",
        "courses.school_ranking.p95",
        at_most=20.0,
    ),
    Target(
        "courses points read model apply / raw SQLite upserts",
        "courses.points_apply",
        "raw.sqlite_upserts",
    ),
    Target(
        "courses points projection / raw pull consume",
        "courses.points_projection",
        "raw.pull_consume",
    ),
    Target("alliance ledger catch-up / raw pull consume", "alliance.catch_up", "raw.pull_consume"),
    Target(
        "alliance ledger catch-up, PostgreSQL / raw pull consume",
        "alliance.postgres.catch_up",
        "raw.pull_consume",
    ),
    Target(
        "alliance scorecard as of a day, this year, p95 (ms)",
        "alliance.as_of_current.p95",
        at_most=250.0,
    ),
    Target(
        "alliance scorecard as of a day, last year, p95 (ms)",
        "alliance.as_of_previous.p95",
        at_most=250.0,
    ),
    # CPU time per request: the bound on a machine shared with other work.
    Target(
        "alliance scorecard as of a day, this year, CPU p95 (ms)",
        "alliance.as_of_current.cpu_p95",
        at_most=250.0,
    ),
    Target(
        "alliance scorecard as of a day, last year, CPU p95 (ms)",
        "alliance.as_of_previous.cpu_p95",
        at_most=250.0,
    ),
)


def table(figures: list[Figure], targets: list[dict[str, Any]]) -> str:
    lines = [f"{'measurement':<58}{'value':>14}  unit", "-" * 80]
    lines += [f"{f.label:<58}{_number(f.value):>14}  {f.unit}" for f in figures]
    if targets:
        lines += ["", f"{'target':<58}{'value':>14}  bound", "-" * 80]
        for t in targets:
            if t["at_least"] is not None:
                bound = f">= {t['at_least']}"
            elif t["at_most"] is not None:
                bound = f"<= {t['at_most']}"
            else:
                bound = "(reported)"
            verdict = "" if bound == "(reported)" else "met" if t["met"] else "MISSED"
            suffix = "x" if t["raw"] else ""
            lines.append(f"{t['name']:<58}{t['value']:>13.2f}{suffix or ' '}  {bound} {verdict}")
    return "\n".join(lines)


def _number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def write(
    out_dir: Path,
    *,
    started: datetime,
    machine: dict[str, Any],
    options: dict[str, Any],
    figures: list[Figure],
    targets: list[dict[str, Any]],
    errors: dict[str, str],
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{started:%Y%m%dT%H%M%SZ}.json"
    document = {
        "date": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "machine": machine,
        "options": options,
        "figures": [asdict(f) for f in figures],
        "targets": targets,
        "errors": errors,
    }
    path.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    return path


def percentiles(samples: list[float], *points: float) -> dict[str, float]:
    """Nearest-rank percentiles (p50, p95, ...) of the samples."""
    ordered = sorted(samples)
    out: dict[str, float] = {}
    for point in points:
        if not ordered:
            out[f"p{point:g}"] = math.nan
            continue
        rank = max(1, math.ceil(point / 100 * len(ordered)))
        out[f"p{point:g}"] = ordered[rank - 1]
    return out
