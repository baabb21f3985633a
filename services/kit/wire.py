"""CloudEvents 1.0 on NATS: binary mode, attributes as `ce-*` headers, data as JSON body.

The `cloudevents` package has no NATS binding; the NATS protocol binding uses
the same header idea as the HTTP binary mode, which is what is written here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from pydantic import ValidationError

from contracts.departments import load_ownership_map
from contracts.events import ContractEvent
from contracts.registry import UnknownEventTypeError, event_class

SPEC_VERSION = "1.0"
REQUIRED = ("id", "source", "type", "specversion")


class MalformedEventError(ValueError):
    """A message is not a valid CloudEvent of the published language."""


class MisroutedEventError(MalformedEventError):
    """An event arrived on a subject outside its type's boundary, or claims another owner.

    NATS permissions decide who may publish on a subject, and nothing else: a department
    allowed into its own boundary could otherwise put another boundary's event type there.
    """


@dataclass(frozen=True)
class Envelope:
    """One CloudEvent: its attributes and its validated data."""

    id: str
    source: str
    type: str
    subject: str | None
    time: datetime
    department: str
    data: ContractEvent
    sequence: int | None = None
    traceparent: str | None = None

    def headers(self, msg_id: str | None = None) -> dict[str, str]:
        return _headers(
            self.id,
            self.source,
            self.type,
            self.time,
            self.department,
            self.subject,
            self.sequence,
            self.traceparent,
            msg_id,
        )

    def payload(self) -> bytes:
        return self.data.model_dump_json().encode()

    def nats_subject(self) -> str:
        return type(self.data).subject()

    def to_structured(self) -> dict[str, Any]:
        """The structured-mode JSON form (application/cloudevents+json)."""
        out: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(),
            "department": self.department,
            "datacontenttype": "application/json",
            "data": self.data.model_dump(mode="json"),
        }
        if self.subject:
            out["subject"] = self.subject
        return out


def _headers(
    id: str,
    source: str,
    type: str,
    time: datetime,
    department: str,
    subject: str | None,
    sequence: int | None,
    traceparent: str | None,
    msg_id: str | None = None,
) -> dict[str, str]:
    headers = {
        "ce-specversion": SPEC_VERSION,
        "ce-id": id,
        "ce-source": source,
        "ce-type": type,
        "ce-time": time.isoformat(),
        "ce-department": department,
        "content-type": "application/json",
        "Nats-Msg-Id": msg_id or id,
    }
    if subject:
        headers["ce-subject"] = subject
    if sequence is not None:
        headers["ce-sequence"] = str(sequence)
    if traceparent:
        headers["traceparent"] = traceparent
    return headers


def fixed_headers(
    *,
    source: str,
    type: str,
    time: datetime,
    department: str,
    subject: str | None,
    traceparent: str | None,
) -> dict[str, str]:
    """The attributes of a binary-mode CloudEvent that do not depend on its log position.

    `with_position` completes them; together they are the headers `binary_message` gives.
    """
    headers = {
        "ce-specversion": SPEC_VERSION,
        "ce-source": source,
        "ce-type": type,
        "ce-time": time.isoformat(),
        "ce-department": department,
        "content-type": "application/json",
    }
    if subject:
        headers["ce-subject"] = subject
    if traceparent:
        headers["traceparent"] = traceparent
    return headers


def with_position(fixed: dict[str, str], id: str, sequence: int) -> dict[str, str]:
    """Fixed attributes completed with the id and sequence a log position gives."""
    fixed["ce-id"] = id
    fixed["Nats-Msg-Id"] = id
    fixed["ce-sequence"] = str(sequence)
    return fixed


def binary_message(
    data: ContractEvent,
    *,
    id: str,
    source: str,
    subject: str | None,
    time: datetime,
    sequence: int | None = None,
    traceparent: str | None = None,
) -> tuple[str, bytes, dict[str, str]]:
    """(NATS subject, body, headers) of a binary-mode CloudEvent, without an `Envelope`.

    The same message as `envelope_for(...)` gives, built for the relay's hot path.
    """
    event_type, department, nats_subject = type(data).names()
    headers = _headers(id, source, event_type, time, department, subject, sequence, traceparent)
    return nats_subject, data.model_dump_json().encode(), headers


def envelope_for(
    data: ContractEvent,
    *,
    id: str,
    source: str,
    subject: str | None,
    time: datetime | None = None,
    sequence: int | None = None,
    traceparent: str | None = None,
) -> Envelope:
    return Envelope(
        id=id,
        source=source,
        type=type(data).event_type(),
        subject=subject,
        time=time or datetime.now(UTC),
        department=type(data).department(),
        data=data,
        sequence=sequence,
        traceparent=traceparent,
    )


def describe(exc: ValidationError) -> str:
    """A validation error without the offending values: they may be personal data."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'data'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )


