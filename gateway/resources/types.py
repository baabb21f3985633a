"""GraphQL types of the learning map, read from the read model's rows.

Venues are GeoJSON-ready: `geometry` is a GeoJSON Point (longitude first) and the other
fields are its properties, so a map draws `{type: "Feature", geometry, properties}`
without reshaping. Counts of children go through `gateway.core.figures` (fewer than five
are not shown), and a rate built on a hidden count is hidden too.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from gateway.core.figures import Count, count
from gateway.resources.readmodel import (
    Availability,
    BookingRow,
    SlotRow,
    Utilisation,
    VenueRow,
)
from gateway.resources.readmodel import (
    FreeSlot as FreeSlotRow,
)

TARGET = 0.8  # The alliance's target for community resource utilisation (seed 004).


@strawberry.enum(description="Kind of venue on the learning map.")
class VenueKind(Enum):
    MUSEUM = "museum"
    SCIENCE_MUSEUM = "science-museum"
    LIBRARY = "library"
    UNIVERSITY = "university"
    ENTERPRISE = "enterprise"
    HOSPITAL = "hospital"
    POLICE_STATION = "police-station"
    COMMUNITY_CENTRE = "community-centre"
    MEMORIAL = "memorial"
    HERITAGE_SITE = "heritage-site"
    SCHOOL_FACILITY = "school-facility"


@strawberry.enum(description="Official lists a venue can be on.")
class VenueList(Enum):
    PRACTICE_BASE = "practice-base"
    COURSE_DEVELOPMENT = "course-development"


@strawberry.enum(description="Where a school's booking stands.")
class BookingStatus(Enum):
    REQUESTED = "requested"
    AWAITING_ESCORTS = "awaiting-escorts"
    BOOKED = "booked"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked-in"
    COMPLETED = "completed"
    NO_SHOW = "no-show"


def _enum(kind: type[Enum], value: str) -> Enum | None:
    try:
        return kind(value)
    except ValueError:
        return None  # A value this gateway does not know yet (tolerant reader).


@strawberry.type(description="A GeoJSON Point.")
class Point:
    type: str = strawberry.field(description='Always "Point".')
    coordinates: list[float] = strawberry.field(description="[longitude, latitude] (WGS 84).")


@strawberry.type(description="How much of what a venue offers is used, over a period.")
class VenueUtilisation:
    offered_places: int = strawberry.field(
        description="Places offered: open slots in the period times children per slot."
    )
    booked_children: Count = strawberry.field(description="Children booked (no-shows included).")
    attended_children: Count = strawberry.field(description="Children at completed visits.")
    rate: float | None = strawberry.field(
        description="Booked children / offered places; null when nothing was offered or the "
        "booked count is hidden."
    )
    meets_target: bool | None = strawberry.field(
        description="Whether the rate reaches the 80% target; null when the rate is null."
    )

    @classmethod
    def of(cls, figures: Utilisation) -> VenueUtilisation:
        booked = count(figures.booked)
        shown = booked.value is not None and figures.offered > 0
        rate = round(figures.booked / figures.offered, 4) if shown else None
        return cls(
            offered_places=figures.offered,
            booked_children=booked,
            attended_children=count(figures.attended),
            rate=rate,
            meets_target=None if rate is None else rate >= TARGET,
        )


@strawberry.type(description="A venue on the learning map: a GeoJSON Point and its properties.")
class Venue:
    id: strawberry.ID = strawberry.field(description="Venue id (UUID).")
    name: str = strawberry.field(description="Public name.")
    kind: VenueKind | None = strawberry.field(description="Kind of venue.")
    district: str = strawberry.field(description="District code.")
    address: str = strawberry.field(description="Street address.")
    owner: str = strawberry.field(description="Department (code) running the venue on the map.")
    lists: list[VenueList] = strawberry.field(description="Official lists it is on.")
    heritage: bool = strawberry.field(description="In the study-tour heritage library.")
    capacity: int = strawberry.field(description="Children per slot.")
    slot_minutes: int = strawberry.field(description="Length of a slot.")
    buffer_minutes: int = strawberry.field(
        description="Minutes between two slots, to clear and prepare (0: back to back)."
    )
    age_min: int = strawberry.field(description="Youngest suitable age.")
    age_max: int = strawberry.field(description="Oldest suitable age.")
    accessible: bool = strawberry.field(description="Step-free access.")
    geometry: Point = strawberry.field(description="Where it is, as a GeoJSON Point.")
    utilisation: VenueUtilisation | None = strawberry.field(
        description="Figures over the period the query asked for."
    )

    @classmethod
    def from_row(cls, row: VenueRow, figures: Utilisation | None = None) -> Venue:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            kind=_enum(VenueKind, row.kind),  # type: ignore[arg-type]
            district=row.district,
            address=row.address,
            owner=row.owner,
            lists=[VenueList(v) for v in row.lists if v in {e.value for e in VenueList}],
            heritage=row.heritage,
            capacity=row.capacity,
            slot_minutes=row.slot_minutes,
            buffer_minutes=row.buffer_minutes,
            age_min=row.age_min,
            age_max=row.age_max,
            accessible=row.accessible,
            geometry=Point(type="Point", coordinates=[row.longitude, row.latitude]),
            utilisation=VenueUtilisation.of(figures) if figures is not None else None,
        )


@strawberry.type(description="Utilisation of a district's venues over a period.")
class DistrictUtilisation:
    district: str = strawberry.field(description="District code.")
    venues: int = strawberry.field(description="Venues on the map in the district.")
    utilisation: VenueUtilisation = strawberry.field(description="Their figures together.")


@strawberry.type(description="A slot with places free for the group asked about.")
class FreeSlot:
    slot_id: strawberry.ID = strawberry.field(description="Slot id (book with its start).")
    starts_at: datetime = strawberry.field(description="Start of the slot.")
    ends_at: datetime = strawberry.field(description="End of the slot.")
    places_left: int = strawberry.field(description="Places left on the slot.")

    @classmethod
    def from_row(cls, row: FreeSlotRow) -> FreeSlot:
        return cls(
            slot_id=strawberry.ID(row.slot_id),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            places_left=row.places_left,
        )


@strawberry.type(description="A venue with free slots, and how far it is.")
class AvailableVenue:
    venue: Venue = strawberry.field(description="The venue, with its properties.")
    distance_km: float | None = strawberry.field(
        description="Distance from the point asked about (null when none was given)."
    )
    slots: list[FreeSlot] = strawberry.field(description="Its first free slots, in time order.")

    @classmethod
    def of(cls, found: Availability) -> AvailableVenue:
        distance = round(found.distance_km, 2) if found.distance_km is not None else None
        return cls(
            venue=Venue.from_row(found.venue),
            distance_km=distance,
            slots=[FreeSlot.from_row(s) for s in found.slots],
        )


@strawberry.type(description="A school's booking of a visit (a class group, never names).")
class VisitBooking:
    id: strawberry.ID = strawberry.field(description="Booking id.")
    slot_id: strawberry.ID = strawberry.field(description="The slot booked.")
    venue_id: strawberry.ID = strawberry.field(description="The venue.")
    school_id: str = strawberry.field(description="The booking school.")
    starts_at: datetime = strawberry.field(description="Start of the slot.")
    head_count: int = strawberry.field(description="Children booked.")
    age: int | None = strawberry.field(description="Age of the children (years).")
    teachers: int | None = strawberry.field(description="Teachers accompanying them.")
    status: BookingStatus | None = strawberry.field(description="Where the booking stands.")
    from_waitlist: bool = strawberry.field(description="Booked automatically from the waitlist.")
    arrived: int | None = strawberry.field(description="Children checked in.")
    attended: int | None = strawberry.field(description="Children at the completed visit.")
    rating: int | None = strawberry.field(description="The school's rating, 1 to 5.")
    cancel_reason: str | None = strawberry.field(
        description="school-cancelled, venue-closed or escorts-not-found, when cancelled."
    )
    detail: str | None = strawberry.field(
        description="What the school was told (a closure's, a decline's or the escorts' reason)."
    )

    @classmethod
    def from_row(cls, row: BookingRow) -> VisitBooking:
        return cls(
            id=strawberry.ID(row.id),
            slot_id=strawberry.ID(row.slot_id),
            venue_id=strawberry.ID(row.venue_id),
            school_id=row.school_id,
            starts_at=row.starts_at,
            head_count=row.head_count,
            age=row.age,
            teachers=row.teachers,
            status=_enum(BookingStatus, row.status),  # type: ignore[arg-type]
            from_waitlist=row.from_waitlist,
            arrived=row.arrived,
            attended=row.attended,
            rating=row.rating,
            cancel_reason=row.cancel_reason,
            detail=row.detail or None,
        )


@strawberry.type(description="Places on a slot, pushed when they change.")
class SlotPlaces:
    slot_id: strawberry.ID = strawberry.field(description="Slot id.")
    venue_id: strawberry.ID = strawberry.field(description="Its venue.")
    starts_at: datetime = strawberry.field(description="Start of the slot.")
    capacity: int = strawberry.field(description="Children per slot.")
    places_left: int = strawberry.field(description="Places left.")
    waitlisted: int = strawberry.field(description="Bookings waiting for places.")

    @classmethod
    def from_row(cls, row: SlotRow) -> SlotPlaces:
        return cls(
            slot_id=strawberry.ID(row.id),
            venue_id=strawberry.ID(row.venue_id),
            starts_at=row.starts_at,
            capacity=row.capacity,
            places_left=row.places_left,
            waitlisted=row.waitlisted,
        )
