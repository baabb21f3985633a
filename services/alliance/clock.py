"""The alliance's one clock: milestone lateness, the current period and closing times are
all judged against it, so that they agree with each other."""

from __future__ import annotations

from datetime import UTC, date, datetime


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """Today in UTC: a due date is met by a report made on or before that day."""
    return now().date()
