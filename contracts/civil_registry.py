"""Events published by civil affairs' registry of orphans and left-behind children (`civ`).

The child is personal data for care only: everything about them travels sealed to the
care service's key (`services.kit.privacy.sealing`), opened nowhere else. What the sealed
payload holds is `ChildReferralDetails`; the envelope says only that a referral exists.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import ContractEvent, classified


class ChildReferredToCare(ContractEvent):
    """Civil affairs registered a child (orphan, left-behind …) and refers them to care."""

    boundary = "registry"
    event_name = "child-referred-to-care"
    referral_id: str = classified("id", "The registry's referral id.", min_length=1, max_length=100)
    referred_at: datetime = classified("time", "When the referral was made.")
    child: str = classified(
        "sealed",
        "The child, school, class and category: `ChildReferralDetails` as JSON, JWE sealed "
        "to the care service.",
        sealed_to="care",
    )


class ChildReferralDetails(BaseModel):
    """What a sealed civil-affairs referral holds (JSON inside `ChildReferredToCare.child`)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="The child's name.")
    school_id: str = Field(min_length=1, max_length=64, description="The child's school.")
    class_id: str = Field(min_length=1, max_length=64, description="The child's class.")
    district_id: str | None = Field(
        default=None,
        max_length=64,
        description="The school's district, for a school the city's list does not know yet.",
    )
    category: str = Field(min_length=1, max_length=40, description="orphan, left-behind …")
    evidence: str = Field(default="", max_length=2000, description="The registry's record.")
