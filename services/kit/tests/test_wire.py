"""CloudEvents on NATS: round trips and malformed messages."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from contracts.volunteers import VolunteerSignedUp
from services.kit.wire import (
    MalformedEventError,
    MisroutedEventError,
    binary_message,
    envelope_for,
    from_headers,
    from_nats,
    from_structured,
)

VOLUNTEER = "6f1c2b9e-7d1a-4c1e-9a57-2b8f0c1d2e3f"
SHIFT = "0b5e8f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


def sample(**overrides: object):
    data = VolunteerSignedUp(shift_id=SHIFT, volunteer_id=VOLUNTEER, places_filled=3)
    values = {
        "id": "volunteers-7",
        "source": "/tongxin/volunteers",
        "subject": SHIFT,
        "time": datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        "sequence": 7,
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    } | overrides
    return envelope_for(data, **values)  # type: ignore[arg-type]


def test_binary_round_trip() -> None:
    envelope = sample()
    headers = envelope.headers()
    assert headers["ce-type"] == "org.tongxin.volunteers.volunteer-signed-up.v1"
    assert headers["ce-department"] == "cyl"
    assert headers["Nats-Msg-Id"] == "volunteers-7"
    assert envelope.nats_subject() == "evt.cyl.volunteers.volunteer-signed-up"
    assert from_headers(headers, envelope.payload()) == envelope


def test_structured_round_trip() -> None:
    envelope = sample(sequence=None, traceparent=None)
    assert from_structured(envelope.to_structured()) == envelope


@pytest.mark.parametrize("attr", ["id", "source", "type", "specversion"])
def test_missing_attribute(attr: str) -> None:
    envelope = sample()
    headers = envelope.headers()
    del headers[f"ce-{attr}"]
    with pytest.raises(MalformedEventError):
        from_headers(headers, envelope.payload())
    document = envelope.to_structured()
    del document[attr]
    with pytest.raises(MalformedEventError):
        from_structured(document)


def test_wrong_specversion() -> None:
    envelope = sample()
    with pytest.raises(MalformedEventError):
        from_headers(envelope.headers() | {"ce-specversion": "0.3"}, envelope.payload())
    with pytest.raises(MalformedEventError):
        from_structured(envelope.to_structured() | {"specversion": "0.3"})


def test_unknown_type() -> None:
    envelope = sample()
    unknown = "org.tongxin.volunteers.nothing-happened.v1"
    with pytest.raises(MalformedEventError, match="unknown event type"):
        from_headers(envelope.headers() | {"ce-type": unknown}, envelope.payload())
    with pytest.raises(MalformedEventError):
        from_structured(envelope.to_structured() | {"type": unknown})


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"shift_id": "s", "volunteer_id": "v", "places_filled": -1}',
    ],
)
def test_data_failing_validation(body: bytes) -> None:
    with pytest.raises(MalformedEventError, match="does not match|not JSON"):
        from_headers(sample().headers(), body)


def test_readers_are_tolerant_and_writers_strict() -> None:
    envelope = sample()
    newer = {**envelope.data.model_dump(mode="json"), "added_later": 1}
    read = from_headers(envelope.headers(), orjson.dumps(newer))
    assert read.data == envelope.data
    with pytest.raises(MalformedEventError, match="added_later"):
        from_headers(envelope.headers(), orjson.dumps(newer), tolerant=False)


def test_validation_errors_do_not_repeat_the_values() -> None:
    envelope = sample()
    bad = {**envelope.data.model_dump(mode="json"), "places_filled": "Zhang San 13800000000"}
    with pytest.raises(MalformedEventError) as raised:
        from_headers(envelope.headers(), orjson.dumps(bad))
    assert "13800000000" not in str(raised.value)


def test_naive_or_bad_time() -> None:
    envelope = sample()
    for value in ("2026-11-23T09:00:00", "yesterday"):
        with pytest.raises(MalformedEventError):
            from_headers(envelope.headers() | {"ce-time": value}, envelope.payload())
    with pytest.raises(MalformedEventError):
        from_structured(envelope.to_structured() | {"time": 5})


def test_structured_rejects_non_objects_and_other_content_types() -> None:
    with pytest.raises(MalformedEventError):
        from_structured([1, 2])
    with pytest.raises(MalformedEventError):
        from_structured(sample().to_structured() | {"datacontenttype": "text/plain"})
    document = sample().to_structured()
    del document["data"]
    with pytest.raises(MalformedEventError):
        from_structured(document)


def test_binary_message_is_the_envelope_on_the_wire() -> None:
    envelope = sample()
    subject, body, headers = binary_message(
        envelope.data,
        id=envelope.id,
        source=envelope.source,
        subject=envelope.subject,
        time=envelope.time,
        sequence=envelope.sequence,
        traceparent=envelope.traceparent,
    )
    assert (subject, body, headers) == (
        envelope.nats_subject(),
        envelope.payload(),
        envelope.headers(),
    )
    assert from_headers(headers, body) == envelope


def test_an_event_read_from_its_own_subject_is_the_envelope_sent() -> None:
    envelope = sample()
    assert from_nats(envelope.nats_subject(), envelope.headers(), envelope.payload()) == envelope


@pytest.mark.parametrize(
    "nats_subject",
    [
        "evt.pol.checks.volunteer-signed-up",  # another department's boundary
        "evt.cyl.volunteersx.volunteer-signed-up",  # a prefix that only looks alike
        "evt.cyl.volunteers",  # the boundary itself, no event
    ],
)
def test_an_event_type_on_another_boundarys_subject_is_refused(nats_subject: str) -> None:
    envelope = sample()
    with pytest.raises(MisroutedEventError, match="belongs to boundary 'volunteers'"):
        from_nats(nats_subject, envelope.headers(), envelope.payload())


def test_a_department_header_other_than_the_subjects_owner_is_refused() -> None:
    envelope = sample()
    with pytest.raises(MisroutedEventError, match="ce-department 'pol'"):
        from_nats(
            envelope.nats_subject(),
            envelope.headers() | {"ce-department": "pol"},
            envelope.payload(),
        )


def test_without_a_department_header_the_subjects_owner_is_the_department() -> None:
    envelope = sample()
    headers = envelope.headers()
    del headers["ce-department"]
    assert from_nats(envelope.nats_subject(), headers, envelope.payload()).department == "cyl"
