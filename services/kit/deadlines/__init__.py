"""Durable deadlines: an aggregate's event schedules one, a later event cancels it.

- A service's application declares `deadlines = DeadlineRules(rules=…, handlers=…)`:
  a rule per domain event returns `Schedule(name, due_at)` or `Cancel(name)` for the
  event's own aggregate; a handler per deadline name is an application method that runs
  the firing command with `run_command(deadline_key(d), decide, fired=d)`.
- The changes are written by the recorder in the transaction that stores the events
  (`recorders`), in the service's own database: a deadline exists exactly when the
  events that scheduled it do, on SQLite and PostgreSQL.
- `DeadlineRunner` fires due deadlines in the service's singleton process (where the
  relay runs) on a `Clock` (`TONGXIN_CLOCK_FILE` moves it in tests), once per key.
- `WorkingCalendar` counts working days from data (weekends, the city's holidays and
  the weekend days worked in exchange).
"""

from services.kit.deadlines.calendar import WorkingCalendar
from services.kit.deadlines.clock import Clock, FileClock, ManualClock, SystemClock, default_clock
from services.kit.deadlines.model import (
    Cancel,
    Changes,
    Deadline,
    DeadlineRules,
    Schedule,
)
from services.kit.deadlines.runner import DeadlineRunner

__all__ = [
    "Cancel",
    "Changes",
    "Clock",
    "Deadline",
    "DeadlineRules",
    "DeadlineRunner",
    "FileClock",
    "ManualClock",
    "Schedule",
    "SystemClock",
    "WorkingCalendar",
    "default_clock",
]
