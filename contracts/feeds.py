"""Events published by the feeds service (owned by prop, the Propaganda Dept. & Media Centre).

They say what happens to partners' subscriptions (agreements, endpoints, deliveries), for
prop staff's dashboard. The feed entries themselves go to partners over HTTP (webhooks
and the pull feed), never on the bus: a partner reads only its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from contracts.events import ContractEvent, classified

DisableReason = Literal["failing-5-days", "gone-410", "by-partner"]


class _FeedsEvent(ContractEvent):
    boundary = "feeds"


class AgreementSet(_FeedsEvent):
    """Prop staff set which event types, and which of their fields, a partner receives."""

    event_name = "agreement-set"
    partner_id: str = classified("code", "Partner id (contracts/partners.json).")
    event_types: list[str] = classified("code", "CloudEvents types the partner may receive.")
    set_at: datetime = classified("time", "When the agreement was set.")


class EndpointAdded(_FeedsEvent):
    """A partner added a webhook endpoint."""

    event_name = "endpoint-added"
    endpoint_id: str = classified("id", "Endpoint id (UUID).")
    partner_id: str = classified("code", "Partner id.")
    url: str = classified("code", "Where deliveries are posted (the partner's server).")
    event_types: list[str] = classified("code", "Types delivered here (empty: all agreed).")
    ordered: bool = classified("fact", "True when events of one subject arrive in order.")
    rate_per_s: float = classified("fact", "Most deliveries per second to this endpoint.")
    added_at: datetime = classified("time", "When the endpoint was added.")


class EndpointDisabled(_FeedsEvent):
    """Deliveries to an endpoint stopped: it failed for 5 days, answered 410, or its partner
    disabled it. The partner and prop staff are told; its messages wait for a redrive."""

    event_name = "endpoint-disabled"
    endpoint_id: str = classified("id", "Endpoint id (UUID).")
    partner_id: str = classified("code", "Partner id.")
    reason: DisableReason = classified("code", "failing-5-days, gone-410 or by-partner.")
    disabled_at: datetime = classified("time", "When it was disabled.")


class EndpointEnabled(_FeedsEvent):
    """A partner enabled its endpoint again (after fixing its server)."""

    event_name = "endpoint-enabled"
    endpoint_id: str = classified("id", "Endpoint id (UUID).")
    partner_id: str = classified("code", "Partner id.")
    enabled_at: datetime = classified("time", "When it was enabled.")


class MessageDelivered(_FeedsEvent):
    """A message reached an endpoint (a 2xx answer)."""

    event_name = "message-delivered"
    endpoint_id: str = classified("id", "Endpoint id (UUID).")
    partner_id: str = classified("code", "Partner id.")
    message_id: str = classified("id", "The message's webhook-id.")
    attempts: int = classified("fact", "Attempts it took.", ge=1)
    latency_ms: float = classified("fact", "How long the successful attempt took.", ge=0)
    delivered_at: datetime = classified("time", "When it was delivered.")


class MessageDeadLettered(_FeedsEvent):
    """A message was given up on for an endpoint (its retries ran out, or the endpoint is
    disabled); a redrive sends it again."""

    event_name = "message-dead-lettered"
    endpoint_id: str = classified("id", "Endpoint id (UUID).")
    partner_id: str = classified("code", "Partner id.")
    message_id: str = classified("id", "The message's webhook-id.")
    attempts: int = classified("fact", "Attempts made.", ge=0)
    dead_at: datetime = classified("time", "When it was given up on.")
