"""Helpers for the gateway's tests: events as the consumer would deliver them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts.events import ContractEvent
from contracts.volunteers import (
    BackgroundCheckRecorded,
    BackgroundCheckRequested,
    CheckOutcome,
    ShiftPublished,
    SignUpCancelled,
    VolunteerCheckedIn,
    VolunteerCheckedOut,
    VolunteerErased,
    VolunteerKind,
    VolunteerRegistered,
    VolunteerRegisteredV1,
    VolunteerSignedUp,
)
from gateway.core.feature import LiveFeature
from services.kit.consumer import Delivered
from services.kit.wire import envelope_for

CONSUMER = "gateway-volunteers"
T0 = datetime(2026, 9, 1, 7, 0, tzinfo=UTC)


class Stream:
    """A fake stream: numbers events the way JetStream would."""

    def __init__(self) -> None:
        self.seq = 0
        self.log: list[Delivered] = []

    def __call__(self, *events: ContractEvent) -> list[Delivered]:
        out = []
        for event in events:
            self.seq += 1
            envelope = envelope_for(
                event, id=str(uuid.uuid4()), source="/volunteers", subject=None, time=T0
            )
            out.append(Delivered(self.seq, envelope))
        self.log += out
        return out

    def __iter__(self) -> Iterator[Delivered]:
        return iter(self.log)


def registered(
    vid: str, school: str | None = "s1", kind: VolunteerKind = "parent", *, minute: int = 0
):
    return VolunteerRegistered(
        volunteer_id=vid,
        kind=kind,
        school_id=school,
        registered_at=T0 + timedelta(minutes=minute),
    )


def registered_v1(vid: str, name: str, school: str | None = "s1", kind: VolunteerKind = "parent"):
    """As an old stream has it: v1 carried the name."""
    return VolunteerRegisteredV1(
        volunteer_id=vid, display_name=name, kind=kind, school_id=school, registered_at=T0
    )


def erased(vid: str):
    return VolunteerErased(volunteer_id=vid, erased_at=T0 + timedelta(days=1))


def published(sid: str, school: str = "s1", *, capacity: int = 3, day: int = 0):
    return ShiftPublished(
        shift_id=sid,
        school_id=school,
        post="safety-post",
        title=f"Gate {sid}",
        starts_at=T0 + timedelta(days=day),
        ends_at=T0 + timedelta(days=day, hours=2),
        capacity=capacity,
        child_facing=True,
    )


def signed_up(sid: str, vid: str, filled: int):
    return VolunteerSignedUp(shift_id=sid, volunteer_id=vid, places_filled=filled)


def cancelled(sid: str, vid: str, filled: int):
    return SignUpCancelled(shift_id=sid, volunteer_id=vid, places_filled=filled)


def checked_in(sid: str, vid: str):
    return VolunteerCheckedIn(shift_id=sid, volunteer_id=vid, at=T0)


def checked_out(sid: str, vid: str, hours: float, school: str = "s1"):
    return VolunteerCheckedOut(
        shift_id=sid, school_id=school, volunteer_id=vid, at=T0 + timedelta(hours=2), hours=hours
    )


def check_requested(vid: str, check_id: str = "c1"):
    return BackgroundCheckRequested(volunteer_id=vid, check_id=check_id, requested_at=T0)


def check_recorded(vid: str, outcome: CheckOutcome = "passed", expires: date | None = None):
    return BackgroundCheckRecorded(
        volunteer_id=vid, check_id="c1", outcome=outcome, expires_on=expires
    )


def volunteers_of(app: Any) -> LiveFeature:
    """The running volunteers feature of a gateway app."""
    live: LiveFeature = app.state.features["volunteers"]
    return live
