"""Domain events -> published contract events: what prop staff's dashboard follows.

Feed entries are never published on the bus: a partner receives its own over HTTP.
Endpoint secrets stay here; the URL is published (it is the partner institution's
server, not a person's).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contracts import feeds as published
from contracts.events import ContractEvent


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _agreement(e: Any) -> ContractEvent:
    return published.AgreementSet(
        partner_id=e.partner_id,
        event_types=sorted(e.fields),
        set_at=_at(e.at),
    )


def _added(e: Any) -> ContractEvent:
    return published.EndpointAdded(
        endpoint_id=str(e.originator_id),
        partner_id=e.partner_id,
        url=e.url,
        event_types=list(e.event_types),
        ordered=e.ordered,
        rate_per_s=e.rate_per_s,
        added_at=_at(e.at),
    )


def _disabled(e: Any) -> ContractEvent:
    return published.EndpointDisabled(
        endpoint_id=str(e.originator_id),
        partner_id=e.partner_id,
        reason=e.reason,
        disabled_at=_at(e.at),
    )


def _enabled(e: Any) -> ContractEvent:
    return published.EndpointEnabled(
        endpoint_id=str(e.originator_id), partner_id=e.partner_id, enabled_at=_at(e.at)
    )


def _delivered(e: Any) -> ContractEvent:
    return published.MessageDelivered(
        endpoint_id=str(e.endpoint_id),
        partner_id=e.partner_id,
        message_id=e.message_id,
        attempts=e.attempts,
        latency_ms=e.latency_ms,
        delivered_at=_at(e.at),
    )


def _delivered_at_once(e: Any) -> ContractEvent:
    return published.MessageDelivered(
        endpoint_id=str(e.endpoint_id),
        partner_id=e.partner_id,
        message_id=e.message_id,
        attempts=1,
        latency_ms=e.latency_ms,
        delivered_at=_at(e.at),
    )


def _dead(e: Any) -> ContractEvent:
    return published.MessageDeadLettered(
        endpoint_id=str(e.endpoint_id),
        partner_id=e.partner_id,
        message_id=e.message_id,
        attempts=e.attempts,
        dead_at=_at(e.at),
    )


TRANSLATIONS: dict[str, Callable[[Any], ContractEvent]] = {
    "Agreement.Set": _agreement,
    "Agreement.Changed": _agreement,
    "Endpoint.Added": _added,
    "Endpoint.Disabled": _disabled,
    "Endpoint.Enabled": _enabled,
    "Delivery.Delivered": _delivered,
    "Delivery.DeliveredAtOnce": _delivered_at_once,
    "Delivery.DeadLettered": _dead,
}


def translate(domain_event: Any) -> ContractEvent | None:
    """The contract event to publish for a domain event, or None (not published)."""
    translation = TRANSLATIONS.get(type(domain_event).__qualname__)
    return translation(domain_event) if translation else None
