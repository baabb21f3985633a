"""The time deadlines are decided and fired by: the wall clock, or one that tests move.

A test moves time for every process of a service at once by writing an offset (seconds)
into the file named by `TONGXIN_CLOCK_FILE`; the processes read it on every `now()`, so
a relay restarted by the test sees the same moved time. Production leaves it unset.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

CLOCK_FILE_ENV = "TONGXIN_CLOCK_FILE"


class Clock(Protocol):
    """Something that says what time it is (aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move (unit tests, in one process)."""

    def __init__(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def move(self, by: timedelta) -> None:
        self._at += by

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)


class FileClock:
    """The wall clock plus an offset read from a file (seconds; missing or empty: none)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> timedelta:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return timedelta()
        return timedelta(seconds=float(text)) if text else timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def move(self, by: timedelta) -> None:
        """Move the clock of every process reading this file."""
        total = self.offset() + by
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(repr(total.total_seconds()))
        partial.replace(self.path)  # readers never see a half-written offset


def default_clock() -> Clock:
    """The file clock when `TONGXIN_CLOCK_FILE` is set (tests), otherwise the wall clock."""
    path = os.environ.get(CLOCK_FILE_ENV, "")
    return FileClock(Path(path)) if path else SystemClock()
