"""A tiny application with deadlines for exercising the kit: reminders that lapse.

A reminder schedules its deadline when set, cancels it when done, and lapses (the
fired command) when the deadline falls due first. Each lapse is an event, so a test
counts firings in the store itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.kit.application import CommandKey, Decision, ServiceApplication
from services.kit.deadlines import Cancel, Deadline, DeadlineRules, Schedule
from services.kit.deadlines.model import Change
from services.kit.errors import ConflictError
from services.kit.eventstore import build_application
from services.kit.settings import Settings

SERVICE = "reminders"


class Reminder(Aggregate):
    @event("Set")
    def __init__(self, due_at: datetime) -> None:
        self.due_at = due_at
        self.lapses = 0
        self.done = False

    @event("Moved")
    def move(self, due_at: datetime) -> None:
        self.due_at = due_at

    def finish(self) -> None:
        if self.done:
            raise ConflictError("already done")
        self._finished()

    @event("Finished")
    def _finished(self) -> None:
        self.done = True

    @event("Lapsed")
    def lapse(self, at: datetime) -> None:
        self.lapses += 1


def _scheduled(e: Any) -> Iterable[Change]:
    return [Schedule("due", e.due_at)]


def _cancelled(_: Any) -> Iterable[Change]:
    return [Cancel("due")]


class RemindersApp(ServiceApplication):
    name = "reminders"
    deadlines = DeadlineRules(
        rules={
            "Reminder.Set": _scheduled,
            "Reminder.Moved": _scheduled,
            "Reminder.Finished": _cancelled,
        },
        handlers={"due": "lapse"},
    )

    def set(self, due_at: datetime) -> UUID:
        def decide() -> Decision:
            reminder = Reminder(due_at=due_at)
            return [reminder], {"id": str(reminder.id)}

        return UUID(self.run_command(None, decide)["id"])

    def move(self, reminder_id: UUID, due_at: datetime) -> None:
        def decide() -> Decision:
            reminder: Reminder = self.get(reminder_id, Reminder)
            reminder.move(due_at)
            return [reminder], {}

        self.run_command(None, decide)

    def finish(self, reminder_id: UUID) -> None:
        def decide() -> Decision:
            reminder: Reminder = self.get(reminder_id, Reminder)
            reminder.finish()
            return [reminder], {}

        self.run_command(None, decide)

    def lapse(self, deadline: Deadline) -> None:
        """The deadline's command: record the lapse."""

        def decide() -> Decision:
            reminder: Reminder = self.get(deadline.owner_id, Reminder)
            reminder.lapse(at=self.deadline_clock.now())
            return [reminder], {"lapses": reminder.lapses}

        self.run_command(CommandKey.of_deadline(deadline), decide, fired=deadline)

    def reminder(self, reminder_id: UUID) -> Reminder:
        return self.get(reminder_id, Reminder)

    def lapses(self, reminder_id: UUID) -> int:
        """Lapses counted from the stored events (not a cache)."""
        stored = self.recorder.select_events(reminder_id)
        return sum(1 for e in stored if e.topic.endswith("Reminder.Lapsed"))


def build_reminders_app(settings: Settings) -> RemindersApp:
    app: RemindersApp = build_application(RemindersApp, settings, SERVICE)
    return app
