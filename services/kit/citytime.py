"""The city's calendar day: dates people write (a visit's day, a review date) are local.

A visit made at 08:00 in Yangzhou is on that day there, while UTC is still on the one
before; a rule such as "not recorded before it happens" must compare local days. China
Standard Time has no daylight saving.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CITY_TIME = timezone(timedelta(hours=8), "CST")


def city_day(moment: datetime) -> date:
    """The local date of an aware moment."""
    return moment.astimezone(CITY_TIME).date()
