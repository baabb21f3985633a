"""The base of every published event and the CloudEvents naming conventions.

type:    org.tongxin.<boundary>.<event-kebab>.v<major>
subject: evt.<department>.<boundary>.<event-kebab>

Every field says what kind of data it is (`classified`), so a test can hold the
published language to its promise: no personal data on the bus (JetStream keeps
messages for ever, and partners copy them). What each class means:

- id: an opaque identifier (a UUID, a check id);
- code: a value from a closed list or a code another register defines (a school id);
- fact: a number or flag about something that happened (hours, capacity, an outcome);
- time: a date or time;
- public-text: free text written for the public (a shift's title), never about a person;
- personal: identifying data about a person (a name, a phone number, a note about them):
  kept by the owning service, encrypted per person, never in a published event;
- sealed: personal data for one service only, encrypted to that service's key
  (`services.kit.privacy.sealing`); the field names the receiving service (`sealed_to`).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.fields import FieldInfo

from contracts.departments import load_ownership_map

TYPE_PREFIX = "org.tongxin"
_TYPE_RE = re.compile(r"^org\.tongxin\.([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)\.v([1-9][0-9]*)$")

Privacy = Literal["id", "code", "fact", "time", "public-text", "personal", "sealed"]
PRIVACY_CLASSES: frozenset[str] = frozenset(get_args(Privacy))
# The only classes a partner's agreement may select from an event marked `partner_feed`.
PARTNER_CLASSES: frozenset[str] = frozenset({"id", "code", "fact", "time", "public-text"})
# JSON Schema keywords carrying the classification (`x-` keeps validators out of them).
PRIVACY_KEY = "x-privacy"
SEALED_TO_KEY = "x-sealed-to"


def classified(
    privacy: Privacy, description: str, *, sealed_to: str | None = None, **kwargs: Any
) -> Any:
    """A contract field with its privacy class (`sealed_to`: the service a sealed one is for)."""
    if (privacy == "sealed") != (sealed_to is not None):
        raise ValueError("a sealed field names the one service it is sealed to, and only it")
    extra: dict[str, JsonValue] = {PRIVACY_KEY: privacy}
    if sealed_to is not None:
        extra[SEALED_TO_KEY] = sealed_to
    return Field(description=description, json_schema_extra=extra, **kwargs)


def privacy_of(info: FieldInfo) -> str | None:
    """A field's privacy class, or None when it was left unclassified."""
    extra = info.json_schema_extra
    value = extra.get(PRIVACY_KEY) if isinstance(extra, dict) else None
    return value if isinstance(value, str) else None


def sealed_to(info: FieldInfo) -> str | None:
    extra = info.json_schema_extra
    value = extra.get(SEALED_TO_KEY) if isinstance(extra, dict) else None
    return value if isinstance(value, str) else None


class ContractEvent(BaseModel):
    """A published integration event: the payload (`data`) of one CloudEvent.

    Subclasses name their boundary, event name (kebab case) and major version.
    Readers are tolerant (unknown fields are ignored on read); writers are strict.

    A major that is no longer published (`published = False`) stays registered so that
    old messages in a stream still read; `upcast` turns one into the current major.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    boundary: ClassVar[str]
    event_name: ClassVar[str]
    major: ClassVar[int] = 1
    published: ClassVar[bool] = True
    partner_feed: ClassVar[bool] = False
    """True when partners may receive it (the feeds service); never about a child."""

    def upcast(self) -> ContractEvent:
        """The event as the current major of its type says it (itself, when current)."""
        return self

    @classmethod
    def sealed_fields(cls) -> dict[str, str]:
        """Field name -> the service it is sealed to, for this event's sealed fields."""
        return {
            name: service
            for name, info in cls.model_fields.items()
            if privacy_of(info) == "sealed" and (service := sealed_to(info)) is not None
        }

    @classmethod
    def partner_fields(cls) -> tuple[str, ...]:
        """The fields an agreement may select: none unless the event is for partners."""
        if not (cls.partner_feed and cls.published):
            return ()
        return tuple(
            name for name, info in cls.model_fields.items() if privacy_of(info) in PARTNER_CLASSES
        )

    @classmethod
    def event_type(cls) -> str:
        return _names(cls)[0]

    @classmethod
    def department(cls) -> str:
        return _names(cls)[1]

    @classmethod
    def subject(cls) -> str:
        return _names(cls)[2]

    @classmethod
    def names(cls) -> tuple[str, str, str]:
        """(type, department, subject) in one lookup."""
        return _names(cls)


@cache
def _names(cls: type[ContractEvent]) -> tuple[str, str, str]:
    """(type, department, subject) of an event class; computed once (the relay's hot path)."""
    ownership = load_ownership_map()
    return (
        f"{TYPE_PREFIX}.{cls.boundary}.{cls.event_name}.v{cls.major}",
        ownership.owner_of(cls.boundary).code,
        f"{ownership.subject_prefix(cls.boundary)}.{cls.event_name}",
    )


def parse_event_type(event_type: str) -> tuple[str, str, int]:
    """Split a CloudEvents type into (boundary, event name, major version)."""
    match = _TYPE_RE.match(event_type)
    if not match:
        raise ValueError(f"not a Tongxin event type: {event_type!r}")
    return match.group(1), match.group(2), int(match.group(3))
