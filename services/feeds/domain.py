"""Partners' agreements and endpoints, the feed entries made for them, and deliveries.

No I/O here: the dispatcher (services.feeds.dispatcher) posts, this records what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.kit.errors import ConflictError

# Svix's schedule: the first attempt at once, then these waits between attempts.
RETRY_WAITS_S: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
# An endpoint failing for this long without a single success is disabled.
DISABLE_AFTER_S = 5 * 24 * 3600.0


class Agreement(Aggregate):
    """What prop staff agreed a partner receives: event types and, per type, the fields."""

    @event("Set")
    def __init__(self, partner_id: str, fields: dict[str, list[str]], at: float) -> None:
        self.partner_id = partner_id
        self.fields = fields
        self.set_at = at

    @staticmethod
    def create_id(partner_id: str, **_: Any) -> UUID:
        return agreement_id(partner_id)

    def change(self, fields: dict[str, list[str]], at: float) -> None:
        self._changed(partner_id=self.partner_id, fields=fields, at=at)

    @event("Changed")
    def _changed(self, partner_id: str, fields: dict[str, list[str]], at: float) -> None:
        self.fields = fields
        self.set_at = at


def agreement_id(partner_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"tongxin:feeds:agreement:{partner_id}")


class PartnerInstitution(Aggregate):
    """A partner prop staff registered through the API (beside contracts/partners.json).

    An institution (a museum, a hospital, an enterprise), never a person: its names and
    description are public.
    """

    @event("Registered")
    def __init__(
        self, partner_id: str, name_zh: str, name_en: str, description: str, at: float
    ) -> None:
        self.partner_id = partner_id
        self.name_zh = name_zh
        self.name_en = name_en
        self.description = description
        self.changed_at = at

    @staticmethod
    def create_id(partner_id: str, **_: Any) -> UUID:
        return partner_aggregate_id(partner_id)

    @event("Updated")
    def update(self, name_zh: str, name_en: str, description: str, at: float) -> None:
        self.name_zh = name_zh
        self.name_en = name_en
        self.description = description
        self.changed_at = at


def partner_aggregate_id(partner_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"tongxin:feeds:partner:{partner_id}")


class Endpoint(Aggregate):
    """A partner's webhook endpoint: where, which types, its secrets, and whether it is on."""

    @event("Added")
    def __init__(
        self,
        partner_id: str,
        url: str,
        secret: str,
        event_types: list[str],
        ordered: bool,
        rate_per_s: float,
        at: float,
    ) -> None:
        self.partner_id = partner_id
        self.url = url
        # (secret, valid until or None): during a rotation both sign every message.
        self.secrets: list[tuple[str, float | None]] = [(secret, None)]
        self.event_types = event_types
        self.ordered = ordered
        self.rate_per_s = rate_per_s
        self.added_at = at
        self.disabled: str | None = None
        self.failing_since: float | None = None

    def signing_secrets(self, now: float) -> list[str]:
        return [s for s, until in self.secrets if until is None or until > now]

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    @event("SecretRotated")
    def rotate_secret(self, secret: str, grace_until: float, at: float) -> None:
        self.secrets = [
            (s, grace_until) for s, until in self.secrets if until is None or until > at
        ]
        self.secrets.append((secret, None))

    @event("FailingSince")
    def note_failing(self, since: float) -> None:
        self.failing_since = since

    @event("Recovered")
    def note_recovered(self, at: float) -> None:
        self.failing_since = None

    def disable(self, reason: str, at: float) -> None:
        if self.disabled is not None:
            raise ConflictError("the endpoint is disabled already")
        self._disabled(partner_id=self.partner_id, reason=reason, at=at)

    @event("Disabled")
    def _disabled(self, partner_id: str, reason: str, at: float) -> None:
        self.disabled = reason
        self.disabled_at = at

    def enable(self, at: float) -> None:
        if self.disabled is None:
            raise ConflictError("the endpoint is enabled already")
        self._enabled(partner_id=self.partner_id, at=at)

    @event("Enabled")
    def _enabled(self, partner_id: str, at: float) -> None:
        self.disabled = None
        self.failing_since = None


class FeedEntry(Aggregate):
    """One public event as one partner may see it: a CloudEvent with the agreed fields only."""

    @event("Recorded")
    def __init__(self, partner_id: str, message_id: str, cloudevent: dict[str, Any]) -> None:
        self.partner_id = partner_id
        self.message_id = message_id
        self.cloudevent = cloudevent

    @staticmethod
    def create_id(partner_id: str, message_id: str, **_: Any) -> UUID:
        return uuid5(NAMESPACE_URL, f"tongxin:feeds:entry:{partner_id}:{message_id}")


@dataclass(frozen=True)
class DeliveryStart:
    """Which feed entry goes to which endpoint, and when it fell due: what a `Delivery`
    starts with, named once. A pending delivery's row is one (and more)."""

    endpoint_id: UUID
    partner_id: str
    entry_id: UUID
    message_id: str
    subject: str
    event_time: float
    due_at: float

    def start_fields(self) -> dict[str, Any]:
        """The start's fields by name (only these, for a row that carries more)."""
        return {f.name: getattr(self, f.name) for f in fields(DeliveryStart)}


