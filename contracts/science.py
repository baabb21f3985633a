"""Events the Science Association's own system (`sci`, boundary `science`) publishes
through the ingest, with its department credential.

Its science venues (science museums, popular-science bases) go on the learning map: the
resources service consumes them and registers each once, as run by `sci`. The venue's
owner is not in the event: it is the boundary's department, so `sci` cannot put another
department's venue on the map this way (nor publish into `cult`'s resources boundary:
the ingest refuses it).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import field_validator, model_validator

from contracts.city import load_city
from contracts.events import ContractEvent, classified
from contracts.resources import OpeningHours, VenueKind, VenueList


class ScienceVenuePublished(ContractEvent):
    """The Science Association published one of its venues for schools' visits."""

    boundary = "science"
    event_name = "venue-published"
    venue_code: str = classified(
        "code",
        "The venue's code in the Science Association's system; publishing it again changes "
        "nothing on the map.",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
    )
    name: str = classified("public-text", "The venue's public name.", min_length=1, max_length=200)
    kind: VenueKind = classified("code", "Kind of venue.")
    district: str = classified("code", "District: GB/T 2260 code, as in contracts/city.json.")
    address: str = classified("public-text", "Street address.", min_length=1, max_length=300)
    latitude: float = classified("fact", "WGS 84 latitude.", ge=-90, le=90)
    longitude: float = classified("fact", "WGS 84 longitude.", ge=-180, le=180)
    lists: list[VenueList] = classified("code", "Official lists the venue is on.", max_length=2)
    capacity: int = classified("fact", "Children per slot.", ge=1, le=5000)
    slot_minutes: int = classified("fact", "Length of a slot in minutes.", ge=15, le=720)
    buffer_minutes: int = classified(
        "fact", "Minutes between two slots (0: back to back).", ge=0, le=240, default=0
    )
    opening_hours: list[OpeningHours] = classified(
        "fact", "Weekly opening hours.", min_length=1, max_length=7
    )
    age_min: int = classified("fact", "Youngest suitable age (years).", ge=0, le=25)
    age_max: int = classified("fact", "Oldest suitable age (years).", ge=0, le=25)
    min_notice_hours: int = classified("fact", "Hours of notice a booking needs.", ge=0, le=2160)
    accessible: bool = classified("fact", "Step-free access for wheelchairs.", default=False)
    published_at: datetime = classified("time", "When the Science Association published it.")

    @field_validator("district")
    @classmethod
    def _a_district_of_the_city(cls, district: str) -> str:
        if district not in {d.code for d in load_city().districts}:
            raise ValueError("not a district of the city (contracts/city.json)")
        return district

    @model_validator(mode="after")
    def _sensible(self) -> ScienceVenuePublished:
        if self.age_min > self.age_max:
            raise ValueError("age_min must not be above age_max")
        for h in self.opening_hours:
            if h.closes <= h.opens:
                raise ValueError(f"weekday {h.weekday}: closes must come after opens")
        return self
