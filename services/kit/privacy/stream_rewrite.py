"""Replacing a stream's messages of a retired major: personal data JetStream keeps for ever.

A major that carried personal data (`volunteer-registered.v1` held the volunteer's name)
is no longer published, but the messages published before stay in the stream, and every
new reader replays them. Each one is replaced: its upcast (the current major, without the
personal data) is published under a new id, then the old message is deleted, its bytes
erased on the server's disk (JetStream's secure delete). The replacement lands at the end
of the stream, after later events about the same person: readers are tolerant of that
order (the gateway folds a late registration in), and a registration read twice is the same
fact. Deterministic ids (`<old id>.upcast`) let a run cut short be run again.

A relay publishing to the stream meanwhile finds its chain of expected ids broken once
and starts a new one (it resumes from its stored position): stopping it is tidier.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.events import ContractEvent
from services.kit.wire import binary_message, from_headers


@dataclass(frozen=True)
class Replaced:
    """What a run did: messages of the old major replaced, and the stream's messages read."""

    replaced: int
    read: int


async def replace_retired_major(
    js: JetStreamContext, stream: str, retired: type[ContractEvent]
) -> Replaced:
    """Replace every message of `retired` in `stream` by its upcast; see the module doc."""
    if retired.published:
        raise ValueError(f"{retired.event_type()} is still published: nothing to replace")
    event_type, subject = retired.event_type(), retired.subject()
    seq, replaced, read = 1, 0, 0
    while True:
        try:
            message = await js.get_msg(stream, seq, subject=subject, next=True)
        except NotFoundError:
            return Replaced(replaced, read)
        read += 1
        assert message.seq is not None
        headers = message.headers or {}
        if headers.get("ce-type") == event_type:
            old = from_headers(headers, message.data or b"", tolerant=False)
            nats_subject, body, new_headers = binary_message(
                old.data.upcast(),
                id=f"{old.id}.upcast",
                source=old.source,
                subject=old.subject,
                time=old.time,
                traceparent=old.traceparent,
            )
            await js.publish(nats_subject, body, stream=stream, headers=new_headers)
            await js.delete_msg(stream, message.seq)
            replaced += 1
        seq = message.seq + 1
