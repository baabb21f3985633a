"""A tiny event-sourced application for exercising the kit: counters that increment."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event
from pydantic import Field

from contracts.events import ContractEvent
from services.kit.application import CommandKey, Decision, ServiceApplication
from services.kit.eventstore import build_application
from services.kit.settings import Settings

SERVICE = "counter"
BOUNDARY = "volunteers"  # owned by `cyl`; the counter borrows it in tests only


class Counter(Aggregate):
    """An event-sourced counter."""

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Incremented")
    def increment(self, by: int = 1) -> None:
        self.count += by


class CounterIncremented(ContractEvent):
    """Test-only contract event (not in contracts.registry unless a test registers it)."""

    boundary: ClassVar[str] = BOUNDARY
    event_name: ClassVar[str] = "test-counter-incremented"
    counter_id: str = Field(description="The counter's id.")
    version: int = Field(description="The counter's version after this event.")
    by: int = Field(description="The increment (0 on creation).")


class CounterApp(ServiceApplication):
    """Commands on counters, through the kit's `run_command`."""

    name = "counter"

    def create(self, name: str, key: CommandKey | None = None) -> UUID:
        def decide() -> Decision:
            counter = Counter(name=name)
            return [counter], {"id": str(counter.id)}

        return UUID(self.run_command(key, decide)["id"])

    def increment(
        self, counter_id: UUID, by: int = 1, key: CommandKey | None = None
    ) -> dict[str, Any]:
        def decide() -> Decision:
            counter: Counter = self.get(counter_id, Counter)
            counter.increment(by=by)
            return [counter], {"count": counter.count, "version": counter.version}

        return self.run_command(key, decide)

    def count(self, counter_id: UUID) -> int:
        counter: Counter = self.get(counter_id, Counter)
        return counter.count

    def fill(self, events: int, batch: int = 500) -> UUID:
        """Store `events` events quickly (one creation, then increments in big saves)."""
        counter = Counter(name=f"bulk-{uuid4().hex[:6]}")
        pending = 1
        for _ in range(events - 1):
            counter.increment()
            pending += 1
            if pending >= batch:
                self.save(counter)
                pending = 0
        if pending or counter.version == 1:
            self.save(counter)
        return counter.id


def translate(domain_event: Any) -> ContractEvent | None:
    """The relay's translation: every counter event is published; command records are not."""
    if isinstance(domain_event, Counter.Incremented):
        by = domain_event.by
    elif isinstance(domain_event, Counter.Created):
        by = 0
    else:
        return None
    return CounterIncremented(
        counter_id=str(domain_event.originator_id),
        version=domain_event.originator_version,
        by=by,
    )


def build_counter_app(settings: Settings, service: str = SERVICE) -> CounterApp:
    app: CounterApp = build_application(CounterApp, settings, service)
    return app
