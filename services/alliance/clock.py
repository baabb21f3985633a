"""The alliance's one clock: milestone lateness, the current period and closing times are
all judged against it, so that they agree with each other."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts.city import city_day


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """The city's today: a due date is met by a report made on or before that day, and a
    term starts at the city's midnight (`contracts.city.city_day`)."""
    return city_day(now())
