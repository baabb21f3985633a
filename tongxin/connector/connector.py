"""A department system's connection to the platform: typed publishers and subscribers over
the contracts' models, on the department's own NATS user, with JetStream defaults that keep
its events and never lose a request.

What it takes care of, so a department's developers do not have to:
- **Credentials.** It connects as `dept-<code>` (the generated authorization lets that user
  publish only into the department's own boundaries and read only what
  `contracts/department_systems.json` lists) with the inbox prefix that user may read.
- **Publishing.** `publisher(EventClass)` refuses a class of another department's boundary,
  sends a CloudEvent in binary mode (`ce-*` headers, the contract's JSON as the body) to the
  type's subject, waits for JetStream's acknowledgement, and sets `Nats-Msg-Id` from the
  department and the event id, so a retried publish is stored once.
- **Subscribing.** `subscriber(EventClass)` makes a durable pull consumer on the stream of
  the type's boundary (never declaring or changing that stream), hands the handler the
  validated contract model, acknowledges after the handler returns, and on an exception
  asks for redelivery after a growing delay (a NAK without delay would redeliver at once)
  up to `max_deliver` attempts, then gives the message up (logged).
- **AsyncAPI.** `asyncapi()` is the AsyncAPI 3 document faststream generates for the
  department's channels (`tongxin connector asyncapi --department pol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Generic, Self, TypeVar

from faststream import AckPolicy, FastStream
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from faststream.nats.security import NatsUserPassword
from faststream.specification import AsyncAPI
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.departments import load_ownership_map
from contracts.events import ContractEvent
from services.kit.bus import inbox_prefix, stream_name
from services.kit.wire import envelope_for

log = logging.getLogger(__name__)

E = TypeVar("E", bound=ContractEvent)
Handler = Callable[[E], Awaitable[None]]


class AnswerLater(Exception):  # noqa: N818 - a request to the connector, not an error
    """Raised by a handler to see the message again after `delay_s` seconds (the work is not
    due yet); it does not count as a failure and nothing is held meanwhile."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(f"again in {delay_s:.0f} s")
        self.delay_s = max(delay_s, 0.0)


class NotOwnedError(ValueError):
    """A department publishes only the event types of its own boundaries."""


class RetiredVersionError(ValueError):
    """A department publishes only the current major of an event type."""


class ConnectorSettings(BaseSettings):
    """A department system's settings, from `TONGXIN_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TONGXIN_", extra="ignore")

    department: str
    nats_urls: str = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    max_deliver: int = 5
    ack_wait_s: float = 30.0
    batch: int = 50


class Publisher(Generic[E]):
    """Publishes one event type of the department's boundaries (see the module doc)."""

    def __init__(self, connector: DepartmentConnector, cls: type[E]) -> None:
        self.cls = cls
        self._connector = connector
        self._subject = f"evt.{cls.department()}.{cls.boundary}.{cls.event_name}"
        self._publisher = connector.broker.publisher(
            self._subject,
            stream=JStream(stream_name(cls.boundary), declare=False),
            schema=cls,
            title=f"{self._subject}:publish",
            description=(cls.__doc__ or "").strip().split("\n")[0],
        )

    async def publish(self, event: E, *, event_id: str, subject: str | None = None) -> int:
        """Send one event; the stream sequence it was stored at (once per event id)."""
        envelope = envelope_for(
            event,
            id=event_id,
            source=f"/{self.cls.department()}/{self.cls.boundary}",
            subject=subject,
            time=datetime.now(UTC),
        )
        department = self._connector.department
        ack = await self._publisher.publish(
            envelope.payload(),
            headers=envelope.headers(msg_id=f"{department}-{event_id}"),
            stream=stream_name(self.cls.boundary),
        )
        return ack.seq


