"""What the volunteers service does when other boundaries' events arrive."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.checks import BackgroundCheckCompleted
from contracts.resources import EscortsRequested, VisitCancelled
from services.kit.consumer import Delivered
from services.volunteers.application import VolunteersApplication

POLICE_CHECKS_CONSUMER = "volunteers-police-checks"
STUDY_TOURS_CONSUMER = "volunteers-study-tours"


class PoliceCheckResults:
    """Public security's background-check results, recorded on the volunteers they name."""

    def __init__(self, app: VolunteersApplication) -> None:
        self.app = app

    def position(self, consumer: str) -> int:
        return self.app.consumer_position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        results = [
            d.envelope.data for d in events if isinstance(d.envelope.data, BackgroundCheckCompleted)
        ]
        self.app.record_background_checks(consumer, events[-1].stream_seq, results)


class StudyTours:
    """The learning map's study tours: escorts asked for open a shift; a cancelled tour
    closes it. The map's other events pass by (their position still advances)."""

    def __init__(self, app: VolunteersApplication) -> None:
        self.app = app

    def position(self, consumer: str) -> int:
        return self.app.consumer_position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        news = [
            d.envelope.data
            for d in events
            if isinstance(d.envelope.data, EscortsRequested | VisitCancelled)
        ]
        self.app.react_to_study_tours(consumer, events[-1].stream_seq, news)
