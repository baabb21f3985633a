"""Progress on joint-meeting action items, as the departments' own systems report it.

A joint meeting (联席会议) assigns each action item to a lead department and its
supporters (the committees service, `contracts.committees`). A department whose work runs
in its own system reports progress from there, through the ingest or straight onto NATS
with its department credential, into its own boundary: the event type says which
department reports, so one department can never speak for another. The committees
service records a report only from the lead or a supporter of the item it names.

The note is about the work (a public account of what was done), never about a person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from contracts.events import ContractEvent, classified

EVENT_NAME = "action-item-progress-reported"
ProgressStatus = Literal["in-progress", "done"]


class ActionItemProgress(ContractEvent):
    """The fields every department's progress report carries (not an event by itself)."""

    report_id: str = classified(
        "id", "The report's id in the department's system.", min_length=1, max_length=100
    )
    action_item_id: str = classified(
        "id",
        "The action item (UUID, as the committees service published it).",
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    )
    status: ProgressStatus = classified(
        "code", "in-progress, or done (the lead department's report closes the item)."
    )
    percent: int = classified("fact", "How far the work is, 0 to 100.", ge=0, le=100)
    note: str = classified(
        "public-text", "What was done, for the follow-up (never about a person).", max_length=500
    )
    reported_at: datetime = classified("time", "When the department reported it.")


class GuidanceProgressReported(ActionItemProgress):
    """The Women's Federation's system reports progress on an action item."""

    boundary = "guidance"
    event_name = EVENT_NAME


class RegistryProgressReported(ActionItemProgress):
    """Civil Affairs' system reports progress on an action item."""

    boundary = "registry"
    event_name = EVENT_NAME


class ScreeningProgressReported(ActionItemProgress):
    """The Health Commission's system reports progress on an action item."""

    boundary = "screening"
    event_name = EVENT_NAME


class ChecksProgressReported(ActionItemProgress):
    """Public security's system reports progress on an action item."""

    boundary = "checks"
    event_name = EVENT_NAME


class LegalProgressReported(ActionItemProgress):
    """The Justice Bureau's system reports progress on an action item."""

    boundary = "legal"
    event_name = EVENT_NAME


class ProtectionProgressReported(ActionItemProgress):
    """The Procuratorate's system reports progress on an action item."""

    boundary = "protection"
    event_name = EVENT_NAME


class EldersProgressReported(ActionItemProgress):
    """The Committee for the Care of the Next Generation's system reports progress."""

    boundary = "elders"
    event_name = EVENT_NAME


class ScienceProgressReported(ActionItemProgress):
    """The Science & Technology Association's system reports progress on an action item."""

    boundary = "science"
    event_name = EVENT_NAME


class FundProgressReported(ActionItemProgress):
    """The Finance Bureau's system reports progress on an action item."""

    boundary = "fund"
    event_name = EVENT_NAME


PROGRESS_REPORTS: tuple[type[ActionItemProgress], ...] = (
    GuidanceProgressReported,
    RegistryProgressReported,
    ScreeningProgressReported,
    ChecksProgressReported,
    LegalProgressReported,
    ProtectionProgressReported,
    EldersProgressReported,
    ScienceProgressReported,
    FundProgressReported,
)
