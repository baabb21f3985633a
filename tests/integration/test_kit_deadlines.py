"""The kit's deadlines on SQLite and PostgreSQL: stored with their events, cancelled by
events, fired once — also when the runner is killed around the due time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.kit.deadlines import DeadlineRunner, FileClock, ManualClock
from services.kit.settings import Settings
from tests.support.environ import settings_env
from tests.support.reminders import Reminder, RemindersApp, build_reminders_app
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(180)
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest) -> Settings:
    if request.param == "postgres":
        return request.getfixturevalue("pg_settings")
    return request.getfixturevalue("sqlite_settings")


@pytest.fixture
def app(store_settings: Settings) -> Iterator[RemindersApp]:
    application = build_reminders_app(store_settings)
    application.deadline_clock = ManualClock(T0)
    yield application
    application.close()


def runner(app: RemindersApp) -> DeadlineRunner:
    assert RemindersApp.deadlines is not None
    return DeadlineRunner(app, RemindersApp.deadlines, app.deadline_clock)


def test_a_deadline_is_stored_with_the_events_that_schedule_it(app: RemindersApp) -> None:
    # Set a reminder: its deadline is pending.
    reminder_id = app.set(T0 + timedelta(hours=1))
    [pending] = app.recorder.pending_deadlines(reminder_id)
    assert (pending.name, pending.due_at) == ("due", T0 + timedelta(hours=1))

    # A save that fails on a version conflict stores neither events nor deadline.
    stale: Reminder = app.reminder(reminder_id)
    app.move(reminder_id, T0 + timedelta(hours=2))
    stale.move(T0 + timedelta(hours=5))
    with pytest.raises(Exception, match="(?i)integrity|unique|duplicate"):
        app.save(stale)
    [pending] = app.recorder.pending_deadlines(reminder_id)
    assert pending.due_at == T0 + timedelta(hours=2)


def test_an_event_that_makes_it_moot_cancels_it(app: RemindersApp) -> None:
    reminder_id = app.set(T0 + timedelta(hours=1))
    app.finish(reminder_id)
    assert app.recorder.pending_deadlines(reminder_id) == []

    # Past the due time nothing fires.
    assert isinstance(app.deadline_clock, ManualClock)
    app.deadline_clock.move(timedelta(days=2))
    runner(app).fire_due()
    assert app.lapses(reminder_id) == 0


def test_it_fires_when_due_once_on_the_moving_clock(app: RemindersApp) -> None:
    reminder_id = app.set(T0 + timedelta(hours=1))
    fire = runner(app)
    assert isinstance(app.deadline_clock, ManualClock)

    # Not yet due.
    app.deadline_clock.move(timedelta(minutes=59))
    fire.fire_due()
    assert app.lapses(reminder_id) == 0

    # Due: fires, and is gone.
    app.deadline_clock.move(timedelta(minutes=1))
    fire.fire_due()
    assert app.lapses(reminder_id) == 1
    assert app.recorder.pending_deadlines(reminder_id) == []
    fire.fire_due()
    assert app.lapses(reminder_id) == 1


def test_firing_the_same_deadline_again_appends_nothing(app: RemindersApp) -> None:
    # As if the runner died after the command committed and fired it again on restart
    # from a stale read: the idempotency key returns the first response.
    reminder_id = app.set(T0)
    [deadline] = app.recorder.pending_deadlines(reminder_id)
    app.lapse(deadline)
    head = app.recorder.max_notification_id()
    app.lapse(deadline)
    assert app.recorder.max_notification_id() == head
    assert app.lapses(reminder_id) == 1


def test_a_moved_deadline_fires_at_its_new_time_under_a_new_key(app: RemindersApp) -> None:
    reminder_id = app.set(T0 + timedelta(hours=1))
    [first] = app.recorder.pending_deadlines(reminder_id)
    app.move(reminder_id, T0 + timedelta(hours=3))
    [moved] = app.recorder.pending_deadlines(reminder_id)
    assert moved.key != first.key and moved.due_at == T0 + timedelta(hours=3)
    assert isinstance(app.deadline_clock, ManualClock)
    app.deadline_clock.move(timedelta(hours=2))
    runner(app).fire_due()
    assert app.lapses(reminder_id) == 0


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.deadline_process"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "deadlines-started"
    return process


def test_killed_around_the_due_time_each_deadline_fires_once(
    store_settings: Settings, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    env = settings_env(store_settings) | {"TONGXIN_CLOCK_FILE": str(clock_file)}
    os.environ.pop("TONGXIN_CLOCK_FILE", None)
    app = build_reminders_app(store_settings)
    clock = FileClock(clock_file)
    app.deadline_clock = clock
    try:
        # Forty reminders due a day from now, a second apart (on the moved clock).
        base = datetime.now(UTC) + timedelta(days=1)
        ids = [app.set(base + timedelta(seconds=i)) for i in range(40)]

        # A runner process waits; the clock moves to the due time of the first ones.
        runner = _start(env)
        clock.move(timedelta(days=1, seconds=5))
        # Kill it as soon as it has fired some, with the rest due.
        wait_until(lambda: sum(app.lapses(i) for i in ids) >= 1, timeout=30, interval=0.001)
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        clock.move(timedelta(minutes=1))

        # Two runners now (a replica change overlapping): everything fires, once.
        first, second = _start(env), _start(env)
        try:
            wait_until(lambda: app.recorder.deadline_summary()[0] == 0, timeout=60)
        finally:
            for process in (first, second):
                process.send_signal(signal.SIGKILL)
                process.wait()
        assert [app.lapses(i) for i in ids] == [1] * len(ids)
    finally:
        app.close()