class Delivery(Aggregate):
    """One feed entry on its way to one endpoint: its attempts and how it ended."""

    @event("Scheduled")
    def __init__(
        self,
        endpoint_id: UUID,
        partner_id: str,
        entry_id: UUID,
        message_id: str,
        subject: str,
        event_time: float,
        due_at: float,
    ) -> None:
        self.endpoint_id = endpoint_id
        self.partner_id = partner_id
        self.entry_id = entry_id
        self.message_id = message_id
        self.subject = subject
        self.event_time = event_time
        self.due_at = due_at
        self.attempts: list[dict[str, Any]] = []
        self.state = "pending"
        # Attempts since it was (re)scheduled: the retry schedule restarts on a redrive.
        self.round = 0

    @staticmethod
    def create_id(endpoint_id: UUID, entry_id: UUID, **_: Any) -> UUID:
        return uuid5(NAMESPACE_URL, f"tongxin:feeds:delivery:{endpoint_id}:{entry_id}")

    class DeliveredAtOnce(Aggregate.Created):
        """Made and delivered by its first attempt: one event where a delivery that is
        retried has three (Scheduled, Attempted, Delivered) and more. Most deliveries are
        this one, and recording it was most of the dispatcher's cost."""

        endpoint_id: UUID
        partner_id: str
        entry_id: UUID
        message_id: str
        subject: str
        event_time: float
        due_at: float
        at: float
        status: int
        latency_ms: float

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Delivery)
            aggregate.attempts.append(
                {"at": self.at, "status": self.status, "latency_ms": self.latency_ms, "error": None}
            )
            aggregate.round = 1
            aggregate.state = "delivered"

    @classmethod
    def scheduled(cls, start: DeliveryStart) -> Delivery:
        """A delivery before its first attempt."""
        return cls(**start.start_fields())

    @classmethod
    def delivered_at_once(
        cls, delivery_id: UUID, start: DeliveryStart, *, at: float, status: int, latency_ms: float
    ) -> Delivery:
        """A delivery whose first attempt was answered with a 2xx (`delivery_id`: its
        `create_id`, which its pending row carries)."""
        return cls._create(
            cls.DeliveredAtOnce,
            id=delivery_id,
            **start.start_fields(),
            at=at,
            status=status,
            latency_ms=latency_ms,
        )

    def start(self) -> DeliveryStart:
        """What this delivery started with (due now when it is due again)."""
        return DeliveryStart(**{f.name: getattr(self, f.name) for f in fields(DeliveryStart)})

    def attempt(
        self,
        at: float,
        status: int | None,
        latency_ms: float,
        error: str | None,
        next_at: float | None,
    ) -> None:
        """Record an attempt: delivered on a 2xx; else retried at `next_at`, or given up."""
        self._attempted(at=at, status=status, latency_ms=latency_ms, error=error, next_at=next_at)
        if status is not None and 200 <= status < 300:
            self._delivered(
                endpoint_id=self.endpoint_id,
                partner_id=self.partner_id,
                message_id=self.message_id,
                attempts=len(self.attempts),
                latency_ms=latency_ms,
                at=at,
            )
        elif next_at is None:
            self.dead_letter(at)

    @event("Attempted")
    def _attempted(
        self,
        at: float,
        status: int | None,
        latency_ms: float,
        error: str | None,
        next_at: float | None,
    ) -> None:
        self.attempts.append({"at": at, "status": status, "latency_ms": latency_ms, "error": error})
        self.round += 1
        if next_at is not None:
            self.due_at = next_at

    @event("Delivered")
    def _delivered(
        self,
        endpoint_id: UUID,
        partner_id: str,
        message_id: str,
        attempts: int,
        latency_ms: float,
        at: float,
    ) -> None:
        self.state = "delivered"

    def dead_letter(self, at: float) -> None:
        """Give up (retries ran out, or the endpoint is disabled) until a redrive."""
        self._dead_lettered(
            endpoint_id=self.endpoint_id,
            partner_id=self.partner_id,
            message_id=self.message_id,
            attempts=len(self.attempts),
            at=at,
        )

    @event("DeadLettered")
    def _dead_lettered(
        self, endpoint_id: UUID, partner_id: str, message_id: str, attempts: int, at: float
    ) -> None:
        self.state = "dead"

    def redrive(self, at: float) -> None:
        if self.state != "dead":
            raise ConflictError("only a dead-lettered message is redriven")
        self._redriven(at=at)

    @event("Redriven")
    def _redriven(self, at: float) -> None:
        self.state = "pending"
        self.due_at = at
        self.round = 0


# The event classes `@event` defines, by name, for the dispatcher's checks and the log's
# topics (type checkers cannot see classes made by a decorator).
EndpointAdded: Any = Endpoint.Added  # type: ignore[attr-defined]
PartnerRegistered: Any = PartnerInstitution.Registered  # type: ignore[attr-defined]
EntryRecorded: Any = FeedEntry.Recorded  # type: ignore[attr-defined]
DeliveryScheduled: Any = Delivery.Scheduled  # type: ignore[attr-defined]
DeliveryAttempted: Any = Delivery.Attempted  # type: ignore[attr-defined]
DeliveryDelivered: Any = Delivery.Delivered  # type: ignore[attr-defined]
DeliveryDeliveredAtOnce: Any = Delivery.DeliveredAtOnce
DeliveryDeadLettered: Any = Delivery.DeadLettered  # type: ignore[attr-defined]
DeliveryRedriven: Any = Delivery.Redriven  # type: ignore[attr-defined]
