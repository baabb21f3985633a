"""Event store wiring for eventsourcing applications.

PostgreSQL in production (a database or schema per service), SQLite for the
embedded default (a file per service: SQLite apps share one table otherwise).
The same application code runs on both; the choice is made by settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic
from opentelemetry import propagate

from services.kit.deadlines.recorders import PostgresRecorder, SQLiteRecorder
from services.kit.outbox import (
    Converter,
    OutboxStoredEvent,
)
from services.kit.settings import Settings

TRACEPARENT_KEY = "__traceparent__"
AGGREGATE_CACHE_SIZE = 10_000


def store_env(settings: Settings, service: str) -> dict[str, str]:
    """The eventsourcing environment for one service's application."""
    env: dict[str, str] = {
        "MAPPER_TOPIC": get_topic(TracingMapper),
        # The process recorder with each event's published form beside it (services.kit.outbox).
        # The kit's recorders: the outbox's published forms and the deadlines a save
        # schedules are written in the transaction that stores its events.
        "PROCESS_RECORDER_TOPIC": get_topic(
            PostgresRecorder if settings.store == "postgres" else SQLiteRecorder
        ),
        # Commands load aggregates from a cache, fast-forwarded with the events stored since
        # (by any replica): replaying a busy shift's whole history for every sign-up was
        # most of a command's cost.
        "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE),
        "AGGREGATE_CACHE_FASTFORWARD": "y",
    }
    if settings.store == "postgres":
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": settings.postgres_dbname or service,
            "POSTGRES_HOST": settings.postgres_host,
            "POSTGRES_PORT": str(settings.postgres_port),
            "POSTGRES_USER": settings.postgres_user,
            "POSTGRES_PASSWORD": settings.postgres_password.get_secret_value(),
            "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(settings.postgres_max_overflow),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_PRE_PING": "y",
        }
        if settings.postgres_schema:
            env["POSTGRES_SCHEMA"] = settings.postgres_schema
    else:
        folder = Path(settings.state_dir) / "data"
        folder.mkdir(parents=True, exist_ok=True)
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(folder / f"{service}.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    if settings.cipher_key.get_secret_value():
        env |= {
            "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
            "CIPHER_KEY": settings.cipher_key.get_secret_value(),
        }
    return env


class TracingMapper(Mapper[Any]):
    """Stores the W3C trace context with each event, so the relay continues the trace.

    The context rides inside the stored state under a reserved key and is removed
    again before the domain event is rebuilt.
    """

    # Set by `services.kit.outbox.convert_at_write`: the published form is made on save.
    converter: Converter | None = None

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        stored = self._to_stored_event(domain_event, carrier.get("traceparent"))
        if self.converter is None:
            return stored
        return OutboxStoredEvent(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=stored.state,
            published=self.converter.form(domain_event, carrier.get("traceparent")),
        )

    def _to_stored_event(self, domain_event: Any, traceparent: str | None) -> StoredEvent:
        if not traceparent:
            return super().to_stored_event(domain_event)
        topic = get_topic(domain_event.__class__)
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        event_state[TRACEPARENT_KEY] = traceparent
        stored_state = self.transcoder.encode(event_state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=stored_state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event, _ = self.to_domain_event_with_trace(stored_event)
        return event

    def to_domain_event_with_trace(self, stored_event: StoredEvent) -> tuple[Any, str | None]:
        """The domain event and the traceparent it was stored under (if any)."""
        domain_event = super().to_domain_event(stored_event)
        traceparent = domain_event.__dict__.pop(TRACEPARENT_KEY, None)
        return domain_event, traceparent


def build_application(app_class: type[Application], settings: Settings, service: str) -> Any:
    """Construct a service's application on the configured store."""
    return app_class(env=store_env(settings, service))
