"""The base of every service's eventsourcing application.

Commands run through `run_command`, which gives each service three guarantees:
- idempotency: a command carrying a key records its response as an event in the
  same transaction as its domain events, so a retry returns the first response
  and appends nothing, even across a crash between commit and reply;
- optimistic concurrency: a conflicting concurrent save is retried against the
  fresh state (rules are checked again), so invariants such as capacity hold;
- a client that states an expected version gets a 409 when it is stale.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, ProcessRecorder, StoredEvent, Tracking

from services.kit.deadlines.clock import Clock, default_clock
from services.kit.deadlines.model import DEADLINE_PRINCIPAL, Changes, Deadline, DeadlineRules
from services.kit.deadlines.table import KWARG as DEADLINES
from services.kit.errors import IdempotencyKeyReusedError, NotFoundError, VersionConflictError
from services.kit.groupcommit import GroupCommitter
from services.kit.stages import record, record_request
from services.kit.wakeup import Commits

# A conflicting command is retried until this much time has passed, not a fixed number
# of times: on a loaded machine each attempt takes longer, and the budget should not shrink.
CONFLICT_BUDGET_S = 5.0
# Contending writers back off by a random, growing delay (capped): without jitter they
# collide again in lock-step.
CONFLICT_BACKOFF_S = 0.001
CONFLICT_BACKOFF_CAP_S = 0.05
# Aggregates are loaded under one of this many locks (by id): see `get`.
LOAD_LOCK_STRIPES = 64


# The digest key is derived, not the master key itself: the same master key wraps the
# data keys and may encrypt the whole event store.
DIGEST_INFO = b"tongxin/idempotency/request-digest/v1"
KEYED_PREFIX = "hmac1:"


class RequestDigests:
    """Digests of command requests for the idempotency records, keyed by a service secret.

    A request body may carry personal data (a volunteer's name): a plain hash of it would
    let whoever reads the store confirm a guessed name. The digest kept is an HMAC-SHA256,
    keyed with a secret derived from the service's master key, of the request's SHA-256.
    A record written before (the bare SHA-256, unkeyed) still tells a retry from another
    request, and `rekey` turns it into the keyed form without the request itself (what
    `tongxin privacy migrate` does), so both forms compare with a new request alike.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("a request digest secret needs at least 16 bytes")
        self._secret = secret

    @classmethod
    def from_master(cls, master: bytes) -> RequestDigests:
        """The service's digests, keyed by a secret derived from its master key."""
        secret = HKDF(hashes.SHA256(), length=32, salt=None, info=DIGEST_INFO).derive(master)
        return cls(secret)

    def rekey(self, unkeyed: str) -> str:
        """The keyed digest of a request whose unkeyed digest (a bare SHA-256) this is."""
        mac = hmac.new(self._secret, unkeyed.encode("ascii"), hashlib.sha256).hexdigest()
        return KEYED_PREFIX + mac

    def of(self, route: str, body: bytes) -> tuple[str, str]:
        """The request's keyed digest (to record) and unkeyed one (to compare old records)."""
        unkeyed = hashlib.sha256(route.encode() + b"\0" + body).hexdigest()
        return self.rekey(unkeyed), unkeyed


def is_keyed(digest: str) -> bool:
    """Whether a recorded request digest is keyed (an HMAC) rather than a bare SHA-256."""
    return digest.startswith(KEYED_PREFIX)


@dataclass(frozen=True)
class CommandKey:
    """Who sent a command with which Idempotency-Key, and a digest of the request.

    `request_digest` is what the record keeps (keyed); `unkeyed_digest` is only compared
    with records written before digests were keyed, and never stored.
    """

    principal: str
    key: str
    request_digest: str
    unkeyed_digest: str | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls, principal: str, key: str, route: str, body: bytes, digests: RequestDigests
    ) -> CommandKey:
        keyed, unkeyed = digests.of(route, body)
        return cls(principal=principal, key=key, request_digest=keyed, unkeyed_digest=unkeyed)

    def record_id(self) -> UUID:
        return uuid5(NAMESPACE_URL, f"tongxin:command:{self.principal}:{self.key}")

    def matches(self, recorded: str) -> bool:
        """Whether a record's digest is of this same request (in either form)."""
        if is_keyed(recorded) or self.unkeyed_digest is None:
            return hmac.compare_digest(recorded, self.request_digest)
        return hmac.compare_digest(recorded, self.unkeyed_digest)

    @classmethod
    def of_deadline(cls, deadline: Deadline) -> CommandKey:
        """The key a fired deadline's command carries: one command per scheduling."""
        return cls(principal=DEADLINE_PRINCIPAL, key=deadline.key, request_digest=deadline.key)


class CommandRecord(Aggregate):
    """The response first given to an idempotent command (never published)."""

    @event("Handled")
    def __init__(self, record_id: UUID, request_digest: str, response: dict[str, Any]) -> None:
        self.request_digest = request_digest
        self.response = response

    @staticmethod
    def create_id(record_id: UUID, **_: Any) -> UUID:
        return record_id


Decision = tuple[Sequence[Aggregate], dict[str, Any]]


