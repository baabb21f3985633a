"""The base of every published event and the CloudEvents naming conventions.

type:    org.tongxin.<boundary>.<event-kebab>.v<major>
subject: evt.<department>.<boundary>.<event-kebab>
"""

from __future__ import annotations

import re
from functools import cache
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from contracts.departments import load_ownership_map

TYPE_PREFIX = "org.tongxin"
_TYPE_RE = re.compile(r"^org\.tongxin\.([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)\.v([1-9][0-9]*)$")


class ContractEvent(BaseModel):
    """A published integration event: the payload (`data`) of one CloudEvent.

    Subclasses name their boundary, event name (kebab case) and major version.
    Readers are tolerant (unknown fields are ignored on read); writers are strict.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    boundary: ClassVar[str]
    event_name: ClassVar[str]
    major: ClassVar[int] = 1

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
