"""FeedsApplication: one method per command, plus what the reaction and the dispatcher record.

The application's own notification log is the feed: a `EntryRecorded` notification
id is a partner's cursor (ordered, durable, the same after a restart or a rebuild of
anything else), and the dispatcher follows the same log to fan entries out to endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from contracts.partners import load_partners
from services.feeds.agreements import checked_fields
from services.feeds.domain import (
    DISABLE_AFTER_S,
    Agreement,
    Delivery,
    DeliveryScheduled,
    Endpoint,
    EndpointAdded,
    EntryRecorded,
    FeedEntry,
    agreement_id,
)
from services.feeds.signing import new_secret
from services.feeds.targets import check_url
from services.kit.application import CommandKey, ServiceApplication
from services.kit.clock import Clock, SystemClock
from services.kit.errors import DomainError, NotFoundError
from services.kit.settings import Settings

ENTRY_TOPIC = get_topic(EntryRecorded)
SCHEDULED_TOPIC = get_topic(DeliveryScheduled)
# How long a rotated-out secret still signs messages.
ROTATION_GRACE_S = 24 * 3600.0
SCAN_BATCH = 1000


class UnknownPartnerError(NotFoundError):
    """The partner is not in contracts/partners.json."""


class FilterRefusedError(DomainError):
    """An endpoint's event-type filter names a type outside the partner's agreement."""

    code = "filter-refused"


def known_partner(partner_id: str) -> None:
    if partner_id not in {p.id for p in load_partners().partners}:
        raise UnknownPartnerError(f"partner {partner_id!r} not found")


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


class FeedsApplication(ServiceApplication):
    name = "feeds"
    # Deliveries are scheduled on this clock (tests set a ManualClock before starting).
    clock: Clock = SystemClock()

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        # Whether endpoints may be plain http on this machine: only in the embedded default
        # (dev tokens), so that its demo can run a receiver beside the platform.
        self.allow_local_targets = Settings().auth_dev

    # Reading the log.
    def notifications(
        self, after: int, limit: int = SCAN_BATCH, topics: Sequence[str] = ()
    ) -> list[tuple[int, DomainEventProtocol[UUID]]]:
        found = self.recorder.select_notifications(
            after, limit, topics=topics, inclusive_of_start=False
        )
        return [(n.id, self.mapper.to_domain_event(n)) for n in found]

    def scan(self, topics: Sequence[str]) -> Iterator[tuple[int, DomainEventProtocol[UUID]]]:
        position = 0
        while batch := self.notifications(position, SCAN_BATCH, topics):
            yield from batch
            position = batch[-1][0]

    # Queries.
    def agreement(self, partner_id: str) -> Agreement | None:
        try:
            return self.get(agreement_id(partner_id), Agreement)
        except NotFoundError:
            return None

    def endpoint(self, partner_id: str, endpoint_id: UUID) -> Endpoint:
        endpoint: Endpoint = self.get(endpoint_id, Endpoint)
        if endpoint.partner_id != partner_id:
            raise NotFoundError(f"endpoint {endpoint_id} not found")
        return endpoint

    def endpoints(self, partner_id: str | None = None) -> list[Endpoint]:
        ids = [
            e.originator_id
            for _, e in self.scan([get_topic(EndpointAdded)])
            if partner_id is None or getattr(e, "partner_id", None) == partner_id
        ]
        return [self.get(i, Endpoint) for i in ids]

    def deliveries(self, endpoint: Endpoint) -> list[Delivery]:
        """Every delivery to the endpoint, oldest first."""
        ids = [
            e.originator_id
            for _, e in self.scan([SCHEDULED_TOPIC])
            if getattr(e, "endpoint_id", None) == endpoint.id
        ]
        return [self.get(i, Delivery) for i in ids]

    def feed(self, partner_id: str, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Up to `limit` of the partner's entries after the cursor, and the cursor to go on from."""
        entries: list[dict[str, Any]] = []
        position = after
        while len(entries) < limit:
            batch = self.notifications(position, SCAN_BATCH, [ENTRY_TOPIC])
            if not batch:
                break
            for notification_id, e in batch:
                position = notification_id
                if getattr(e, "partner_id", None) == partner_id:
                    entries.append(e.cloudevent)  # type: ignore[attr-defined]
                    if len(entries) == limit:
                        break
        return entries, position

    # Commands of prop staff.
    def set_agreement(
        self, key: CommandKey | None, partner_id: str, requested: Mapping[str, Sequence[str] | None]
    ) -> dict[str, Any]:
        known_partner(partner_id)
        fields = checked_fields(requested)

        def decide() -> tuple[list[Agreement], dict[str, Any]]:
            now = self.clock.now()
            agreement = self.agreement(partner_id)
            if agreement is None:
                agreement = Agreement(partner_id=partner_id, fields=fields, at=now)
            else:
                agreement.change(fields=fields, at=now)
            return [agreement], {"partner_id": partner_id, "fields": fields}

        return self.run_command(key, decide)

    # Commands of partners.
    def add_endpoint(
        self,
        key: CommandKey | None,
        partner_id: str,
        *,
        url: str,
        event_types: list[str],
        ordered: bool,
        rate_per_s: float,
    ) -> dict[str, Any]:
        known_partner(partner_id)
        check_url(url, allow_local=self.allow_local_targets)
        agreement = self.agreement(partner_id)
        agreed = set(agreement.fields) if agreement else set()
        outside = sorted(set(event_types) - agreed)
        if outside:
            raise FilterRefusedError(f"the agreement does not cover {outside}")

        def decide() -> tuple[list[Endpoint], dict[str, Any]]:
            endpoint = Endpoint(
                partner_id=partner_id,
                url=url,
                secret=new_secret(),
                event_types=event_types,
                ordered=ordered,
                rate_per_s=rate_per_s,
                at=self.clock.now(),
            )
            return [endpoint], {"id": str(endpoint.id), "secret": endpoint.secrets[0][0]}

        return self.run_command(key, decide)

    def rotate_secret(
        self, key: CommandKey | None, partner_id: str, endpoint_id: UUID
    ) -> dict[str, Any]:
        def decide() -> tuple[list[Endpoint], dict[str, Any]]:
            endpoint = self.endpoint(partner_id, endpoint_id)
            now = self.clock.now()
            secret = new_secret()
            endpoint.rotate_secret(secret=secret, grace_until=now + ROTATION_GRACE_S, at=now)
            return [endpoint], {
                "id": str(endpoint_id),
                "secret": secret,
                "previous_valid_until": iso(now + ROTATION_GRACE_S),
            }

        return self.run_command(key, decide)

    def set_enabled(
        self, key: CommandKey | None, partner_id: str, endpoint_id: UUID, enabled: bool
    ) -> dict[str, Any]:
        def decide() -> tuple[list[Endpoint], dict[str, Any]]:
            endpoint = self.endpoint(partner_id, endpoint_id)
            if enabled:
                endpoint.enable(at=self.clock.now())
            else:
                endpoint.disable("by-partner", at=self.clock.now())
            return [endpoint], {"id": str(endpoint_id), "enabled": enabled}

        return self.run_command(key, decide)

    def redrive(
        self,
        key: CommandKey | None,
        partner_id: str,
        endpoint_id: UUID,
        since: float | None,
        until: float | None,
    ) -> dict[str, Any]:
        """Send again the endpoint's dead letters whose events happened in [since, until)."""

        def decide() -> tuple[list[Delivery], dict[str, Any]]:
            endpoint = self.endpoint(partner_id, endpoint_id)
            now = self.clock.now()
            chosen = [
                d
                for d in self.deliveries(endpoint)
                if d.state == "dead"
                and (since is None or d.event_time >= since)
                and (until is None or d.event_time < until)
            ]
            for delivery in chosen:
                delivery.redrive(at=now)
            return chosen, {"id": str(endpoint_id), "redriven": len(chosen)}

        return self.run_command(key, decide)

    # What the public-events reaction records.
    def record_entries(
        self, consumer: str, position: int, entries: Sequence[tuple[str, str, dict[str, Any]]]
    ) -> None:
        """Feed entries (partner, message id, CloudEvent) with the consumer's position."""
        made = [FeedEntry(partner_id=p, message_id=m, cloudevent=ce) for p, m, ce in entries]
        self.save_tracked(Tracking(consumer, position), *made)

    # What the dispatcher records.
    def schedule(self, consumer: str, position: int, deliveries: Sequence[Delivery]) -> None:
        self.save_tracked(Tracking(consumer, position), *deliveries)

    def record_attempt(
        self,
        delivery_id: UUID,
        *,
        at: float,
        status: int | None,
        latency_ms: float,
        error: str | None,
        next_at: float | None,
    ) -> None:
        def decide() -> tuple[list[Delivery], dict[str, Any]]:
            delivery: Delivery = self.get(delivery_id, Delivery)
            if delivery.state == "pending":
                delivery.attempt(
                    at=at, status=status, latency_ms=latency_ms, error=error, next_at=next_at
                )
            return [delivery], {}

        self.run_command(None, decide)

    def dead_letter(self, delivery_ids: Sequence[UUID], at: float) -> None:
        def decide() -> tuple[list[Delivery], dict[str, Any]]:
            found = [self.get(i, Delivery) for i in delivery_ids]
            pending = [d for d in found if d.state == "pending"]
            for delivery in pending:
                delivery.dead_letter(at)
            return pending, {}

        self.run_command(None, decide)

    def note_endpoint_health(self, endpoint_id: UUID, *, ok: bool, at: float) -> str | None:
        """Keep when the endpoint started failing; disable it after 5 days of failure.

        Returns why it was disabled, if it was.
        """
        disabled: list[str] = []

        def decide() -> tuple[list[Endpoint], dict[str, Any]]:
            disabled.clear()
            endpoint: Endpoint = self.get(endpoint_id, Endpoint)
            if endpoint.disabled is not None:
                return [], {}
            if ok:
                if endpoint.failing_since is not None:
                    endpoint.note_recovered(at=at)
            elif endpoint.failing_since is None:
                endpoint.note_failing(since=at)
            elif at - endpoint.failing_since >= DISABLE_AFTER_S:
                endpoint.disable("failing-5-days", at=at)
                disabled.append("failing-5-days")
            return [endpoint], {}

        self.run_command(None, decide)
        return disabled[0] if disabled else None

    def disable_gone(self, endpoint_id: UUID, at: float) -> None:
        def decide() -> tuple[list[Endpoint], dict[str, Any]]:
            endpoint: Endpoint = self.get(endpoint_id, Endpoint)
            if endpoint.disabled is not None:
                return [], {}
            endpoint.disable("gone-410", at=at)
            return [endpoint], {}

        self.run_command(None, decide)
