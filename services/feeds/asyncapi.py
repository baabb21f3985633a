"""The AsyncAPI 3 document partners generate their receivers from, made from contracts/.

One channel per event type partners may be agreed (`partner_feed`), whose message is the
CloudEvent the feeds service POSTs: its `data` holds only the event's public fields (an
agreement picks among them, so none is required), its headers the Standard Webhooks
ones, and the signature is the security scheme. Served at `GET /asyncapi.json`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from contracts.events import ContractEvent
from services.feeds.agreements import partner_events
from services.feeds.reactions import SOURCE

VERSION = "3.0.0"
SIGNATURE = "webhookSignature"


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with its local `$defs` references replaced by what they name."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def data_schema(cls: type[ContractEvent]) -> dict[str, Any]:
    """The JSON Schema of the `data` a partner may receive: the public fields only."""
    full = cls.model_json_schema(mode="serialization")
    defs = full.get("$defs", {})
    fields = cls.partner_fields()
    return {
        "type": "object",
        "title": full.get("title", cls.__name__),
        "description": (
            (full.get("description") or "").strip()
            + "\n\nOnly the fields the partner's agreement names are present."
        ).strip(),
        "properties": {name: _inline(full["properties"][name], defs) for name in fields},
        "additionalProperties": False,
    }


def _cloudevent(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "data"],
        "properties": {
            "specversion": {"type": "string", "const": "1.0"},
            "id": {
                "type": "string",
                "description": "The message id, also the `webhook-id`: the same on every "
                "retry and redrive, so a receiver drops what it has seen.",
            },
            "source": {"type": "string", "const": SOURCE},
            "type": {"type": "string", "const": event_type},
            "subject": {"type": "string", "description": "What the event is about (its id)."},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"type": "string", "const": "application/json"},
            "data": data,
        },
    }


HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "properties": {
        "webhook-id": {
            "type": "string",
            "description": "The message id (the CloudEvent's `id`): idempotency key.",
        },
        "webhook-timestamp": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "Seconds since the epoch when signed; refuse it 5 minutes off.",
        },
        "webhook-signature": {
            "type": "string",
            "description": "Space-separated `v1,<base64>` HMAC-SHA256 signatures of "
            "`{webhook-id}.{webhook-timestamp}.{body}`, one per current secret (two during "
            "a rotation's 24 hours).",
        },
    },
}


def _key(event_type: str) -> str:
    """A component key for an event type (AsyncAPI keys allow letters, digits, . _ -)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", event_type.removeprefix("org.tongxin."))


@cache
def document() -> dict[str, Any]:
    """The AsyncAPI 3 document of every partner-facing event type."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, cls in sorted(partner_events().items()):
        key = _key(event_type)
        messages[key] = {
            "name": event_type,
            "title": cls.__name__,
            "summary": (cls.__doc__ or event_type).strip().splitlines()[0],
            "contentType": "application/cloudevents+json",
            "headers": HEADERS,
            "payload": _cloudevent(event_type, data_schema(cls)),
        }
        channels[key] = {
            "address": None,
            "title": event_type,
            "description": "POSTed to the URL of each endpoint of a partner whose agreement "
            f"covers `{event_type}` (and whose filter, if any, names it).",
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"send-{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
            "security": [{"$ref": f"#/components/securitySchemes/{SIGNATURE}"}],
        }
    return {
        "asyncapi": VERSION,
        "info": {
            "title": "Tongxin partner feeds",
            "version": "1.0.0",
            "description": "Events the city's education alliance sends partner institutions "
            "(signed webhooks per Standard Webhooks; the same events in the pull feed, "
            "`GET /partners/{partner}/feed`). Retries: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, "
            "10 h with jitter; answer 2xx quickly, 410 to unsubscribe the endpoint. "
            "HTTP is how every partner receives, including partners registered through the "
            "API (`PUT /partners/{partner}`): partner feeds are not published on NATS, and "
            "no NATS credential is issued to partners.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "partner": {
                "host": "{host}",
                "protocol": "https",
                "description": "The partner's own server: the URL given for the endpoint.",
                "variables": {"host": {"description": "The endpoint URL's host."}},
                "security": [{"$ref": f"#/components/securitySchemes/{SIGNATURE}"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "securitySchemes": {
                SIGNATURE: {
                    "type": "httpApiKey",
                    "in": "header",
                    "name": "webhook-signature",
                    "description": "Standard Webhooks: verify with the endpoint's `whsec_` "
                    "secret (e.g. the `standardwebhooks` library's `Webhook(secret).verify`).",
                }
            },
        },
    }
