"""Events published by the health commission's psychological screening system (`hlth`).

A screening result is about one child's health: it travels sealed to the care service
(`ScreeningDetails` inside), and only care opens it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import ContractEvent, classified


class ScreeningResultIssued(ContractEvent):
    """The annual screening found a child in difficulty; care is told, sealed."""

    boundary = "screening"
    event_name = "screening-result-issued"
    result_id: str = classified("id", "The screening result's id.", min_length=1, max_length=100)
    issued_at: datetime = classified("time", "When the result was issued.")
    result: str = classified(
        "sealed",
        "The child and the finding: `ScreeningDetails` as JSON, JWE sealed to the care service.",
        sealed_to="care",
    )


class ScreeningDetails(BaseModel):
    """What a sealed screening result holds (JSON inside `ScreeningResultIssued.result`)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="The child's name.")
    school_id: str = Field(min_length=1, max_length=64)
    class_id: str = Field(min_length=1, max_length=64)
    district_id: str | None = Field(default=None, max_length=64)
    level: Literal["watch", "concern", "urgent"] = Field(description="The screening's finding.")
    screened_on: date
