"""FeedsApplication: one method per command, plus what the reaction and the dispatcher record.

The application's own notification log is the feed: a `EntryRecorded` notification
id is a partner's cursor (ordered, durable, the same after a restart or a rebuild of
anything else). Recording an entry also adds a pending delivery per endpoint that wants
it, in the same transaction (services.feeds.pending); the dispatcher reads those.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import get_topic

from contracts.partners import load_partners
from services.feeds.agreements import checked_fields
from services.feeds.domain import (
    DISABLE_AFTER_S,
    Agreement,
    Delivery,
    DeliveryDeliveredAtOnce,
    DeliveryScheduled,
    Endpoint,
    EndpointAdded,
    EntryRecorded,
    FeedEntry,
    PartnerInstitution,
    PartnerRegistered,
    agreement_id,
    partner_aggregate_id,
)
from services.feeds.history import AttemptRow, EndpointTotals, LoggedDelivery
from services.feeds.pending import (
    KWARG,
    Changes,
    FeedsPostgresRecorder,
    FeedsSQLiteRecorder,
    PendingDelivery,
    PendingQueries,
)
from services.feeds.signing import new_secret
from services.feeds.targets import TIMEOUT_S, check_url
from services.kit.application import CommandKey, ServiceApplication
from services.kit.clock import Clock, SystemClock
from services.kit.errors import ConflictError, DomainError, NotFoundError
from services.kit.settings import Settings

ENTRY_TOPIC = get_topic(EntryRecorded)
SCHEDULED_TOPIC = get_topic(DeliveryScheduled)
# The events a `Delivery` starts with: scheduled (its first attempt failed, or it was given
# up without one), or delivered at once.
DELIVERY_STARTS = (SCHEDULED_TOPIC, get_topic(DeliveryDeliveredAtOnce))
# How long a rotated-out secret still signs messages.
ROTATION_GRACE_S = 24 * 3600.0
SCAN_BATCH = 1000


class UnknownPartnerError(NotFoundError):
    """The partner is neither in contracts/partners.json nor registered through the API."""


class PartnerInFileError(ConflictError):
    """Partners of contracts/partners.json change there, not through the API."""


class FilterRefusedError(DomainError):
    """An endpoint's event-type filter names a type outside the partner's agreement."""

    code = "filter-refused"


def in_file(partner_id: str) -> bool:
    return partner_id in {p.id for p in load_partners().partners}


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def posted(cloudevent: dict[str, Any]) -> str:
    """The body a delivery posts: the CloudEvent in compact JSON."""
    return json.dumps(cloudevent, ensure_ascii=False, separators=(",", ":"))


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@dataclass(frozen=True)
class Outcome:
    """One attempt to deliver a pending delivery, as the dispatcher saw it."""

    pending: PendingDelivery
    at: float
    status: int | None
    latency_ms: float
    error: str | None
    next_at: float | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class DeliveryPage:
    """A page of an endpoint's delivery log, newest first: deliveries not attempted yet
    (from the pending table), then the logged ones with their attempts."""

    waiting: list[PendingDelivery]
    logged: list[LoggedDelivery]
    attempts: dict[UUID, list[AttemptRow]]
    # Where the next page starts ("w<seq>" in the waiting rows, "l<seq>" in the log).
    next: str | None


@dataclass(frozen=True)
class Figures:
    totals: EndpointTotals
    latency_ms_p50: float | None
    latency_ms_p95: float | None


class FeedsApplication(ServiceApplication):
    name = "feeds"
    # Deliveries are scheduled on this clock (tests set a ManualClock before starting).
    clock: Clock = SystemClock()
    # How long an attempt may take before it counts as failed (tests shorten it).
    delivery_timeout_s: float = TIMEOUT_S

    def __init__(self, env: Any = None) -> None:
        env = dict(env or {})
        # The kit's recorder with the pending deliveries table beside the events.
        postgres = env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres"
        env["PROCESS_RECORDER_TOPIC"] = get_topic(
            FeedsPostgresRecorder if postgres else FeedsSQLiteRecorder
        )
        super().__init__(env)
        # Whether endpoints may be plain http on this machine: only in the embedded default
        # (dev tokens), so that its demo can run a receiver beside the platform.
        self.allow_local_targets = Settings().auth_dev
        # Called (from the saving thread) after pending deliveries were added or changed.
        self.on_pending: list[Callable[[Collection[UUID]], None]] = []
        # Changes to the table that the command being saved on this thread makes.
        self._staged = threading.local()
        # Aggregate ids by topic and partner, and how far the log was read for them.
        self._index: dict[str, tuple[dict[str, list[UUID]], list[int]]] = {}
        self._index_lock = threading.Lock()

    @property
    def pending(self) -> PendingQueries:
        recorder = self.recorder
        assert isinstance(recorder, PendingQueries)
        return recorder

    def _record(self, processing_event: ProcessingEvent[UUID]) -> Any:
        changes: Changes | None = getattr(self._staged, "changes", None)
        if changes:
            self._staged.changes = None
            processing_event.saved_kwargs[KWARG] = changes
        recordings = super()._record(processing_event)
        saved: Changes | None = processing_event.saved_kwargs.get(KWARG)
        if saved and saved.add:
            endpoint_ids = {d.endpoint_id for d in saved.add}
            for callback in self.on_pending:
                callback(endpoint_ids)
        return recordings

    def _save_made(
        self, made: Sequence[Aggregate], changes: Changes, tracking: Tracking | None = None
    ) -> None:
        """`save` (or, with a tracking record, `save_tracked`) of these aggregates with the
        table's changes. The events are taken from the aggregates directly: eventsourcing's
        `collect_events` asks `isinstance` of two runtime-checkable protocols per object,
        which on Python 3.11 cost more than making the aggregate did (~0.2 ms each)."""
        processing: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
        for aggregate in made:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        if changes:
            processing.saved_kwargs[KWARG] = changes
        recordings = self._record(processing)
        if tracking is None:
            self._take_snapshots(processing)
            self._notify(recordings)

    def _command(
        self,
        key: CommandKey | None,
        decide: Callable[[], tuple[Sequence[Aggregate], dict[str, Any], Changes]],
    ) -> dict[str, Any]:
        """`run_command`, with the decision's changes to pending deliveries in its save."""

        def decided() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            aggregates, response, changes = decide()
            self._staged.changes = changes
            return aggregates, response

        try:
            return self.run_command(key, decided)
        finally:
            self._staged.changes = None

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

    def _indexed(self, topic: str) -> dict[str, list[UUID]]:
        """Aggregates made by events of `topic`, by partner, kept up to date from the log
        (read from where it was last time: endpoints and partners are never removed)."""
        with self._index_lock:
            index = self._index.setdefault(topic, ({}, [0]))
            ids, seen = index
            # Notification ids commit in order (SQLite writes one at a time; PostgreSQL's
            # recorder locks the table to insert): nothing lands behind the head later.
            head = self.recorder.max_notification_id() or 0
            while seen[0] < head:
                found = self.recorder.select_notifications(
                    seen[0], SCAN_BATCH, stop=head, topics=[topic], inclusive_of_start=False
                )
                for n in found:
                    e: Any = self.mapper.to_domain_event(n)
                    ids.setdefault(e.partner_id, []).append(e.originator_id)
                seen[0] = found[-1].id if len(found) == SCAN_BATCH else head
            return {k: list(v) for k, v in ids.items()}

    def endpoint_ids(self, partner_id: str | None = None) -> list[UUID]:
        """The endpoints' ids (a partner's, or all), oldest first."""
        ids = self._indexed(get_topic(EndpointAdded))
        if partner_id is not None:
            return ids.get(partner_id, [])
        return [i for found in ids.values() for i in found]

    # Partners: contracts/partners.json's, and those prop staff registered.
    def partner_ids(self) -> list[str]:
        registered = self._indexed(get_topic(PartnerRegistered))
        return [p.id for p in load_partners().partners] + sorted(registered)

    def known_partner(self, partner_id: str) -> None:
        if not in_file(partner_id) and self.registered_partner(partner_id) is None:
            raise UnknownPartnerError(f"partner {partner_id!r} not found")

    def registered_partner(self, partner_id: str) -> PartnerInstitution | None:
        try:
            return self.get(partner_aggregate_id(partner_id), PartnerInstitution)
        except NotFoundError:
            return None

    def partners(self) -> list[dict[str, Any]]:
        """Every partner: who it is, where it comes from, and what it is agreed."""
        found: list[dict[str, Any]] = [
            p.model_dump() | {"source": "contracts"} for p in load_partners().partners
        ]
        for partner_id in sorted(self._indexed(get_topic(PartnerRegistered))):
            partner = self.registered_partner(partner_id)
            if partner is not None:
                found.append(
                    {
                        "id": partner_id,
                        "name_zh": partner.name_zh,
                        "name_en": partner.name_en,
                        "description": partner.description,
                        "source": "api",
                    }
                )
        for row in found:
            agreement = self.agreement(row["id"])
            row["agreement"] = agreement.fields if agreement else {}
        return found

    def endpoints(self, partner_id: str | None = None) -> list[Endpoint]:
        return [self.get(i, Endpoint) for i in self.endpoint_ids(partner_id)]

    def delivery_page(
        self, endpoint_id: UUID, state: str | None, start: str | None, limit: int
    ) -> DeliveryPage:
        """A page of the endpoint's delivery log from `start` (a page's `next`), by index."""
        waiting: list[PendingDelivery] = []
        before = 2**62
        if start is None or start[0] == "w":
            if state in (None, "pending"):
                cut = before if start is None else int(start[1:])
                waiting = self.pending.waiting(endpoint_id, cut, limit + 1)
                if len(waiting) > limit:
                    waiting = waiting[:limit]
                    return DeliveryPage(waiting, [], {}, f"w{waiting[-1].seq}")
        else:
            before = int(start[1:])
        room = limit - len(waiting)
        logged = self.pending.logged(endpoint_id, before, room + 1, state) if room else []
        more = len(logged) > room
        logged = logged[:room]
        if not room:
            # The waiting rows filled the page exactly: the log may go on.
            more = bool(self.pending.logged(endpoint_id, before, 1, state))
        attempts = self.pending.attempts_of([d.delivery_id for d in logged])
        after = f"l{logged[-1].seq}" if logged else f"l{before}"
        return DeliveryPage(waiting, logged, attempts, after if more else None)

    def figures(self, endpoint_id: UUID) -> Figures:
        """Deliveries by state, attempts and attempt latency of the endpoint, by index."""
        totals = self.pending.totals(endpoint_id)

        def rank(point: float) -> float | None:
            if not totals.answered:
                return None
            at = min(totals.answered - 1, int(point * totals.answered))
            return self.pending.latency_at(endpoint_id, at)

        return Figures(totals, rank(0.5), rank(0.95))

    def backfill_history(self) -> int:
        """Fill the delivery log tables from the `Delivery` events, for a store written
        before they existed (once: only while they are empty). Returns deliveries logged."""
        if self.pending.anything_logged():
            return 0
        ids = [e.originator_id for _, e in self.scan(DELIVERY_STARTS)]
        for start in range(0, len(ids), SCAN_BATCH):
            changes = Changes()
            for delivery_id in ids[start : start + SCAN_BATCH]:
                delivery: Delivery = self.get(delivery_id, Delivery)
                changes.logged.append(_logged(delivery))
                changes.attempts.extend(_attempt_rows(delivery, delivery.attempts))
            self.save(**{KWARG: changes})
        return len(ids)

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
        self.known_partner(partner_id)
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

    def put_partner(
        self,
        key: CommandKey | None,
        partner_id: str,
        *,
        name_zh: str,
        name_en: str,
        description: str,
        agreement: Mapping[str, Sequence[str] | None] | None,
    ) -> dict[str, Any]:
        """Register a partner or change it, with its agreement when one is given."""
        if in_file(partner_id):
            raise PartnerInFileError(
                f"partner {partner_id!r} is defined in contracts/partners.json; it changes there"
            )
        fields = checked_fields(agreement) if agreement is not None else None

        def decide() -> tuple[list[Aggregate], dict[str, Any]]:
            now = self.clock.now()
            partner = self.registered_partner(partner_id)
            if partner is None:
                partner = PartnerInstitution(
                    partner_id=partner_id,
                    name_zh=name_zh,
                    name_en=name_en,
                    description=description,
                    at=now,
                )
            else:
                partner.update(name_zh=name_zh, name_en=name_en, description=description, at=now)
            changed: list[Aggregate] = [partner]
            current = self.agreement(partner_id)
            if fields is not None:
                if current is None:
                    current = Agreement(partner_id=partner_id, fields=fields, at=now)
                else:
                    current.change(fields=fields, at=now)
                changed.append(current)
            return changed, {
                "id": partner_id,
                "name_zh": name_zh,
                "name_en": name_en,
                "description": description,
                "source": "api",
                "agreement": current.fields if current else {},
            }

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
        self.known_partner(partner_id)
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
        def decide() -> tuple[list[Aggregate], dict[str, Any], Changes]:
            endpoint = self.endpoint(partner_id, endpoint_id)
            now = self.clock.now()
            if enabled:
                endpoint.enable(at=now)
                return [endpoint], {"id": str(endpoint_id), "enabled": True}, Changes()
            endpoint.disable("by-partner", at=now)
            dead, changes = self._dead_letter_pending(endpoint, now)
            return [endpoint, *dead], {"id": str(endpoint_id), "enabled": False}, changes

        return self._command(key, decide)

    def redrive(
        self,
        key: CommandKey | None,
        partner_id: str,
        endpoint_id: UUID,
        since: float | None,
        until: float | None,
    ) -> dict[str, Any]:
        """Send again the endpoint's dead letters whose events happened in [since, until)."""

        def decide() -> tuple[list[Delivery], dict[str, Any], Changes]:
            endpoint = self.endpoint(partner_id, endpoint_id)
            now = self.clock.now()
            dead = self.pending.dead_between(endpoint.id, since, until)
            chosen: list[Delivery] = [self.get(d.delivery_id, Delivery) for d in dead]
            for delivery in chosen:
                delivery.redrive(at=now)
            entries = [self.get(d.entry_id, FeedEntry) for d in chosen]
            changes = Changes(
                add=[
                    _pending_of(d, endpoint, now, e) for d, e in zip(chosen, entries, strict=True)
                ],
                logged=[_logged(d) for d in chosen],
            )
            return chosen, {"id": str(endpoint_id), "redriven": len(chosen)}, changes

        return self._command(key, decide)

    # What the public-events reaction records.
    def record_entries(
        self, consumer: str, position: int, entries: Sequence[tuple[str, str, dict[str, Any]]]
    ) -> None:
        """Feed entries (partner, message id, CloudEvent) with the consumer's position, and
        a pending delivery for each endpoint that wants one (a dead letter if it is off)."""
        made: list[Aggregate] = []
        changes = Changes()
        now = self.clock.now()
        endpoints: dict[str, list[Endpoint]] = {}
        for partner_id, message_id, cloudevent in entries:
            entry = FeedEntry(partner_id=partner_id, message_id=message_id, cloudevent=cloudevent)
            made.append(entry)
            body = posted(cloudevent)
            if partner_id not in endpoints:
                endpoints[partner_id] = self.endpoints(partner_id)
            for endpoint in endpoints[partner_id]:
                if not endpoint.wants(cloudevent["type"]):
                    continue
                pending = PendingDelivery(
                    delivery_id=Delivery.create_id(endpoint.id, entry.id),
                    endpoint_id=endpoint.id,
                    partner_id=partner_id,
                    entry_id=entry.id,
                    message_id=message_id,
                    subject=cloudevent.get("subject") or "",
                    ordered=endpoint.ordered,
                    event_time=_timestamp(cloudevent["time"]),
                    due_at=now,
                    body=body,
                )
                if endpoint.disabled is None:
                    changes.add.append(pending)
                else:
                    dead = Delivery.scheduled(pending)
                    dead.dead_letter(now)
                    made.append(dead)
                    changes.logged.append(_logged(dead))
        self._save_made(made, changes, Tracking(consumer, position))

    # What the dispatcher records.
    def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Attempts' outcomes, with their pending deliveries changed or removed.

        One transaction for the lot; should another writer have got there first (a disable
        dead-lettering what was in flight, a redrive), each is decided again on its own.
        """
        if not outcomes:
            return
        try:
            aggregates, changes = self._outcomes(outcomes, fresh=False)
            self._save_made(aggregates, changes)
        except IntegrityError:
            for outcome in outcomes:
                self._command(None, self._decide_outcome(outcome))

    def _decide_outcome(
        self, outcome: Outcome
    ) -> Callable[[], tuple[Sequence[Aggregate], dict[str, Any], Changes]]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any], Changes]:
            made, changes = self._outcomes([outcome], fresh=True)
            return made, {}, changes

        return decide

    def _outcomes(self, outcomes: Sequence[Outcome], fresh: bool) -> tuple[list[Delivery], Changes]:
        made: list[Delivery] = []
        changes = Changes()
        for outcome in outcomes:
            pending = outcome.pending
            delivery: Delivery | None = None
            if pending.recorded or fresh:
                try:
                    delivery = self.get(pending.delivery_id, Delivery)
                except NotFoundError:
                    if pending.recorded:
                        continue
            if delivery is None:
                delivery = _first_attempt(pending, outcome)
            elif delivery.state != "pending":
                continue
            else:
                _attempted(delivery, outcome)
            made.append(delivery)
            changes.logged.append(_logged(delivery))
            changes.attempts.extend(_attempt_rows(delivery, delivery.attempts[-1:]))
            if outcome.ok or outcome.next_at is None:
                changes.remove.append(pending.delivery_id)
            else:
                changes.retry[pending.delivery_id] = (outcome.next_at, pending.rounds + 1)
        return made, changes

    def _dead_letter_pending(self, endpoint: Endpoint, at: float) -> tuple[list[Delivery], Changes]:
        """Every pending delivery of a disabled endpoint, given up until a redrive."""
        rows = self.pending.pending_of(endpoint.id)
        dead: list[Delivery] = []
        for row in rows:
            delivery = (
                self.get(row.delivery_id, Delivery) if row.recorded else Delivery.scheduled(row)
            )
            if delivery.state == "pending":
                delivery.dead_letter(at)
                dead.append(delivery)
        return dead, Changes(
            remove=[r.delivery_id for r in rows], logged=[_logged(d) for d in dead]
        )

    def note_endpoint_health(self, endpoint_id: UUID, *, ok: bool, at: float) -> str | None:
        """Keep when the endpoint started failing; disable it after 5 days of failure.

        Returns why it was disabled, if it was.
        """
        disabled: list[str] = []

        def decide() -> tuple[list[Aggregate], dict[str, Any], Changes]:
            disabled.clear()
            endpoint: Endpoint = self.get(endpoint_id, Endpoint)
            if endpoint.disabled is not None:
                return [], {}, Changes()
            if ok:
                if endpoint.failing_since is not None:
                    endpoint.note_recovered(at=at)
            elif endpoint.failing_since is None:
                endpoint.note_failing(since=at)
            elif at - endpoint.failing_since >= DISABLE_AFTER_S:
                endpoint.disable("failing-5-days", at=at)
                disabled.append("failing-5-days")
                dead, changes = self._dead_letter_pending(endpoint, at)
                return [endpoint, *dead], {}, changes
            return [endpoint], {}, Changes()

        self._command(None, decide)
        return disabled[0] if disabled else None

    def disable_gone(self, endpoint_id: UUID, at: float) -> None:
        def decide() -> tuple[list[Aggregate], dict[str, Any], Changes]:
            endpoint: Endpoint = self.get(endpoint_id, Endpoint)
            if endpoint.disabled is not None:
                return [], {}, Changes()
            endpoint.disable("gone-410", at=at)
            dead, changes = self._dead_letter_pending(endpoint, at)
            return [endpoint, *dead], {}, changes

        self._command(None, decide)


def _logged(delivery: Delivery) -> LoggedDelivery:
    """The delivery's row in the delivery log, as it stands now."""
    return LoggedDelivery(
        delivery_id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        message_id=delivery.message_id,
        event_time=delivery.event_time,
        state=delivery.state,
    )


