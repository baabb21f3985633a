"""Mutations of the learning map: bookings forwarded to the resources service
(see `gateway.core.commands`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from gateway.context import Authenticated
from gateway.core.commands import CommandError, IdempotencyKey, forward, int_field
from gateway.core.service import Problem, segment
from gateway.resources.state import NAME


@strawberry.input(description="A class group's visit to book at a venue.")
class BookVisitInput:
    venue_id: strawberry.ID = strawberry.field(description="Venue id.")
    starts_at: datetime = strawberry.field(description="Start of one of the venue's slots.")
    school_id: str = strawberry.field(description="The booking school.")
    head_count: int = strawberry.field(description="Children in the group.")
    age: int = strawberry.field(description="Their age (years).")
    teachers: int = strawberry.field(default=1, description="Teachers accompanying them.")
    waitlist: bool = strawberry.field(
        default=False, description="When the slot is full, wait in order for places."
    )
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The visit is booked, or waitlisted.")
class BookVisitSuccess:
    booking_id: strawberry.ID = strawberry.field(description="The new booking's id.")
    slot_id: strawberry.ID = strawberry.field(description="Its slot (to cancel or check in).")
    status: str = strawberry.field(description="booked or waitlisted.")
    places_left: int = strawberry.field(description="Places left on the slot.")


@strawberry.type(description="The visit was not booked.")
class BookVisitError(CommandError):
    pass


BookVisitResult = Annotated[
    BookVisitSuccess | BookVisitError,
    strawberry.union("BookVisitResult", description="Outcome of bookVisit."),
]


@strawberry.input(description="A booking to cancel.")
class CancelVisitInput:
    slot_id: strawberry.ID = strawberry.field(description="The booking's slot.")
    booking_id: strawberry.ID = strawberry.field(description="The booking.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The booking is cancelled; waitlisted schools may be booked.")
class CancelVisitSuccess:
    booking_id: strawberry.ID = strawberry.field(description="The cancelled booking.")
    places_left: int = strawberry.field(description="Places left on the slot after it.")
    booked_from_waitlist: list[strawberry.ID] = strawberry.field(
        description="Waitlisted bookings the freed places booked, in order."
    )


@strawberry.type(description="The booking was not cancelled.")
class CancelVisitError(CommandError):
    pass


CancelVisitResult = Annotated[
    CancelVisitSuccess | CancelVisitError,
    strawberry.union("CancelVisitResult", description="Outcome of cancelVisit."),
]


@strawberry.type
class ResourcesMutation:
    @strawberry.mutation(
        description="Book a visit for a class group (or join the slot's waitlist).",
        permission_classes=[Authenticated],
    )
    async def book_visit(self, info: strawberry.Info, input: BookVisitInput) -> BookVisitResult:
        body = {
            "starts_at": input.starts_at.isoformat(),
            "school_id": input.school_id,
            "head_count": input.head_count,
            "age": input.age,
            "teachers": input.teachers,
            "waitlist": input.waitlist,
        }
        path = f"/venues/{segment(input.venue_id)}/bookings"
        answer = await forward(info, NAME, path, body, input.idempotency_key)
        if isinstance(answer, Problem):
            return BookVisitError.from_problem(answer)
        return BookVisitSuccess(
            booking_id=strawberry.ID(str(answer.body.get("booking_id", ""))),
            slot_id=strawberry.ID(str(answer.body.get("slot_id", ""))),
            status=str(answer.body.get("status", "")),
            places_left=int_field(answer.body, "places_left"),
        )

    @strawberry.mutation(
        description="Cancel a booking; waitlisted schools are booked in order.",
        permission_classes=[Authenticated],
    )
    async def cancel_visit(
        self, info: strawberry.Info, input: CancelVisitInput
    ) -> CancelVisitResult:
        path = f"/slots/{segment(input.slot_id)}/bookings/{segment(input.booking_id)}/cancellation"
        answer = await forward(info, NAME, path, {}, input.idempotency_key)
        if isinstance(answer, Problem):
            return CancelVisitError.from_problem(answer)
        promoted = answer.body.get("booked_from_waitlist") or []
        return CancelVisitSuccess(
            booking_id=input.booking_id,
            places_left=int_field(answer.body, "places_left"),
            booked_from_waitlist=[strawberry.ID(str(b)) for b in promoted],
        )