def _parse_data(event_type: str, data: Any, *, tolerant: bool) -> ContractEvent:
    """Validate the data of an event type. Writers are strict, readers tolerant."""
    try:
        cls = event_class(event_type)
    except UnknownEventTypeError:
        raise MalformedEventError(f"unknown event type {event_type!r}") from None
    try:
        if tolerant:
            if isinstance(data, bytes | str):
                # Most events have exactly the fields this reader knows: validate the JSON
                # directly, and only when that fails drop unknown fields and try again.
                with contextlib.suppress(ValidationError):
                    return cls.model_validate_json(data)
            # Fields a newer producer added are dropped before validation.
            document = orjson.loads(data) if isinstance(data, bytes | str) else data
            if isinstance(document, dict):
                document = {k: v for k, v in document.items() if k in cls.model_fields}
            return cls.model_validate(document)
        # Strict, and as JSON: a number is not a date, nor a string a number.
        raw = data if isinstance(data, bytes | str) else orjson.dumps(data)
        return cls.model_validate_json(raw, strict=True)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        raise MalformedEventError(f"data of {event_type} is not JSON") from None
    except ValidationError as exc:
        raise MalformedEventError(f"data does not match {event_type}: {describe(exc)}") from None


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise MalformedEventError("time must be an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedEventError(f"time is not RFC 3339: {value!r}") from None
    if parsed.tzinfo is None:
        raise MalformedEventError("time needs a UTC offset")
    return parsed


def from_headers(headers: dict[str, str] | None, body: bytes, *, tolerant: bool = True) -> Envelope:
    """Read a binary-mode CloudEvent from NATS headers and body (tolerantly by default)."""
    headers = headers or {}
    for attr in REQUIRED:
        if not headers.get(f"ce-{attr}"):
            raise MalformedEventError(f"missing CloudEvents attribute ce-{attr}")
    if headers["ce-specversion"] != SPEC_VERSION:
        raise MalformedEventError("only CloudEvents 1.0 is accepted")
    event_type = headers["ce-type"]
    data = _parse_data(event_type, body, tolerant=tolerant)
    sequence = headers.get("ce-sequence")
    return Envelope(
        id=headers["ce-id"],
        source=headers["ce-source"],
        type=event_type,
        subject=headers.get("ce-subject"),
        time=_parse_time(headers.get("ce-time") or datetime.now(UTC).isoformat()),
        department=headers.get("ce-department") or type(data).department(),
        data=data,
        sequence=int(sequence) if sequence and sequence.isdigit() else None,
        traceparent=headers.get("traceparent"),
    )


def from_nats(
    nats_subject: str, headers: dict[str, str] | None, body: bytes, *, tolerant: bool = True
) -> Envelope:
    """Read a binary-mode CloudEvent as it arrived on a NATS subject.

    The subject is the only attribute NATS vouches for (its permissions say who may
    publish there), so it decides: the event's type must belong to the subject's
    boundary, and a `ce-department` header naming anyone but that boundary's owner is
    refused rather than believed.
    """
    event_type = (headers or {}).get("ce-type")
    if event_type:
        check_route(event_type, nats_subject)
    envelope = from_headers(headers, body, tolerant=tolerant)
    owner = type(envelope.data).department()
    if envelope.department != owner:
        raise MisroutedEventError(
            f"ce-department {envelope.department!r} is not {owner!r}, the owner of {nats_subject}"
        )
    return envelope


def check_route(event_type: str, nats_subject: str) -> None:
    """Refuse an event type on a subject outside the type's own boundary."""
    try:
        cls = event_class(event_type)
    except UnknownEventTypeError:
        raise MalformedEventError(f"unknown event type {event_type!r}") from None
    prefix = _subject_prefix(cls.boundary)
    if not nats_subject.startswith(prefix + "."):
        raise MisroutedEventError(
            f"{event_type} belongs to boundary {cls.boundary!r} ({prefix}.>), "
            f"not to subject {nats_subject}"
        )


@cache
def _subject_prefix(boundary: str) -> str:
    return load_ownership_map().subject_prefix(boundary)


def from_structured(document: Any, *, tolerant: bool = False) -> Envelope:
    """Read a structured-mode CloudEvent (a decoded JSON object; strictly by default)."""
    if not isinstance(document, dict):
        raise MalformedEventError("a CloudEvent must be a JSON object")
    for attr in REQUIRED:
        value = document.get(attr)
        if not isinstance(value, str) or not value:
            raise MalformedEventError(f"missing or empty CloudEvents attribute {attr!r}")
    if document["specversion"] != SPEC_VERSION:
        raise MalformedEventError("only CloudEvents 1.0 is accepted")
    content_type = document.get("datacontenttype", "application/json")
    if content_type != "application/json":
        raise MalformedEventError("datacontenttype must be application/json")
    if "data" not in document:
        raise MalformedEventError("missing data")
    data = _parse_data(document["type"], document["data"], tolerant=tolerant)
    subject = document.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise MalformedEventError("subject must be a string")
    department = document.get("department") or type(data).department()
    return Envelope(
        id=document["id"],
        source=document["source"],
        type=document["type"],
        subject=subject,
        time=_parse_time(document.get("time") or datetime.now(UTC).isoformat()),
        department=str(department),
        data=data,
        traceparent=document.get("traceparent"),
    )
