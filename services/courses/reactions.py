"""What the courses service does when other boundaries' events arrive."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.guidance import CommunityParentSchoolInspected
from services.courses.application import CoursesApplication
from services.kit.consumer import Delivered

GUIDANCE_CONSUMER = "courses-wf-inspections"


class GuidanceInspections:
    """The Women's Federation's inspections of community parent schools, recorded on them."""

    def __init__(self, app: CoursesApplication) -> None:
        self.app = app

    def position(self, consumer: str) -> int:
        return self.app.consumer_position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        inspections = [
            d.envelope.data
            for d in events
            if isinstance(d.envelope.data, CommunityParentSchoolInspected)
        ]
        self.app.record_guidance_inspections(consumer, events[-1].stream_seq, inspections)