def _attempt_rows(delivery: Delivery, attempts: Sequence[Mapping[str, Any]]) -> list[AttemptRow]:
    return [
        AttemptRow(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            at=a["at"],
            status=a["status"],
            latency_ms=a["latency_ms"],
            error=a["error"],
        )
        for a in attempts
    ]


def _first_attempt(pending: PendingDelivery, outcome: Outcome) -> Delivery:
    """The Delivery aggregate a pending delivery's first attempt makes: one event when it
    was delivered, its schedule and the attempt (and a dead-lettering) otherwise."""
    if outcome.ok:
        assert outcome.status is not None
        return Delivery.delivered_at_once(
            pending.delivery_id,
            pending,
            at=outcome.at,
            status=outcome.status,
            latency_ms=outcome.latency_ms,
        )
    return _attempted(Delivery.scheduled(pending), outcome)


def _attempted(delivery: Delivery, outcome: Outcome) -> Delivery:
    """`delivery` with the attempt `outcome` tells of."""
    delivery.attempt(
        at=outcome.at,
        status=outcome.status,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
        next_at=outcome.next_at,
    )
    return delivery


def _pending_of(
    delivery: Delivery, endpoint: Endpoint, due_at: float, entry: FeedEntry
) -> PendingDelivery:
    """A dead letter's delivery pending again (its Delivery aggregate exists)."""
    return PendingDelivery(
        **replace(delivery.start(), due_at=due_at).start_fields(),
        delivery_id=delivery.id,
        ordered=endpoint.ordered,
        recorded=True,
        body=posted(entry.cloudevent),
    )
