"""What the fuzzers found, pinned: each case once failed before its fix."""

from __future__ import annotations

from typing import Any

import pytest

from services.kit.wire import MalformedEventError, from_structured
from tests.support.apps import police_result

VOLUNTEER = "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires_on", 0.0),  # was read as 1970-01-01
        ("expires_on", 20991231),
        ("completed_at", 1_700_000_000),  # was read as a Unix time
    ],
)
def test_a_posted_event_is_read_strictly(field: str, value: Any) -> None:
    event = police_result(VOLUNTEER, "chk-1")
    event["data"][field] = value
    with pytest.raises(MalformedEventError):
        from_structured(event, tolerant=False)


def test_a_strictly_read_event_still_accepts_its_json_forms() -> None:
    envelope = from_structured(police_result(VOLUNTEER, "chk-1"), tolerant=False)
    assert str(envelope.data.expires_on) == "2099-12-31"  # type: ignore[attr-defined]
