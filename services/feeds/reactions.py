"""Public events of every boundary, turned into feed entries for the partners agreed to them.

Which boundaries are read is the manifest's business (the feeds entry's `reactions` in
contracts/platform.json); which events and fields reach a partner, the published
language's (`partner_feed`, each field's privacy class) and the partner's agreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from contracts.platform import load_platform
from services.feeds.application import FeedsApplication
from services.kit.consumer import Delivered
from services.kit.runtime import Reaction
from services.kit.wire import Envelope

SOURCE = "/tongxin/feeds"


def message_id(partner_id: str, envelope: Envelope) -> str:
    """The partner's id of one event: the same on every redelivery and replay."""
    return "msg_" + uuid5(NAMESPACE_URL, f"tongxin:feeds:{partner_id}:{envelope.id}").hex


def partner_event(envelope: Envelope, partner_id: str, fields: Sequence[str]) -> dict[str, Any]:
    """The CloudEvent a partner receives: the event's own attributes, the agreed fields only."""
    data = envelope.data.upcast().model_dump(mode="json", include=set(fields))
    return {
        "specversion": "1.0",
        "id": message_id(partner_id, envelope),
        "source": SOURCE,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": envelope.time.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


class PublicEvents:
    """Records each public event once per partner whose agreement covers it."""

    def __init__(self, app: FeedsApplication) -> None:
        self.app = app

    def position(self, consumer: str) -> int:
        return self.app.consumer_position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        agreements = {
            partner_id: a.fields
            for partner_id in self.app.partner_ids()
            if (a := self.app.agreement(partner_id)) is not None
        }
        entries: list[tuple[str, str, dict[str, Any]]] = []
        for delivered in events:
            envelope = delivered.envelope
            event_type = type(envelope.data.upcast()).event_type()
            for partner_id, agreed in agreements.items():
                fields = agreed.get(event_type)
                if fields is None:
                    continue
                cloudevent = partner_event(envelope, partner_id, fields)
                entries.append((partner_id, cloudevent["id"], cloudevent))
        self.app.record_entries(consumer, events[-1].stream_seq, entries)


def reactions() -> tuple[Reaction, ...]:
    """One durable consumer per boundary the manifest says the feeds service reads."""
    return tuple(
        Reaction(
            name=f"feeds-{subjects.split('.')[2]}",
            subjects=subjects,
            projection=PublicEvents,
        )
        for subjects in load_platform().process("feeds").reactions
    )
