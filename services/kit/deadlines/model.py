"""What a deadline is, and the changes a save makes to the pending ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

# Who a fired deadline acts as: its command's idempotency records are this principal's.
DEADLINE_PRINCIPAL = "deadline"


@dataclass(frozen=True)
class Schedule:
    """Set the aggregate's deadline `name` to `due_at` (replacing a pending one)."""

    name: str
    due_at: datetime


@dataclass(frozen=True)
class Cancel:
    """The aggregate's deadline `name` is moot."""

    name: str


Change = Schedule | Cancel
# A rule turns a domain event into the deadline changes it makes to its own aggregate.
Rule = Callable[[Any], Iterable[Change]]


@dataclass(frozen=True)
class Deadline:
    """A pending deadline as stored: whose, which, when, and the key its firing carries.

    The key names this scheduling (the aggregate version that made it), so a deadline
    moved later fires under a new key, and firing the same one twice is one command.
    """

    owner_id: UUID
    name: str
    due_at: datetime
    key: str


def micros(at: datetime) -> int:
    """A time as whole microseconds since the epoch (how the table stores it)."""
    if at.tzinfo is None:
        raise ValueError("deadlines are aware datetimes")
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


@dataclass
class Changes:
    """What one transaction does to the deadlines table, in order."""

    # Keys of fired deadlines, removed first: the fired command may schedule the next one.
    done: list[str] = field(default_factory=list)
    # Then, in the order of the events: a Deadline to set, or (owner, name) to cancel.
    ops: list[Deadline | tuple[UUID, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.done or self.ops)


@dataclass(frozen=True)
class DeadlineRules:
    """How a service's events schedule and cancel deadlines, and what fires them.

    `rules` maps a domain event's qualified name (`Suggestion.Assigned`) to a rule;
    `handlers` maps a deadline's name to the application method (by name) that runs its
    command when it falls due, as `method(deadline)`.
    """

    rules: Mapping[str, Rule]
    handlers: Mapping[str, str]

    def changes(self, events: Iterable[Any], fired: Deadline | None = None) -> Changes:
        changes = Changes(done=[fired.key] if fired is not None else [])
        for domain_event in events:
            rule = self.rules.get(type(domain_event).__qualname__)
            if rule is None:
                continue
            owner: UUID = domain_event.originator_id
            for change in rule(domain_event):
                if isinstance(change, Schedule):
                    key = f"{change.name}:{owner}:{domain_event.originator_version}"
                    changes.ops.append(Deadline(owner, change.name, change.due_at, key))
                else:
                    changes.ops.append((owner, change.name))
        return changes
