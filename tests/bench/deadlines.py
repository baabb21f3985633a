"""Deadlines on PostgreSQL: what scheduling one adds to a command, and how late 10,000
pending deadlines fire after their due time.

- cost: reminders set one command each (a deadline written in the events' transaction)
  against the same commands on an application without deadline rules, one thread;
- lag: 10,000 deadlines pending, 500 of them due evenly over 10 s; the kit's runner (its
  default poll and concurrency, in this process) fires them; lag = when the fired command
  committed − due time; then 1,000 fall due at once: how fast a backlog is worked off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from services.kit.deadlines import Deadline, DeadlineRunner
from services.kit.eventstore import store_env
from services.kit.settings import Settings
from tests.bench.report import Figure, percentiles
from tests.support.reminders import Reminder, RemindersApp, build_reminders_app

PENDING = 10_000
COMMANDS = 300
# Of the pending deadlines, this many fall due evenly over the window (the rest later).
FALLING_DUE = 500
WINDOW_S = 10.0
LEAD_S = 2.0
# Then this many fall due at once: how fast the runner works off a backlog.
BACKLOG = 1_000
FILL_BATCH = 200


class _Shifted:
    """The wall clock moved by a fixed offset: the filled deadlines fall due from now on."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class _NoDeadlines(RemindersApp):
    """The same commands with no deadline rules: the baseline of the cost."""

    name = "reminders"
    deadlines = None  # type: ignore[assignment]


def _command_seconds(app: RemindersApp, commands: int) -> float:
    due = datetime.now(UTC) + timedelta(days=365)
    started = time.perf_counter()
    for _ in range(commands):
        app.set(due)
    return (time.perf_counter() - started) / commands


def schedule_cost(settings: Settings) -> list[Figure]:
    plain = _NoDeadlines(env=store_env(settings, "reminders"))
    with_deadlines = build_reminders_app(settings)
    try:
        _command_seconds(plain, 50)  # warm both pools
        _command_seconds(with_deadlines, 50)
        without = _command_seconds(plain, COMMANDS)
        scheduled = _command_seconds(with_deadlines, COMMANDS)
    finally:
        plain.close()
        with_deadlines.close()
    detail = {"commands": COMMANDS, "without_ms": without * 1000, "with_ms": scheduled * 1000}
    return [
        Figure(
            "deadlines.schedule_ms",
            "command scheduling a deadline, PostgreSQL (ms each)",
            scheduled * 1000,
            "ms",
            detail,
        ),
        Figure(
            "deadlines.schedule_overhead",
            "  same command without a deadline (ratio with / without)",
            scheduled / without if without else float("nan"),
            "x",
            detail,
        ),
    ]


def _fill(app: RemindersApp, due_times: list[datetime]) -> None:
    """Reminders saved FILL_BATCH to a transaction (their deadlines with them)."""
    for first in range(0, len(due_times), FILL_BATCH):
        app.save(*(Reminder(due_at=due) for due in due_times[first : first + FILL_BATCH]))


async def firing(settings: Settings) -> list[Figure]:
    app = build_reminders_app(settings)
    fired_at: dict[str, float] = {}
    due_at: dict[str, float] = {}
    try:
        # Due from an anchor an hour ahead; the runner's clock is then shifted so that the
        # anchor is LEAD_S from now (filling takes a while).
        anchor = datetime.now(UTC) + timedelta(hours=1)
        step = WINDOW_S / FALLING_DUE
        soon = [anchor + timedelta(seconds=i * step) for i in range(FALLING_DUE)]
        backlog_due = anchor + timedelta(seconds=WINDOW_S + 600)
        later = anchor + timedelta(days=30)
        rest = PENDING - FALLING_DUE - BACKLOG
        await asyncio.to_thread(_fill, app, soon + [backlog_due] * BACKLOG + [later] * rest)
        pending, _ = app.recorder.deadline_summary()  # type: ignore[attr-defined]
        clock = _Shifted(anchor - datetime.now(UTC) - timedelta(seconds=LEAD_S))
        loop = asyncio.get_running_loop()
        reached = asyncio.Event()
        target = FALLING_DUE

        def fired(deadline: Deadline) -> None:
            fired_at[deadline.key] = clock.now().timestamp()
            due_at[deadline.key] = deadline.due_at.timestamp()
            if len(fired_at) >= target:
                loop.call_soon_threadsafe(reached.set)

        assert RemindersApp.deadlines is not None
        runner = DeadlineRunner(app, RemindersApp.deadlines, clock, on_fired=fired)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reached.wait(), LEAD_S + WINDOW_S + 120)
            lags = [fired_at[k] - due_at[k] for k in fired_at]
            # Then the backlog falls due at once.
            reached.clear()
            target = FALLING_DUE + BACKLOG
            started = time.perf_counter()
            clock.offset += backlog_due - clock.now()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reached.wait(), 600)
            backlog_s = time.perf_counter() - started
        finally:
            stop.set()
            await task
    finally:
        app.close()
    points = percentiles(lags, 50, 99, 100)
    detail = {
        "pending_at_start": pending,
        "falling_due": FALLING_DUE,
        "window_s": WINDOW_S,
        "fired_in_window": len(lags),
        "p50_ms": points["p50"] * 1000,
        "max_ms": points["p100"] * 1000,
    }
    return [
        Figure(
            "deadlines.lag_p99",
            f"deadline lag p99 ({PENDING:,} pending, {FALLING_DUE} due in {WINDOW_S:.0f} s; ms)",
            points["p99"] * 1000,
            "ms",
            detail,
        ),
        Figure(
            "deadlines.backlog_rate",
            f"deadlines fired from a backlog of {BACKLOG:,} due at once",
            (len(fired_at) - len(lags)) / backlog_s,
            "fired/s",
            {"backlog": BACKLOG, "fired": len(fired_at) - len(lags), "seconds": backlog_s},
        ),
    ]


async def step(env: Any, _: Any) -> list[Figure]:
    figures = await asyncio.to_thread(schedule_cost, env.postgres_settings("deadline_cost"))
    figures += await firing(env.postgres_settings("deadline_lag"))
    return figures
