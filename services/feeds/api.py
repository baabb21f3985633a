"""HTTP routes of the feeds service: agreements (prop staff), endpoints and feeds (partners)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from services.feeds.agreements import partner_events
from services.feeds.application import FeedsApplication, Figures, iso
from services.feeds.asyncapi import document
from services.feeds.domain import Endpoint
from services.feeds.history import AttemptRow, LoggedDelivery
from services.feeds.pending import EndpointBacklog, PendingDelivery
from services.feeds.policy import POLICY, authorize_partner
from services.feeds.responses import (
    AgreementView,
    DeliveryLog,
    EndpointCreated,
    EndpointSwitched,
    EndpointView,
    EventTypes,
    PartnerFigures,
    PartnerView,
    Redriven,
    SecretRotated,
)
from services.kit.commands import Command
from services.kit.errors import NotFoundError
from services.kit.http import Caller, IdempotencyKey, problems

BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
MAX_FEED_LIMIT = 500
MAX_WAIT_S = 30.0
POLL_S = 0.1
EventType = Annotated[str, Field(min_length=1, max_length=200)]
FieldName = Annotated[str, Field(min_length=1, max_length=100)]
PartnerId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]


class SetAgreement(Command):
    event_types: dict[EventType, list[FieldName] | None] = Field(
        max_length=100,
        description="Event type -> the fields the partner receives (null: every public one).",
    )


class AddEndpoint(Command):
    url: str = Field(min_length=8, max_length=2000, description="https URL of the receiver.")
    event_types: list[EventType] = Field(
        default_factory=list, max_length=100, description="Only these types (empty: all agreed)."
    )
    ordered: bool = Field(default=False, description="Events of one subject arrive in order.")
    rate_per_s: float = Field(default=10.0, gt=0, le=1000, description="Most deliveries/s.")


class Redrive(Command):
    since: float | None = Field(default=None, ge=0, description="Events from (epoch seconds).")
    until: float | None = Field(default=None, ge=0, description="Events before (epoch seconds).")


class SwitchEndpoint(Command):
    pass


class PutPartner(Command):
    name_zh: str = Field(min_length=1, max_length=100, description="The institution's name.")
    name_en: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=500, description="What it does with us.")
    event_types: dict[EventType, list[FieldName] | None] | None = Field(
        default=None,
        max_length=100,
        description="Its agreement (as PUT …/agreement); omitted: the agreement stays.",
    )


async def application(request: Request) -> FeedsApplication:
    # A coroutine: a plain function as a dependency would cost a trip through the thread pool.
    return request.app.state.application


App = Annotated[FeedsApplication, Depends(application)]
router = APIRouter(tags=["feeds"])
COMMAND = problems(404, 409)


@router.get("/asyncapi.json", responses=problems())
def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3 document of the webhooks partners receive (public: it holds schemas
    of public facts only), to generate a receiver from."""
    return document()


@router.get("/event-types", response_model=EventTypes, responses=problems())
def event_types(caller: Caller) -> dict[str, Any]:
    """Every event type partners may be agreed, with the fields they may receive."""
    return {
        "event_types": [
            {"type": t, "fields": list(cls.partner_fields())}
            for t, cls in sorted(partner_events().items())
        ]
    }


@router.get("/partners", response_model=list[PartnerView], responses=problems())
def list_partners(caller: Caller, app: App) -> Any:
    """Prop staff: every partner (contracts/partners.json's and those registered here)."""
    POLICY.authorize(caller, "read-partners")
    return app.partners()


