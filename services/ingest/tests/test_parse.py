"""Reading a department's CloudEvent from an HTTP request, in both content modes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.checks import BackgroundCheckCompleted
from services.ingest.main import parse_cloudevent
from services.kit.wire import MalformedEventError

VOLUNTEER = "0b7c6d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e"
DATA = {
    "check_id": "chk-9",
    "volunteer_id": VOLUNTEER,
    "outcome": "passed",
    "expires_on": "2027-11-30",
    "completed_at": "2026-11-23T08:00:00Z",
}
ATTRIBUTES = {
    "specversion": "1.0",
    "id": "pol-42",
    "source": "/pol/checks",
    "type": "org.tongxin.checks.background-check-completed.v1",
    "time": "2026-11-23T08:00:01+08:00",
}


def structured() -> tuple[dict[str, str], bytes]:
    document: dict[str, Any] = ATTRIBUTES | {"datacontenttype": "application/json", "data": DATA}
    return {"content-type": "application/cloudevents+json; charset=utf-8"}, json.dumps(
        document
    ).encode()


def binary() -> tuple[dict[str, str], bytes]:
    headers = {f"ce-{name}": value for name, value in ATTRIBUTES.items()}
    headers |= {
        "content-type": "application/json",
        "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    }
    return headers, json.dumps(DATA).encode()


@pytest.mark.parametrize("mode", [structured, binary])
def test_both_modes_give_the_same_event(mode: Any) -> None:
    headers, body = mode()
    envelope = parse_cloudevent(headers, body)
    assert envelope.id == "pol-42"
    assert envelope.department == "pol"
    assert isinstance(envelope.data, BackgroundCheckCompleted)
    assert envelope.data.volunteer_id == VOLUNTEER
    assert envelope.nats_subject() == "evt.pol.checks.background-check-completed"


def test_binary_mode_keeps_the_callers_trace() -> None:
    headers, body = binary()
    assert parse_cloudevent(headers, body).traceparent == headers["traceparent"]


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "text/plain"}, b"hello"),
        ({"content-type": "application/json"}, json.dumps(DATA).encode()),  # no ce-* headers
        ({"content-type": "application/cloudevents+json"}, b"[1, 2]"),
        ({"content-type": "application/cloudevents+json"}, b"\xff\xfe"),
    ],
)
def test_anything_else_is_malformed(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(MalformedEventError):
        parse_cloudevent(headers, body)


def test_a_binary_event_with_invalid_data_is_malformed() -> None:
    headers, _ = binary()
    with pytest.raises(MalformedEventError, match="does not match"):
        parse_cloudevent(headers, json.dumps(DATA | {"outcome": "unclear"}).encode())
