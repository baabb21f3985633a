"""The ingest's request and response as OpenAPI documents them.

The route reads its body itself (two CloudEvents modes, strict parsing, errors that
never echo values), so FastAPI cannot infer the request; it is described here from
the published language: one structured CloudEvent schema per event type a department
system may post (those of `system` boundaries), each with an example (`examples`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from contracts.departments import OwnershipMap
from contracts.events import ContractEvent
from contracts.registry import ALL_EVENTS
from services.ingest.examples import example_event

STRUCTURED = "application/cloudevents+json"
BINARY = "application/json"
CE_HEADERS = ("specversion", "id", "source", "type", "time", "subject")


class Receipt(BaseModel):
    """JetStream stored the event (or already had it: `duplicate`)."""

    id: str = Field(description="The CloudEvent id.")
    type: str = Field(description="The CloudEvent type.")
    subject: str = Field(description="The NATS subject it was published on.")
    stream: str = Field(description="The JetStream stream that stored it.")
    stream_seq: int = Field(description="Its sequence in that stream.")
    duplicate: bool = Field(description="True when a retry: the stream already held it.")


def postable(ownership: OwnershipMap) -> list[type[ContractEvent]]:
    """Event types a department system may post: the current majors of its own systems'
    events, not services'."""
    return [
        cls
        for cls in ALL_EVENTS
        if cls.published and ownership.boundary(cls.boundary).kind == "system"
    ]


def _data(cls: type[ContractEvent]) -> dict[str, Any]:
    """The event's JSON schema with its definitions written in place: a `#/$defs/...`
    reference inside the OpenAPI document would point at the document's root, where no
    reader (nor a generator of test cases) finds it."""
    schema = cls.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return inline(defs[ref.removeprefix("#/$defs/")]) | inline(rest)
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined


def _structured(cls: type[ContractEvent]) -> dict[str, Any]:
    text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "title": cls.__name__,
        "required": ["specversion", "id", "source", "type", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": text,
            "source": text,
            "type": {"const": cls.event_type()},
            "subject": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": BINARY},
            "department": {"const": cls.department()},
            "data": _data(cls),
        },
    }


def request_documentation(ownership: OwnershipMap) -> dict[str, Any]:
    """`openapi_extra` for POST /events: both CloudEvents modes and their ce-* headers."""
    events = postable(ownership)
    return {
        "parameters": [
            {
                "name": f"ce-{attr}",
                "in": "header",
                "required": False,
                "description": f"Binary mode ({BINARY} body): the CloudEvent's {attr}.",
                "schema": {"type": "string"},
            }
            for attr in CE_HEADERS
        ],
        # anyOf rather than oneOf: the `type` constant already makes the alternatives
        # exclusive, and a generator of test cases need not prove it for each case.
        "requestBody": {
            "required": True,
            "content": {
                STRUCTURED: {
                    "schema": {"anyOf": [_structured(cls) for cls in events]},
                    "examples": {
                        cls.event_type(): {"summary": cls.__doc__, "value": example_event(cls)}
                        for cls in events
                    },
                },
                BINARY: {"schema": {"anyOf": [_data(cls) for cls in events]}},
            },
        },
    }
