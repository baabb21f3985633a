"""Events published by public security's background-check system (`pol`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import model_validator

from contracts.events import ContractEvent, classified
from contracts.measures import measurable


@measurable(at="completed_at", subject="volunteer_id", facets=("outcome",))
class BackgroundCheckCompleted(ContractEvent):
    """Public security finished a background check of a person working with children."""

    boundary = "checks"
    event_name = "background-check-completed"
    check_id: str = classified("id", "The check's id.", min_length=1, max_length=100)
    volunteer_id: str = classified(
        "id",
        "The volunteer checked (UUID, as sent in the request).",
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    )
    outcome: Literal["passed", "failed"] = classified("fact", "passed or failed.")
    expires_on: date | None = classified(
        "time", "Last day a pass is valid; required when passed.", default=None
    )
    completed_at: datetime = classified("time", "When the check was completed.")

    @model_validator(mode="after")
    def _a_pass_expires(self) -> BackgroundCheckCompleted:
        if self.outcome == "passed" and self.expires_on is None:
            raise ValueError("a passed check needs expires_on")
        return self
