"""Response bodies of the feeds API."""

from __future__ import annotations

from pydantic import Field

from services.kit.commands import Answer


class AgreementView(Answer):
    partner_id: str
    fields: dict[str, list[str]] = Field(description="Event type -> the fields received.")


class EndpointCreated(Answer):
    id: str
    secret: str = Field(description="whsec_… secret: shown once, verifies every delivery.")


class SecretRotated(Answer):
    id: str
    secret: str = Field(description="The new secret; the previous one signs until below.")
    previous_valid_until: str


class EndpointSwitched(Answer):
    id: str
    enabled: bool


class Redriven(Answer):
    id: str
    redriven: int = Field(description="Dead-lettered messages scheduled again.")


class EndpointView(Answer):
    id: str
    url: str
    event_types: list[str]
    ordered: bool
    rate_per_s: float
    disabled: str | None = Field(description="Why it is disabled, or null when on.")
    failing_since: str | None
    pending: int = Field(description="Messages waiting to be delivered (or retried).")
    next_due: str | None = Field(description="When the next waiting message is due.")


class Attempt(Answer):
    at: str
    status: int | None
    latency_ms: float
    error: str | None


class DeliveryView(Answer):
    message_id: str
    state: str = Field(description="pending, delivered or dead.")
    event_time: str
    attempts: list[Attempt]


class DeliveryLog(Answer):
    deliveries: list[DeliveryView]
    next: str | None = Field(description="Give as `start` for the next page; null: the last.")


class PartnerEventType(Answer):
    type: str
    fields: list[str]


class EventTypes(Answer):
    event_types: list[PartnerEventType]


class PartnerView(Answer):
    id: str
    name_zh: str
    name_en: str
    description: str
    source: str = Field(description="contracts (contracts/partners.json) or api.")
    agreement: dict[str, list[str]] = Field(description="Event type -> the fields received.")


class EndpointFigures(Answer):
    endpoint_id: str
    disabled: str | None
    pending: int
    delivered: int
    dead_lettered: int
    attempts: int
    failed_attempts: int = Field(description="Attempts answered other than 2xx, or not at all.")
    latency_ms_p50: float | None = Field(description="Of answered attempts.")
    latency_ms_p95: float | None


class PartnerFigures(Answer):
    partner_id: str
    endpoints: list[EndpointFigures]
