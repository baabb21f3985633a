"""Composition root of the ingest service.

A department system that does not speak NATS posts CloudEvents here with its
department credential. Each event is validated against `contracts/`, checked
against the ownership map (a department publishes only its own event types),
and published to its boundary's stream; a field sealed to a service (personal data
for it alone) must be sealed to that service's key (`services.ingest.sealed`). A 202
is given only after JetStream has stored the event; `Nats-Msg-Id` is derived from the
department and the CloudEvent id, so a retried post is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry import propagate

from contracts.departments import load_ownership_map
from services.ingest.openapi import STRUCTURED, Receipt, request_documentation
from services.ingest.sealed import ReceiverKeys, check_sealed_fields
from services.kit import bus
from services.kit.backoff import Backoff
from services.kit.errors import DomainError, ForbiddenError
from services.kit.http import Caller, create_app, problem, problems, require_role
from services.kit.runtime import Workers
from services.kit.settings import Settings
from services.kit.wire import Envelope, MalformedEventError, from_headers, from_structured

log = logging.getLogger(__name__)


class Ingest:
    """Holds the NATS connection; connects in the background so start-up never waits on NATS."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.nc: Client | None = None
        self._streams: set[str] = set()
        # Set once connected with every department system's stream in place.
        self.ready = asyncio.Event()

    async def connect_forever(self, stop: asyncio.Event) -> None:
        """Connect, then create the department systems' streams; retry each until it holds."""
        backoff = Backoff()
        while not stop.is_set():
            try:
                if self.nc is None:
                    self.nc = await bus.connect(self.settings, "ingest")
                await self._ensure_system_streams()
            except Exception as exc:
                log.warning("ingest: NATS or its streams not ready (%s); retrying", exc)
                await backoff.wait(stop)
                continue
            self.ready.set()
            return

    def missing_streams(self) -> list[str]:
        """The department systems' boundaries whose streams are not (yet) known to exist."""
        return [name for name in system_boundaries() if name not in self._streams]

    async def _ensure_system_streams(self) -> None:
        """Department systems may publish straight onto NATS, but only the ingest may
        create their streams; NATS permissions keep everyone else from doing so."""
        js = self.jetstream()
        for name in self.missing_streams():
            await bus.ensure_stream(js, name, self.settings)
            self._streams.add(name)

    def jetstream(self) -> JetStreamContext:
        if self.nc is None or not self.nc.is_connected:
            raise NatsUnavailableError("the event bus is not reachable; retry later")
        return self.nc.jetstream(timeout=5.0)

    async def publish(self, envelope: Envelope, department: str) -> dict[str, Any]:
        js = self.jetstream()
        boundary = type(envelope.data).boundary
        if boundary not in self._streams:
            await bus.ensure_stream(js, boundary, self.settings)
            self._streams.add(boundary)
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        traced = dataclasses.replace(envelope, traceparent=carrier.get("traceparent"))
        ack = await js.publish(
            envelope.nats_subject(),
            envelope.payload(),
            headers=traced.headers(msg_id=f"{department}-{envelope.id}"),
            timeout=5.0,
        )
        return {
            "id": envelope.id,
            "type": envelope.type,
            "subject": envelope.nats_subject(),
            "stream": ack.stream,
            "stream_seq": ack.seq,
            "duplicate": bool(ack.duplicate),
        }


def system_boundaries() -> list[str]:
    return [
        boundary.name
        for department in load_ownership_map().departments
        for boundary in department.boundaries
        if boundary.kind == "system"
    ]


class NatsUnavailableError(DomainError):
    """The bus is down: nothing was accepted."""

    status = 503
    code = "bus-unavailable"


def parse_cloudevent(request_headers: Any, body: bytes) -> Envelope:
    content_type = request_headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == STRUCTURED:
            return from_structured(orjson.loads(body))
        if content_type == "application/json" and request_headers.get("ce-specversion"):
            headers = {
                k.lower(): v for k, v in request_headers.items() if k.lower().startswith("ce-")
            }
            if request_headers.get("traceparent"):
                headers["traceparent"] = request_headers["traceparent"]
            return from_headers(headers, body, tolerant=False)
    except orjson.JSONDecodeError:
        raise MalformedEventError("the body is not valid JSON") from None
    raise MalformedEventError(
        f"send a structured CloudEvent ({STRUCTURED}) or a binary one "
        "(application/json with ce-* headers)"
    )


def create_service(settings: Settings) -> FastAPI:
    ingest = Ingest(settings)
    ownership = load_ownership_map()
    receivers = ReceiverKeys(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        workers = Workers()
        workers.start("connect", ingest.connect_forever)
        # Give the first connection a moment so a healthy start is ready at once;
        # if NATS is away the service still starts and answers 503 until it is back.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ingest.ready.wait(), 3.0)
        try:
            yield
        finally:
            await workers.close()
            if ingest.nc is not None:
                with contextlib.suppress(Exception):
                    await ingest.nc.drain()

    async def readiness() -> dict[str, Any]:
        missing = ingest.missing_streams()
        return {
            "nats": {"ok": ingest.nc is not None and ingest.nc.is_connected},
            "streams": {"ok": not missing, "missing": missing},
        }

    app = create_app(
        title="Tongxin department ingest", settings=settings, readiness=readiness, lifespan=lifespan
    )

    @app.exception_handler(MalformedEventError)
    async def malformed(_: Request, exc: MalformedEventError) -> JSONResponse:
        return problem(400, "Malformed CloudEvent", str(exc), code="malformed-cloudevent")

    @app.post(
        "/events",
        status_code=202,
        tags=["ingest"],
        response_model=Receipt,
        responses=problems(503),
        openapi_extra=request_documentation(ownership),
    )
    async def post_event(request: Request, caller: Caller) -> dict[str, Any]:
        """Publish one CloudEvent of the caller's department into its boundary's stream."""
        require_role(caller, "department-system")
        if not caller.department:
            raise ForbiddenError("the credential names no department")
        envelope = parse_cloudevent(request.headers, await request.body())
        if not type(envelope.data).published:
            # A retired major still reads from old streams, but nothing new is written in it.
            raise MalformedEventError(
                f"{envelope.type} is no longer published; post its current major"
            )
        boundary = type(envelope.data).boundary
        owner = type(envelope.data).department()
        if owner != caller.department or not ownership.may_publish(
            caller.department, envelope.nats_subject()
        ):
            raise ForbiddenError(
                f"{envelope.type} belongs to department {owner!r}; "
                f"department {caller.department!r} may publish only its own event types"
            )
        if ownership.boundary(boundary).kind != "system":
            # A service's stream has one publisher, its relay: events of a Tongxin
            # service are made by commands to that service, never posted here.
            raise ForbiddenError(
                f"{envelope.type} is published by the {boundary} service; "
                "send a command to that service instead"
            )
        if envelope.department != owner:
            raise ForbiddenError(f"the department attribute must be {owner!r}")
        # Sealed personal data must be readable by its receiver alone: checked before
        # anything is published, since a stream keeps what it is given.
        await check_sealed_fields(envelope.data, app.state.receivers)
        # Positions in a stream are the relay's to state, never a caller's.
        envelope = dataclasses.replace(envelope, sequence=None)
        try:
            return await ingest.publish(envelope, caller.department)
        except NatsUnavailableError:
            raise
        except Exception as exc:
            raise NatsUnavailableError(f"the event bus did not store the event: {exc}") from exc

    app.state.ingest = ingest
    app.state.receivers = receivers
    return app
