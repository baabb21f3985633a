"""What the committees service does when other boundaries' events arrive: departments'
systems report progress on their action items, each into its own boundary."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.action_items import PROGRESS_REPORTS, ActionItemProgress
from services.committees.application import CommitteesApplication
from services.kit.consumer import Delivered
from services.kit.runtime import Reaction


class ProgressReports:
    """A department system's progress reports, recorded on the action items they name."""

    def __init__(self, app: CommitteesApplication) -> None:
        self.app = app

    def position(self, consumer: str) -> int:
        return self.app.consumer_position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        # v1 reports still in a stream read as v2: without their note.
        reports = [
            data for d in events if isinstance(data := d.envelope.data.upcast(), ActionItemProgress)
        ]
        self.app.record_progress_reports(consumer, events[-1].stream_seq, reports)


# One durable consumer per department system's boundary (a JetStream consumer reads one
# stream), filtered to the progress reports alone (every major shares the subject).
REACTIONS: tuple[Reaction, ...] = tuple(
    Reaction(
        name=f"committees-progress-{report.boundary}",
        subjects=report.subject(),
        projection=ProgressReports,
    )
    for report in PROGRESS_REPORTS
)
