"""The periods targets run over and assessments close: terms, school years, calendar years.

A school year runs from 1 September to 31 August; its first term to 31 January, its
second term from 1 February to 31 August (the summer belongs to the term it follows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

PeriodKind = Literal["term", "school-year", "calendar-year"]


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    label: str
    starts_on: date
    ends_on: date

    def previous(self) -> Period:
        return period_of(self.kind, date.fromordinal(self.starts_on.toordinal() - 1))


def period_of(kind: PeriodKind, day: date) -> Period:
    """The period of this kind that contains `day`."""
    if kind == "calendar-year":
        return Period(kind, f"{day.year}", date(day.year, 1, 1), date(day.year, 12, 31))
    first_year = day.year if day.month >= 9 else day.year - 1
    year = f"{first_year}-{first_year + 1}"
    if kind == "school-year":
        return Period(
            kind, f"{year}-school-year", date(first_year, 9, 1), date(first_year + 1, 8, 31)
        )
    if day.month >= 9 or day.month == 1:
        return Period(kind, f"{year}-term-1", date(first_year, 9, 1), date(first_year + 1, 1, 31))
    return Period(kind, f"{year}-term-2", date(first_year + 1, 2, 1), date(first_year + 1, 8, 31))


def parse_label(label: str) -> Period:
    """The period a label names (`2025-2026-term-1`, `2025-2026-school-year`, `2026`)."""
    parts = label.split("-")
    try:
        if len(parts) == 1:
            return period_of("calendar-year", date(int(parts[0]), 6, 1))
        first = int(parts[0])
        if int(parts[1]) != first + 1:
            raise ValueError(label)
        if parts[2:] == ["school", "year"]:
            return period_of("school-year", date(first, 9, 1))
        if parts[2:] == ["term", "1"]:
            return period_of("term", date(first, 9, 1))
        if parts[2:] == ["term", "2"]:
            return period_of("term", date(first + 1, 2, 1))
    except (ValueError, IndexError):
        pass
    raise ValueError(f"not a period: {label!r}")