@router.put("/partners/{partner_id}", response_model=PartnerView, responses=COMMAND)
def put_partner(
    partner_id: PartnerId, body: PutPartner, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Prop staff register a partner institution, or change it, and its agreement."""
    POLICY.authorize(caller, "manage-partners")
    return app.put_partner(
        key,
        partner_id,
        name_zh=body.name_zh,
        name_en=body.name_en,
        description=body.description,
        agreement=body.event_types,
    )


@router.get("/partners/{partner_id}/figures", response_model=PartnerFigures, responses=COMMAND)
def figures(partner_id: PartnerId, caller: Caller, app: App) -> Any:
    """Per endpoint: pending, delivered and dead-lettered messages, attempts, failed
    attempts and attempt latency (p50, p95) over the delivery log."""
    authorize_partner(caller, "read-endpoints", partner_id)
    app.known_partner(partner_id)
    backlogs = {b.endpoint_id: b for b in app.pending.backlogs()}
    return {
        "partner_id": partner_id,
        "endpoints": [
            _figures(endpoint, app.figures(endpoint.id), backlogs.get(endpoint.id))
            for endpoint in app.endpoints(partner_id)
        ],
    }


@router.put("/partners/{partner_id}/agreement", response_model=AgreementView, responses=COMMAND)
def set_agreement(
    partner_id: PartnerId, body: SetAgreement, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Prop staff: which event types, and which of their public fields, the partner receives."""
    POLICY.authorize(caller, "set-agreement")
    return app.set_agreement(key, partner_id, body.event_types)


@router.get("/partners/{partner_id}/agreement", response_model=AgreementView, responses=COMMAND)
def read_agreement(partner_id: PartnerId, caller: Caller, app: App) -> Any:
    authorize_partner(caller, "read-agreement", partner_id)
    app.known_partner(partner_id)
    agreement = app.agreement(partner_id)
    return {"partner_id": partner_id, "fields": agreement.fields if agreement else {}}


@router.post(
    "/partners/{partner_id}/endpoints",
    status_code=201,
    response_model=EndpointCreated,
    responses=COMMAND,
)
def add_endpoint(
    partner_id: PartnerId, body: AddEndpoint, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """A partner adds a webhook endpoint; the answer carries its signing secret."""
    authorize_partner(caller, "manage-endpoints", partner_id)
    return app.add_endpoint(
        key,
        partner_id,
        url=body.url,
        event_types=body.event_types,
        ordered=body.ordered,
        rate_per_s=body.rate_per_s,
    )


@router.get(
    "/partners/{partner_id}/endpoints", response_model=list[EndpointView], responses=COMMAND
)
def list_endpoints(partner_id: PartnerId, caller: Caller, app: App) -> Any:
    authorize_partner(caller, "read-endpoints", partner_id)
    app.known_partner(partner_id)
    backlogs = {b.endpoint_id: b for b in app.pending.backlogs()}
    return [_endpoint_view(e, backlogs.get(e.id)) for e in app.endpoints(partner_id)]


@router.post(
    "/partners/{partner_id}/endpoints/{endpoint_id}/rotate-secret",
    response_model=SecretRotated,
    responses=COMMAND,
)
def rotate_secret(
    partner_id: PartnerId, endpoint_id: UUID, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """A new secret; the old one keeps signing (a second signature) for 24 hours."""
    authorize_partner(caller, "manage-endpoints", partner_id)
    return app.rotate_secret(key, partner_id, endpoint_id)


@router.post(
    "/partners/{partner_id}/endpoints/{endpoint_id}/enable",
    response_model=EndpointSwitched,
    responses=COMMAND,
)
def enable_endpoint(
    partner_id: PartnerId, endpoint_id: UUID, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Enable an endpoint again after fixing the receiver (then redrive what it missed)."""
    authorize_partner(caller, "manage-endpoints", partner_id)
    return app.set_enabled(key, partner_id, endpoint_id, True)


@router.post(
    "/partners/{partner_id}/endpoints/{endpoint_id}/disable",
    response_model=EndpointSwitched,
    responses=COMMAND,
)
def disable_endpoint(
    partner_id: PartnerId, endpoint_id: UUID, caller: Caller, key: IdempotencyKey, app: App
) -> Any:
    """Stop deliveries; what comes meanwhile is dead-lettered, for a redrive."""
    authorize_partner(caller, "manage-endpoints", partner_id)
    return app.set_enabled(key, partner_id, endpoint_id, False)


@router.post(
    "/partners/{partner_id}/endpoints/{endpoint_id}/redrive",
    response_model=Redriven,
    responses=COMMAND,
)
def redrive(
    partner_id: PartnerId,
    endpoint_id: UUID,
    body: Redrive,
    caller: Caller,
    key: IdempotencyKey,
    app: App,
) -> Any:
    """Send again the dead letters whose events happened in [since, until) (all if omitted)."""
    authorize_partner(caller, "manage-endpoints", partner_id)
    return app.redrive(key, partner_id, endpoint_id, body.since, body.until)


@router.get(
    "/partners/{partner_id}/endpoints/{endpoint_id}/deliveries",
    response_model=DeliveryLog,
    responses=COMMAND,
)
def deliveries(
    partner_id: PartnerId,
    endpoint_id: UUID,
    caller: Caller,
    app: App,
    state: Annotated[str | None, Query(pattern="^(pending|delivered|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    start: Annotated[
        str | None, Query(pattern=r"^[wl][0-9]{1,19}$", description="A page's `next`.")
    ] = None,
) -> Any:
    """The delivery log, newest first: attempts, status codes, latency; `state=dead`: the
    endpoint's dead letters. Deliveries not attempted yet come first. Pages go on from
    the previous page's `next` (null on the last page)."""
    authorize_partner(caller, "read-endpoints", partner_id)
    endpoint = app.endpoint(partner_id, endpoint_id)
    page = app.delivery_page(endpoint.id, state, start, limit)
    return {
        "deliveries": [_waiting_view(p) for p in page.waiting]
        + [_delivery_view(d, page.attempts[d.delivery_id]) for d in page.logged],
        "next": page.next,
    }


@router.get(
    "/partners/{partner_id}/feed",
    responses=problems(404) | {200: {"content": {BATCH_MEDIA_TYPE: {}}}},
)
async def feed(
    partner_id: PartnerId,
    caller: Caller,
    app: App,
    after: Annotated[str, Query(pattern=r"^[0-9]{1,18}$", description="Cursor.")] = "0",
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_LIMIT)] = 100,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S, description="Long poll (s).")] = 0,
) -> Response:
    """The partner's events after the cursor, as a CloudEvents batch (oldest first).

    The `Feed-Cursor` header is the cursor to ask with next: it stays valid across
    restarts. With `wait`, an empty answer is held until an event comes or time runs out.
    """
    authorize_partner(caller, "read-feed", partner_id)
    app.known_partner(partner_id)
    deadline = time.monotonic() + wait
    while True:
        entries, cursor = await asyncio.to_thread(app.feed, partner_id, int(after), limit)
        if entries or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    return Response(
        json.dumps(entries, ensure_ascii=False),
        media_type=BATCH_MEDIA_TYPE,
        headers={"Feed-Cursor": str(cursor)},
    )


