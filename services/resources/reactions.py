"""What the resources service does when other boundaries' events arrive."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.science import ScienceVenuePublished
from contracts.volunteers import EscortShiftFilled
from services.kit.consumer import Delivered
from services.resources.application import ResourcesApplication

ESCORTS_CONSUMER = "resources-escorts"
SCIENCE_VENUES_CONSUMER = "resources-science-venues"


class EscortShifts:
    """The volunteers' escort shifts filling: the study tours they escort are confirmed."""

    def __init__(self, app: ResourcesApplication) -> None:
        self.app = app

    def position(self, consumer: str) -> int:
        return self.app.consumer_position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        filled = [d.envelope.data for d in events if isinstance(d.envelope.data, EscortShiftFilled)]
        self.app.escorts_found(consumer, events[-1].stream_seq, filled)


class ScienceVenues:
    """The Science Association's venues, published by its own system: onto the map."""

    def __init__(self, app: ResourcesApplication) -> None:
        self.app = app

    def position(self, consumer: str) -> int:
        return self.app.consumer_position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        published = [
            d.envelope.data for d in events if isinstance(d.envelope.data, ScienceVenuePublished)
        ]
        self.app.register_science_venues(consumer, events[-1].stream_seq, published)
