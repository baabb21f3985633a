"""Working days come from the calendar's data: weekends, holidays, weekends worked."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.kit.deadlines import WorkingCalendar
from services.kit.deadlines.calendar import CalendarError

CALENDAR = WorkingCalendar.load()


def local(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00")


def test_friday_afternoon_with_one_working_day_is_due_at_the_end_of_monday() -> None:
    due = CALENDAR.add_working_days(local("2026-11-27", 15), 1)
    assert due == local("2026-12-01")  # midnight after Monday 30 November
    assert due.tzinfo == UTC


def test_a_deadline_across_a_weekend_and_a_holiday_skips_both() -> None:
    # Wednesday 23 September; 25-27 September is the Mid-Autumn holiday.
    due = CALENDAR.add_working_days(local("2026-09-23", 10), 3)
    # Thu 24 (1), holiday 25-27, Mon 28 (2), Tue 29 (3).
    assert due == local("2026-09-30")


def test_a_weekend_worked_in_exchange_for_a_holiday_counts() -> None:
    # Saturday 10 October 2026 is a working day after the National Day holiday.
    assert CALENDAR.is_working_day(date(2026, 10, 10))
    assert not CALENDAR.is_working_day(date(2026, 10, 5))
    assert CALENDAR.add_working_days(local("2026-10-09", 9), 1) == local("2026-10-11")


def test_fifteen_working_days_over_the_national_day_holiday() -> None:
    # From Monday 28 September: 29, 30 Sep, (1-7 Oct holiday), 8, 9, 10 (Sat, worked),
    # 12-16, 19-23 October: the fifteenth is Friday 23 October.
    due = CALENDAR.add_working_days(local("2026-09-28", 9), 15)
    assert due == local("2026-10-24")
    assert CALENDAR.working_days_between(local("2026-09-28", 9), local("2026-10-23", 9)) == 15


def test_the_local_day_decides_not_the_utc_day() -> None:
    # 23:30 UTC on Friday is already Saturday in the city: one working day ends Monday.
    due = CALENDAR.add_working_days(datetime(2026, 11, 27, 17, 30, tzinfo=UTC), 1)
    assert due == local("2026-12-01")


def test_malformed_calendars_are_refused() -> None:
    with pytest.raises(CalendarError):
        WorkingCalendar.from_document({"timezone": "Asia/Shanghai"})
    with pytest.raises(CalendarError):
        WorkingCalendar.from_document(
            {"timezone": "Asia/Shanghai", "holidays": [], "working_weekends": ["2026-10-09"]}
        )
    with pytest.raises(ValueError):
        CALENDAR.add_working_days(local("2026-10-09"), 0)
