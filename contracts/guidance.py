"""Events published by the Women's Federation's family-education guidance system (`wf`).

The Federation guides community parent schools; its inspectors judge them against the
"ten haves" standard and publish their verdicts here (through the ingest, or on NATS
with the Federation's own credentials). The courses service records them.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import model_validator

from contracts.courses import TenHave
from contracts.events import ContractEvent, classified

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class CommunityParentSchoolInspected(ContractEvent):
    """A Women's Federation inspector judged a community parent school's "ten haves"."""

    boundary = "guidance"
    event_name = "community-parent-school-inspected"
    inspection_id: str = classified("id", "The inspection's id.", min_length=1, max_length=100)
    parent_school_id: str = classified(
        "id",
        "The parent school (UUID, as registered in the courses service).",
        pattern=UUID_PATTERN,
    )
    verified: list[TenHave] = classified("code", "Items verified.", max_length=10)
    rejected: list[TenHave] = classified("code", "Items found wanting.", max_length=10)
    inspected_on: date = classified("time", "Day of the inspection.")
    reported_at: datetime = classified("time", "When the verdicts were reported.")

    @model_validator(mode="after")
    def _each_item_once(self) -> CommunityParentSchoolInspected:
        items = [*self.verified, *self.rejected]
        if not items:
            raise ValueError("an inspection gives a verdict on at least one item")
        if len(set(items)) != len(items):
            raise ValueError("each item gets one verdict")
        return self
