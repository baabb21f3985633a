"""Working days as data: weekends and the city's public holidays are skipped.

The calendar is a JSON document (`calendars/<name>.json`): the holidays, and the weekend
days that are working days because a holiday was moved (调休). A service level of "15
working days" counts only working days in the city's time zone, and a deadline falls at
the end of its last working day (midnight local time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

CALENDARS = Path(__file__).parent / "calendars"
DEFAULT_CALENDAR = "cn-2026"


class CalendarError(ValueError):
    """The calendar document is malformed."""


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days, in one time zone."""

    timezone: ZoneInfo
    holidays: frozenset[date]
    working_weekends: frozenset[date]

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> WorkingCalendar:
        try:
            holidays = frozenset(date.fromisoformat(d) for d in document["holidays"])
            working = frozenset(date.fromisoformat(d) for d in document.get("working_weekends", []))
            timezone = ZoneInfo(document["timezone"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CalendarError(f"malformed working-day calendar: {exc}") from exc
        if overlap := holidays & working:
            raise CalendarError(f"days both holiday and working: {sorted(overlap)}")
        if weekdays := [d for d in working if d.weekday() < 5]:
            raise CalendarError(f"working weekends that are weekdays: {sorted(weekdays)}")
        return cls(timezone=timezone, holidays=holidays, working_weekends=working)

    @classmethod
    def load(cls, name: str = DEFAULT_CALENDAR) -> WorkingCalendar:
        """A calendar shipped with the kit, by name."""
        return cls.from_document(json.loads((CALENDARS / f"{name}.json").read_text("utf-8")))

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.working_weekends:
            return True
        return day.weekday() < 5

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The end of the `days`-th working day after `start`'s local day (aware, UTC).

        Work handed over on a Friday afternoon with one working day to answer is due at
        the end of Monday (or of the next working day when Monday is a holiday).
        """
        if days < 1:
            raise ValueError("a service level is at least one working day")
        day = start.astimezone(self.timezone).date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=self.timezone)
        return end.astimezone(UTC)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days from the day after `start` up to and including `end`'s day (local)."""
        first = start.astimezone(self.timezone).date()
        last = end.astimezone(self.timezone).date()
        count, day = 0, first
        while day < last:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count
