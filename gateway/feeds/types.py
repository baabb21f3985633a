"""GraphQL types of the feeds feature."""

from __future__ import annotations

import strawberry

from gateway.feeds.readmodel import EndpointRow


@strawberry.type(description="A partner's webhook endpoint and how its deliveries go.")
class FeedEndpoint:
    id: strawberry.ID = strawberry.field(description="Endpoint id (UUID).")
    partner_id: str = strawberry.field(description="Partner id (contracts/partners.json).")
    url: str = strawberry.field(description="Where deliveries are posted.")
    event_types: list[str] = strawberry.field(description="Types delivered (empty: all agreed).")
    ordered: bool = strawberry.field(description="Events of one subject arrive in order.")
    rate_per_s: float = strawberry.field(description="Most deliveries per second.")
    added_at: str = strawberry.field(description="When it was added (ISO 8601).")
    disabled: str | None = strawberry.field(description="Why it is disabled; null when on.")
    delivered: int = strawberry.field(description="Messages delivered.")
    dead_lettered: int = strawberry.field(description="Messages given up on (redrivable).")
    mean_latency_ms: float | None = strawberry.field(description="Mean successful attempt.")
    last_delivered_at: str | None = strawberry.field(description="Last delivery (ISO 8601).")

    @classmethod
    def from_row(cls, row: EndpointRow) -> FeedEndpoint:
        return cls(
            id=strawberry.ID(row.id),
            partner_id=row.partner_id,
            url=row.url,
            event_types=row.event_types,
            ordered=row.ordered,
            rate_per_s=row.rate_per_s,
            added_at=row.added_at,
            disabled=row.disabled,
            delivered=row.delivered,
            dead_lettered=row.dead_lettered,
            mean_latency_ms=row.mean_latency_ms,
            last_delivered_at=row.last_delivered_at,
        )


@strawberry.type(description="What prop staff agreed a partner receives.")
class FeedAgreement:
    partner_id: str = strawberry.field(description="Partner id.")
    event_types: list[str] = strawberry.field(description="Event types the partner receives.")
