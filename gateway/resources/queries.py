"""Queries of the learning map: venues with their figures, availability, a school's bookings."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from contracts.resources import CITY_TZ
from gateway import access
from gateway.context import Authenticated
from gateway.errors import bad_input
from gateway.resources import state
from gateway.resources.policy import READS
from gateway.resources.readmodel import Utilisation
from gateway.resources.types import (
    AvailableVenue,
    DistrictUtilisation,
    Venue,
    VenueKind,
    VenueList,
    VenueUtilisation,
    VisitBooking,
)

authenticated: list[type[BasePermission]] = [Authenticated]
# A figure's period, and an availability search's, spans at most this long.
MAX_PERIOD = timedelta(days=200)
MAX_SEARCH = timedelta(days=93)
MAX_RESULTS = 50

From = Annotated[
    datetime | None,
    strawberry.argument(
        name="from", description="Start of the period (default: 30 days before today)."
    ),
]
To = Annotated[
    datetime | None,
    strawberry.argument(description="End of the period (default: 30 days from now)."),
]
KindFilter = Annotated[VenueKind | None, strawberry.argument(description="Only this kind.")]
ListFilter = Annotated[VenueList | None, strawberry.argument(description="Only on this list.")]


def _period(
    start: datetime | None, end: datetime | None, longest: timedelta
) -> tuple[datetime, datetime]:
    # By default the month behind and the month ahead: what was used, and what is booked;
    # from the city's midnight, so that the figures are whole days kept by the read model.
    today = datetime.combine(datetime.now(CITY_TZ).date(), time(0, 0), CITY_TZ)
    start = start or (end - timedelta(days=60) if end else today - timedelta(days=30))
    end = end or start + timedelta(days=60)
    if start.tzinfo is None or end.tzinfo is None:
        raise bad_input("give times with an offset")
    if end <= start:
        raise bad_input("the period must end after it starts")
    if end - start > longest:
        raise bad_input(f"a period spans at most {longest.days} days")
    return start, end


@strawberry.input(description="Where the school is, to sort venues by distance.")
class Near:
    latitude: float = strawberry.field(description="WGS 84 latitude.")
    longitude: float = strawberry.field(description="WGS 84 longitude.")


@strawberry.type
class ResourcesQuery:
    @strawberry.field(
        description="The learning map: every venue (filtered) as a GeoJSON Point with its "
        "properties and its utilisation over the period. Every authenticated caller.",
        permission_classes=authenticated,
    )
    async def learning_map(
        self,
        info: strawberry.Info,
        from_: From = None,
        to: To = None,
        kind: KindFilter = None,
        venue_list: Annotated[
            VenueList | None, strawberry.argument(name="list", description="Only on this list.")
        ] = None,
        district: Annotated[str | None, strawberry.argument(description="Only here.")] = None,
    ) -> list[Venue]:
        access.require(READS, await access.caller(info), "read-map")
        start, end = _period(from_, to, MAX_PERIOD)
        readmodel = state.readmodel(info)

        def read() -> list[Venue]:
            venues = readmodel.venues(
                kind=kind.value if kind else None,
                venue_list=venue_list.value if venue_list else None,
                district=district,
            )
            figures = readmodel.utilisation(venues, start, end)
            return [Venue.from_row(v, figures[v.id]) for v in venues]

        return await asyncio.to_thread(read)

    @strawberry.field(
        description="Utilisation per district over the period (the target is 80%).",
        permission_classes=authenticated,
    )
    async def district_utilisation(
        self,
        info: strawberry.Info,
        from_: From = None,
        to: To = None,
    ) -> list[DistrictUtilisation]:
        access.require(READS, await access.caller(info), "read-map")
        start, end = _period(from_, to, MAX_PERIOD)
        readmodel = state.readmodel(info)

        def read() -> list[DistrictUtilisation]:
            figures = readmodel.district_utilisation(start, end)
            counts = readmodel.venues_per_district()
            return [
                DistrictUtilisation(
                    district=name,
                    venues=counts.get(name, 0),
                    utilisation=VenueUtilisation.of(figures.get(name, Utilisation())),
                )
                for name in sorted(counts)
            ]

        return await asyncio.to_thread(read)

    @strawberry.field(
        description="Venues with a slot free for a class group in the period, nearest first: "
        "suitable for the children's age, with places for all of them, open and not closed, "
        "and no waitlist on the slot. Every authenticated caller.",
        permission_classes=authenticated,
    )
    async def venue_availability(
        self,
        info: strawberry.Info,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Earliest start.")],
        to: Annotated[datetime, strawberry.argument(description="Latest start (excluded).")],
        children: Annotated[int, strawberry.argument(description="Children in the group.")],
        age: Annotated[int, strawberry.argument(description="Their age (years).")],
        near: Near | None = None,
        within_km: Annotated[
            float | None, strawberry.argument(description="Only this close to `near`.")
        ] = None,
        kind: KindFilter = None,
        venue_list: Annotated[
            VenueList | None, strawberry.argument(name="list", description="Only on this list.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="At most 50 venues.")] = 10,
    ) -> list[AvailableVenue]:
        access.require(READS, await access.caller(info), "read-map")
        start, end = _period(from_, to, MAX_SEARCH)
        if not 1 <= children <= 5000 or not 0 <= age <= 25:
            raise bad_input("children must be 1 to 5000 and age 0 to 25")
        if not 1 <= first <= MAX_RESULTS:
            raise bad_input(f"first must be 1 to {MAX_RESULTS}")
        if within_km is not None and near is None:
            raise bad_input("withinKm needs near")
        readmodel = state.readmodel(info)
        found = await asyncio.to_thread(
            readmodel.available,
            start=start,
            end=end,
            children=children,
            age=age,
            near=(near.latitude, near.longitude) if near else None,
            within_km=within_km,
            kind=kind.value if kind else None,
            venue_list=venue_list.value if venue_list else None,
            limit=first,
        )
        return [AvailableVenue.of(a) for a in found]

    @strawberry.field(
        description="A school's bookings by start time, every status. Staff whose scope "
        "covers the school (of the departments owning or granted the resources service).",
        permission_classes=authenticated,
    )
    async def school_bookings(
        self,
        info: strawberry.Info,
        school_id: Annotated[str, strawberry.argument(description="The school's code.")],
        from_: Annotated[
            datetime | None, strawberry.argument(name="from", description="Starting then.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="At most 100.")] = 50,
    ) -> list[VisitBooking]:
        access.require(READS, await access.caller(info), "read-bookings", school_id=school_id)
        if not 1 <= first <= 100:
            raise bad_input("first must be 1 to 100")
        rows = await asyncio.to_thread(
            state.readmodel(info).school_bookings, school_id, start=from_, limit=first
        )
        return [VisitBooking.from_row(r) for r in rows]