def _endpoint_view(endpoint: Endpoint, backlog: EndpointBacklog | None) -> dict[str, Any]:
    return {
        "pending": backlog.pending if backlog else 0,
        "next_due": iso(backlog.next_due) if backlog and backlog.next_due else None,
        "id": str(endpoint.id),
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "ordered": endpoint.ordered,
        "rate_per_s": endpoint.rate_per_s,
        "disabled": endpoint.disabled,
        "failing_since": iso(endpoint.failing_since) if endpoint.failing_since else None,
    }


def _waiting_view(pending: PendingDelivery) -> dict[str, Any]:
    return {
        "message_id": pending.message_id,
        "state": "pending",
        "event_time": iso(pending.event_time),
        "attempts": [],
    }


def _figures(
    endpoint: Endpoint, figures: Figures, backlog: EndpointBacklog | None
) -> dict[str, Any]:
    totals = figures.totals
    return {
        "endpoint_id": str(endpoint.id),
        "disabled": endpoint.disabled,
        "pending": backlog.pending if backlog else 0,
        "delivered": totals.states.get("delivered", 0),
        "dead_lettered": totals.states.get("dead", 0),
        "attempts": totals.attempts,
        "failed_attempts": totals.failed_attempts,
        "latency_ms_p50": figures.latency_ms_p50,
        "latency_ms_p95": figures.latency_ms_p95,
    }


def _delivery_view(delivery: LoggedDelivery, attempts: list[AttemptRow]) -> dict[str, Any]:
    return {
        "message_id": delivery.message_id,
        "state": delivery.state,
        "event_time": iso(delivery.event_time),
        "attempts": [
            {"at": iso(a.at), "status": a.status, "latency_ms": a.latency_ms, "error": a.error}
            for a in attempts
        ],
    }


__all__ = ["NotFoundError", "router"]
