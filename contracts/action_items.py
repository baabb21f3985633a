"""Progress on joint-meeting action items, as the departments' own systems report it.

A joint meeting (联席会议) assigns each action item to a lead department and its
supporters (the committees service, `contracts.committees`). A department whose work runs
in its own system reports progress from there, through the ingest or straight onto NATS
with its department credential, into its own boundary: the event type says which
department reports, so one department can never speak for another. The committees
service records a report only from the lead or a supporter of the item it names.

Every department system (a `system` boundary of `contracts/departments.json`) has its own
report type, made here from the ownership map, so a new department system reports
progress the day it is in the map and the list cannot drift from it.

A report says where the work stands in codes and facts (a status, a percentage, a document
reference), never in free text: a message on the bus is kept for ever and copied by
readers, and nothing could stop a free-text field from naming a person. v1 carried a note;
it is no longer published, and old messages read as v2 without it. Staff who want to
write a note do so through the committees service's API, which keeps it encrypted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from contracts.departments import load_ownership_map
from contracts.events import ContractEvent, classified

EVENT_NAME = "action-item-progress-reported"
ProgressStatus = Literal["started", "on-track", "delayed", "blocked", "done"]
V1Status = Literal["in-progress", "done"]
# A reference in the department's document register: an office prefix and a number
# ("JUS-2026-041"), in capitals, so neither words nor a name fit in it.
DOCUMENT_REF = r"^[A-Z]{0,16}[-./]?[0-9][A-Z0-9./-]{0,47}$"
# An id, not words: letters, digits and separators without spaces.
REPORT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
T = TypeVar("T", bound=ContractEvent)
_ACTION_ITEM_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class ActionItemProgress(ContractEvent):
    """The fields every department's progress report carries (not an event by itself)."""

    major = 2
    report_id: str = classified(
        "id", "The report's id in the department's system.", pattern=REPORT_ID
    )
    action_item_id: str = classified(
        "id",
        "The action item (UUID, as the committees service published it).",
        pattern=_ACTION_ITEM_ID,
    )
    status: ProgressStatus = classified(
        "code",
        "started, on-track, delayed, blocked, or done (the lead department's report closes "
        "the item).",
    )
    percent: int | None = classified(
        "fact", "How far the work is, 0 to 100, when the department measures it.",
        default=None, ge=0, le=100,
    )  # fmt: skip
    document_ref: str | None = classified(
        "code",
        "The reference of a document in the department's register that records the work "
        "(an office prefix and a number, e.g. JUS-2026-041).",
        default=None,
        pattern=DOCUMENT_REF,
    )
    reported_at: datetime = classified("time", "When the department reported it.")


class ActionItemProgressV1(ContractEvent):
    """v1 of a department's progress report: its free-text note could name a person, so it
    is no longer published; old messages still read, as v2 without the note."""

    published = False
    report_id: str = classified(
        "id", "The report's id in the department's system.", min_length=1, max_length=100
    )
    action_item_id: str = classified(
        "id",
        "The action item (UUID, as the committees service published it).",
        pattern=_ACTION_ITEM_ID,
    )
    status: V1Status = classified(
        "code", "in-progress, or done (the lead department's report closes the item)."
    )
    percent: int = classified("fact", "How far the work is, 0 to 100.", ge=0, le=100)
    note: str = classified(
        "public-text", "What was done, for the follow-up (never about a person).", max_length=500
    )
    reported_at: datetime = classified("time", "When the department reported it.")

    def upcast(self) -> ActionItemProgress:
        current = PROGRESS_BY_BOUNDARY[self.boundary]
        return current(
            report_id=self.report_id,
            action_item_id=self.action_item_id,
            # v1 said only that the work went on; nothing in it says it was late.
            status="done" if self.status == "done" else "on-track",
            percent=self.percent,
            reported_at=self.reported_at,
        )


def _class_name(boundary: str) -> str:
    return "".join(part.capitalize() for part in boundary.split("-")) + "ProgressReported"


def _report_types(base: type[T], suffix: str) -> dict[str, type[T]]:
    """One report type per department system, in the ownership map's order."""
    made: dict[str, type[T]] = {}
    model_class: Any = type(base)  # pydantic's metaclass, which builds the fields
    for department in load_ownership_map().departments:
        for boundary in department.boundaries:
            if boundary.kind != "system":
                continue
            name = _class_name(boundary.name) + suffix
            doc = f"{department.name_en}'s system reports progress on an action item."
            made[boundary.name] = model_class(
                name,
                (base,),
                {
                    "__module__": __name__,
                    "__qualname__": name,
                    "__doc__": doc,
                    "boundary": boundary.name,
                    "event_name": EVENT_NAME,
                },
            )
    return made


PROGRESS_BY_BOUNDARY: dict[str, type[ActionItemProgress]] = _report_types(ActionItemProgress, "")
LEGACY_BY_BOUNDARY: dict[str, type[ActionItemProgressV1]] = _report_types(
    ActionItemProgressV1, "V1"
)
PROGRESS_REPORTS: tuple[type[ActionItemProgress], ...] = tuple(PROGRESS_BY_BOUNDARY.values())
LEGACY_REPORTS: tuple[type[ActionItemProgressV1], ...] = tuple(LEGACY_BY_BOUNDARY.values())
# Module attributes, so each type is found by name like any other contract.
globals().update({cls.__name__: cls for cls in (*PROGRESS_REPORTS, *LEGACY_REPORTS)})
