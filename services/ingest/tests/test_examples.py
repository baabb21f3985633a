"""The ingest's OpenAPI document: an example of every postable event type that the event's
contract accepts, and schemas that stand on their own inside the document."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.departments import load_ownership_map
from contracts.events import ContractEvent
from services.ingest.examples import example_event
from services.ingest.openapi import STRUCTURED, postable, request_documentation
from services.kit.wire import from_structured

POSTABLE = postable(load_ownership_map())


@pytest.mark.parametrize("cls", POSTABLE, ids=lambda c: c.event_type())
def test_each_postable_type_has_an_example_its_contract_accepts(cls: type[ContractEvent]) -> None:
    envelope = from_structured(example_event(cls))
    assert type(envelope.data) is cls
    assert envelope.department == cls.department()


def test_the_document_shows_one_example_per_type_and_no_dangling_reference() -> None:
    body = request_documentation(load_ownership_map())["requestBody"]["content"]
    examples = body[STRUCTURED]["examples"]
    assert sorted(examples) == sorted(cls.event_type() for cls in POSTABLE)
    assert all(e["value"]["type"] == name for name, e in examples.items())
    # A `#/$defs/...` left in an event's schema would point at the document's root.
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(body)
    assert not refs
    assert not any(cls.published is False for cls in POSTABLE), "a retired major is not posted"