class ServiceApplication(Application):
    """An eventsourcing application with idempotent, conflict-retrying commands."""

    # How this service's events schedule and cancel deadlines (services.kit.deadlines).
    deadlines: ClassVar[DeadlineRules | None] = None

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        # What time it is for deadlines and the decisions about them; tests move it.
        self.deadline_clock: Clock = default_clock()
        # Called (from the saving thread) after every save, e.g. to wake the relay.
        self.on_saved: list[Callable[[], None]] = []
        # Commits as the relay sees them, for other workers following the log.
        self.commits = Commits()
        # A command's save (no tracking) shares a transaction with concurrent ones.
        self.events.recorder = _GroupedInserts(self.events.recorder)  # type: ignore[assignment]
        self._load_locks = [threading.Lock() for _ in range(LOAD_LOCK_STRIPES)]

    def _notify(self, recordings: Any) -> None:
        record("committed", (r.notification.id for r in recordings))
        super()._notify(recordings)
        for callback in self.on_saved:
            callback()

    def construct_recorder(self) -> ProcessRecorder:
        # A process recorder keeps consumer positions in the same transaction as events.
        return self.factory.process_recorder()

    def get(self, aggregate_id: UUID, kind: type[Any]) -> Any:
        try:
            # The repository fast-forwards a cached aggregate in place and copies it after
            # releasing its own lock, so a copy could catch another thread mid-update: the
            # fast-forward and the copy both happen under one lock per aggregate here.
            with self._load_locks[hash(aggregate_id) % LOAD_LOCK_STRIPES]:
                aggregate: Any = deepcopy(
                    self.repository.get(aggregate_id, deepcopy_from_cache=False)
                )
        except AggregateNotFoundError:
            raise NotFoundError(f"{kind.__name__.lower()} {aggregate_id} not found") from None
        if not isinstance(aggregate, kind):
            raise NotFoundError(f"{kind.__name__.lower()} {aggregate_id} not found")
        return aggregate

    def run_command(
        self,
        key: CommandKey | None,
        decide: Callable[[], Decision],
        *,
        fired: Deadline | None = None,
    ) -> dict[str, Any]:
        """Decide on fresh state and save atomically; see the module docstring.

        `fired`: the deadline this command answers, removed with the command's events.
        """
        # A retried command is found by its record's id clashing when the save is tried,
        # not by a read before every command: the read would cost each command a round trip.
        record_request("handler")
        deadline = time.monotonic() + CONFLICT_BUDGET_S
        attempt = 0
        while True:
            try:
                aggregates, response = decide()
            except Exception:
                # A retry may be refused on today's state (the place is taken: by itself).
                if key is not None and (prior := self._prior_response(key)) is not None:
                    return prior
                raise
            pending: list[Aggregate] = list(aggregates)
            if key is not None:
                pending.append(
                    CommandRecord(
                        record_id=key.record_id(),
                        request_digest=key.request_digest,
                        response=response,
                    )
                )
            record_request("saving")
            try:
                self.save(*pending, **({DEADLINES: fired} if fired is not None else {}))
            except IntegrityError:
                if key is not None and (prior := self._prior_response(key)) is not None:
                    return prior
                if time.monotonic() >= deadline:
                    raise VersionConflictError(
                        "the command kept conflicting with concurrent changes; retry"
                    ) from None
                ceiling = min(CONFLICT_BACKOFF_CAP_S, CONFLICT_BACKOFF_S * 2**attempt)
                time.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not secrecy
                attempt += 1
                continue
            record_request("saved")
            return response

    def _record(self, processing_event: ProcessingEvent[UUID]) -> Any:
        # The deadlines the events schedule or cancel go into the same transaction.
        fired = processing_event.saved_kwargs.pop(DEADLINES, None)
        if self.deadlines is not None:
            changes = self.deadlines.changes(processing_event.events, fired)
        else:
            changes = Changes(done=[fired.key] if fired is not None else [])
        if changes:
            processing_event.saved_kwargs[DEADLINES] = changes
        return super()._record(processing_event)

    def save_tracked(self, tracking: Tracking, *aggregates: Aggregate) -> None:
        """Save the aggregates' new events with a consumer position, in one transaction."""
        processing: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
        processing.collect_events(*aggregates)
        self._record(processing)

    def consumer_position(self, consumer: str) -> int:
        recorder = self.recorder
        assert isinstance(recorder, ProcessRecorder)
        return recorder.max_tracking_id(consumer) or 0

    def _prior_response(self, key: CommandKey) -> dict[str, Any] | None:
        try:
            record: Any = self.repository.get(key.record_id())
        except AggregateNotFoundError:
            return None
        assert isinstance(record, CommandRecord)
        if not key.matches(record.request_digest):
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was already used for a different request"
            )
        return dict(record.response)


class _GroupedInserts:
    """The event store's recorder, with plain inserts going through a GroupCommitter.

    Only the insert of a command's events (no tracking) is grouped; everything else,
    including a process application's insert with its tracking record, is the recorder's.
    """

    def __init__(self, recorder: Any) -> None:
        self._recorder = recorder
        self._committer = GroupCommitter(recorder.insert_events)

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        tracking: Tracking | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if tracking is not None or kwargs:
            return self._recorder.insert_events(stored_events, tracking=tracking, **kwargs)
        return self._committer.save(stored_events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._recorder, name)
