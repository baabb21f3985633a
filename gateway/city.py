"""The city's districts and schools (`contracts/city.json`) and its departments (the ownership
map) in GraphQL: the names every figure is shown with. Public reference data: no token."""

from __future__ import annotations

import strawberry

from contracts.city import City as CityData
from contracts.city import load_city
from contracts.departments import load_ownership_map


@strawberry.type(description="A school of the city.")
class School:
    id: strawberry.ID = strawberry.field(description="School id, as every service records it.")
    name: str = strawberry.field(description="Name in Chinese.")
    name_en: str = strawberry.field(description="Name in English.")
    district_code: str = strawberry.field(description="Code of its district.")


@strawberry.type(description="A district or county-level unit of the city.")
class District:
    code: str = strawberry.field(description="GB/T 2260 administrative division code.")
    name: str = strawberry.field(description="Name in Chinese, as on the map.")
    name_en: str = strawberry.field(description="Name in English.")
    schools: list[School] = strawberry.field(description="Its schools.")


@strawberry.type(description="The city: its districts and schools.")
class City:
    code: str = strawberry.field(description="GB/T 2260 administrative division code.")
    name: str = strawberry.field(description="Name in Chinese.")
    name_en: str = strawberry.field(description="Name in English.")
    map: str = strawberry.field(
        description="Its district map: the GeoJSON the gateway serves at /dashboard/map.geojson."
    )
    districts: list[District] = strawberry.field(description="Districts in the list's order.")


def _city(data: CityData) -> City:
    def schools_of(code: str) -> list[School]:
        return [
            School(id=strawberry.ID(s.id), name=s.name_zh, name_en=s.name_en, district_code=code)
            for s in data.schools
            if s.district == code
        ]

    return City(
        code=data.city.code,
        name=data.city.name_zh,
        name_en=data.city.name_en,
        map=data.city.map,
        districts=[
            District(code=d.code, name=d.name_zh, name_en=d.name_en, schools=schools_of(d.code))
            for d in data.districts
        ],
    )


@strawberry.type(description="One of the alliance's thirteen departments.")
class Department:
    code: str = strawberry.field(description="Short code used in subjects, e.g. edu.")
    name: str = strawberry.field(description="Name in Chinese.")
    name_en: str = strawberry.field(description="Name in English.")
    role: str = strawberry.field(description="What it does for the alliance.")
    services: list[str] = strawberry.field(description="The Tongxin services it owns.")
    systems: list[str] = strawberry.field(
        description="Its own systems, which meet the platform through events."
    )


@strawberry.type
class CityQuery:
    @strawberry.field(description="The alliance's departments, as the ownership map lists them.")
    def departments(self) -> list[Department]:
        return [
            Department(
                code=d.code,
                name=d.name_zh,
                name_en=d.name_en,
                role=d.role,
                services=[b.name for b in d.boundaries if b.kind == "service"],
                systems=[b.name for b in d.boundaries if b.kind == "system"],
            )
            for d in load_ownership_map().departments
        ]

    @strawberry.field(description="The city's districts and schools.")
    def city(self) -> City:
        return _city(load_city())