class DepartmentConnector:
    """One department system's connection (see the module doc)."""

    def __init__(self, settings: ConnectorSettings) -> None:
        self.settings = settings
        ownership = load_ownership_map()
        self.department = ownership.department(settings.department).code
        self.user = settings.nats_user or f"dept-{self.department}"
        password = settings.nats_password
        self.broker = NatsBroker(
            [url.strip() for url in settings.nats_urls.split(",") if url.strip()],
            security=(
                NatsUserPassword(self.user, password.get_secret_value()) if password else None
            ),
            inbox_prefix=inbox_prefix(self.user),
            name=f"{self.department}-system",
            max_reconnect_attempts=-1,
            graceful_timeout=10.0,
        )
        self.app = FastStream(self.broker, specification=self._specification())

    @classmethod
    def from_env(cls) -> DepartmentConnector:
        # The department and the NATS settings come from the environment.
        return cls(ConnectorSettings())  # type: ignore[call-arg]

    def publisher(self, cls: type[E]) -> Publisher[E]:
        if cls.department() != self.department:
            raise NotOwnedError(
                f"{cls.event_type()} belongs to {cls.department()}, not {self.department}"
            )
        if not cls.published:
            # A retired major still reads from old streams; nothing new is written in it
            # (the ingest refuses it the same way).
            raise RetiredVersionError(f"{cls.event_type()} is no longer published")
        return Publisher(self, cls)

    def subscriber(
        self, cls: type[E], *, durable: str | None = None
    ) -> Callable[[Handler[E]], Handler[E]]:
        """Decorate `async def handler(event: cls) -> None`. The durable consumer is
        `<department>-<event name>`, the one the generated permissions allow."""
        subject = f"evt.{cls.department()}.{cls.boundary}.{cls.event_name}"
        settings = self.settings
        name = durable or f"{self.department}-{cls.event_name}"

        def register(handler: Handler[E]) -> Handler[E]:
            async def consume(event: Any, message: NatsMessage) -> None:
                try:
                    await handler(cls.model_validate(event))
                except AnswerLater as later:
                    await message.nack(delay=later.delay_s)
                    return
                except Exception:
                    attempt = _delivered(message)
                    if attempt >= settings.max_deliver:
                        log.exception("%s gave up %s after %d attempts", name, subject, attempt)
                        await message.reject()
                        return
                    log.warning("%s failed on %s, attempt %d", name, subject, attempt)
                    await message.nack(delay=min(2.0**attempt, 60.0))
                    return
                await message.ack()

            consume.__annotations__["event"] = cls
            consume.__doc__ = handler.__doc__
            self.broker.subscriber(
                subject,
                stream=JStream(stream_name(cls.boundary), declare=False),
                durable=name,
                pull_sub=PullSub(batch_size=settings.batch, timeout=5.0),
                config=ConsumerConfig(
                    durable_name=name,
                    ack_wait=settings.ack_wait_s,
                    max_deliver=settings.max_deliver,
                ),
                ack_policy=AckPolicy.MANUAL,
                # nats-py's pull subscriptions take the global `_INBOX.` unless told: the
                # department's user may read only its own inbox.
                inbox_prefix=f"{inbox_prefix(self.user)}.".encode(),
                title=f"{subject}:subscribe",
                description=(handler.__doc__ or cls.__doc__ or "").strip().split("\n")[0],
            )(consume)
            return handler

        return register

    @asynccontextmanager
    async def running(self, stop: asyncio.Event | None = None) -> AsyncIterator[Self]:
        """The broker started (retried with backoff while the bus or a stream is not there
        yet, as when the platform is starting) and stopped on the way out."""
        delay = 0.5
        while True:
            try:
                await self.broker.start()
                break
            except Exception as exc:
                await self.broker.stop()
                if stop is not None and stop.is_set():
                    raise
                log.warning("%s: the bus is not ready (%s); again in %.1f s", self.user, exc, delay)
                if stop is None:
                    await asyncio.sleep(delay)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 30.0)
        try:
            yield self
        finally:
            await self.broker.stop()

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI 3 document of the department's channels, as faststream makes it."""
        document: dict[str, Any] = self._specification().to_specification().to_jsonable()
        return document

    def _specification(self) -> AsyncAPI:
        department = load_ownership_map().department(self.department)
        return AsyncAPI(
            self.broker,
            title=f"Tongxin: {department.name_en} ({self.department}) department system",
            version="1.0.0",
            description=(
                "The channels this department's system publishes and consumes on the "
                "platform's NATS JetStream: CloudEvents in binary mode (ce-* headers), the "
                "contract model as the body."
            ),
            schema_version="3.0.0",
        )


def _delivered(message: NatsMessage) -> int:
    """How many times JetStream has delivered this message (1 the first time)."""
    metadata = getattr(message.raw_message, "metadata", None)
    return int(getattr(metadata, "num_delivered", 1) or 1)
