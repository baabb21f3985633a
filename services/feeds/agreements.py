"""What an agreement may select: only events marked for partners, only their public fields.

The rule is read from the published language itself (`ContractEvent.partner_feed` and each
field's privacy class), so an event a new service marks for partners is agreeable at once,
and a personal or sealed field can never be selected, whoever asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contracts.events import ContractEvent
from contracts.registry import ALL_EVENTS
from services.kit.errors import DomainError


class AgreementRefusedError(DomainError):
    """The agreement names an event or a field partners may not receive."""

    code = "agreement-refused"


def partner_events() -> dict[str, type[ContractEvent]]:
    """Every event type partners may receive, by CloudEvents type."""
    return {cls.event_type(): cls for cls in ALL_EVENTS if cls.partner_fields()}


def checked_fields(requested: Mapping[str, Sequence[str] | None]) -> dict[str, list[str]]:
    """The agreement as stored: type -> fields (None asks for every field partners may get)."""
    allowed = partner_events()
    fields: dict[str, list[str]] = {}
    for event_type, names in requested.items():
        cls = allowed.get(event_type)
        if cls is None:
            raise AgreementRefusedError(f"{event_type!r} is not an event partners may receive")
        public = cls.partner_fields()
        if names is None:
            fields[event_type] = list(public)
            continue
        refused = sorted(set(names) - set(public))
        if refused:
            raise AgreementRefusedError(
                f"{event_type}: fields {refused} are not public facts partners may receive"
            )
        fields[event_type] = [n for n in public if n in names]
    return fields
