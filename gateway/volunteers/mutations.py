"""Mutations of the volunteers feature: commands forwarded to the volunteers service
(see `gateway.core.commands`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from gateway.context import Authenticated
from gateway.core.commands import CommandError, IdempotencyKey, forward, int_field
from gateway.core.service import Accepted, Problem, segment
from gateway.volunteers.state import NAME
from gateway.volunteers.types import PostKind, VolunteerKind


async def _forward(
    info: strawberry.Info, path: str, body: dict[str, Any], key: str | None
) -> Accepted | Problem:
    return await forward(info, NAME, path, body, key)


def _optional(value: datetime | None) -> dict[str, str]:
    return {"at": value.isoformat()} if value is not None else {}


# -- registerVolunteer ----------------------------------------------------------------------


@strawberry.input(description="A person to register as a volunteer.")
class RegisterVolunteerInput:
    display_name: str = strawberry.field(
        description="Name shown to staff; kept by the volunteers service alone, never by the "
        "gateway."
    )
    kind: VolunteerKind = strawberry.field(description="Kind of volunteer.")
    school_id: str | None = strawberry.field(default=None, description="Home school, if any.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The volunteer was registered.")
class RegisterVolunteerSuccess:
    volunteer_id: strawberry.ID = strawberry.field(description="The new volunteer's id.")
    version: int = strawberry.field(description="Version of the volunteer after the command.")


@strawberry.type(description="The volunteer was not registered.")
class RegisterVolunteerError(CommandError):
    pass


RegisterVolunteerResult = Annotated[
    RegisterVolunteerSuccess | RegisterVolunteerError,
    strawberry.union("RegisterVolunteerResult", description="Outcome of registerVolunteer."),
]

# -- requestBackgroundCheck -----------------------------------------------------------------


@strawberry.input(description="A volunteer whose background check to request.")
class RequestBackgroundCheckInput:
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The check was requested from public security.")
class RequestBackgroundCheckSuccess:
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    check_id: str = strawberry.field(description="Id of the check requested.")
    version: int = strawberry.field(description="Version of the volunteer after the command.")


@strawberry.type(description="The check was not requested.")
class RequestBackgroundCheckError(CommandError):
    pass


RequestBackgroundCheckResult = Annotated[
    RequestBackgroundCheckSuccess | RequestBackgroundCheckError,
    strawberry.union(
        "RequestBackgroundCheckResult", description="Outcome of requestBackgroundCheck."
    ),
]

# -- publishShift ---------------------------------------------------------------------------


@strawberry.input(description="A shift to open for volunteers.")
class PublishShiftInput:
    school_id: str = strawberry.field(description="School where the shift takes place.")
    post: PostKind = strawberry.field(description="Kind of post.")
    title: str = strawberry.field(description="Short title shown to volunteers.")
    starts_at: datetime = strawberry.field(description="Start of the shift (with offset).")
    ends_at: datetime = strawberry.field(description="End of the shift (with offset).")
    capacity: int = strawberry.field(description="Number of places (at least 1).")
    child_facing: bool = strawberry.field(description="True when volunteers work with children.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The shift was published.")
class PublishShiftSuccess:
    shift_id: strawberry.ID = strawberry.field(description="The new shift's id.")
    version: int = strawberry.field(description="Version of the shift after the command.")


@strawberry.type(description="The shift was not published.")
class PublishShiftError(CommandError):
    pass


PublishShiftResult = Annotated[
    PublishShiftSuccess | PublishShiftError,
    strawberry.union("PublishShiftResult", description="Outcome of publishShift."),
]

# -- signUp / cancelSignUp ------------------------------------------------------------------


@strawberry.input(description="A volunteer taking a place on a shift.")
class SignUpInput:
    shift_id: strawberry.ID = strawberry.field(description="Shift id.")
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse (409) unless the shift is at this version."
    )
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The volunteer has a place on the shift.")
class SignUpSuccess:
    shift_id: strawberry.ID = strawberry.field(description="Shift id.")
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    places_filled: int = strawberry.field(description="Places filled after the sign-up.")
    version: int = strawberry.field(description="Version of the shift after the command.")


@strawberry.type(description="The volunteer did not get a place.")
class SignUpError(CommandError):
    pass


SignUpResult = Annotated[
    SignUpSuccess | SignUpError,
    strawberry.union("SignUpResult", description="Outcome of signUp."),
]


@strawberry.input(description="A volunteer giving back a place on a shift.")
class CancelSignUpInput:
    shift_id: strawberry.ID = strawberry.field(description="Shift id.")
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse (409) unless the shift is at this version."
    )
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The place was given back.")
class CancelSignUpSuccess:
    shift_id: strawberry.ID = strawberry.field(description="Shift id.")
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    places_filled: int = strawberry.field(description="Places filled after the cancellation.")
    version: int = strawberry.field(description="Version of the shift after the command.")


@strawberry.type(description="The place was not given back.")
class CancelSignUpError(CommandError):
    pass


CancelSignUpResult = Annotated[
    CancelSignUpSuccess | CancelSignUpError,
    strawberry.union("CancelSignUpResult", description="Outcome of cancelSignUp."),
]


async def _change_place(
    info: strawberry.Info,
    input: SignUpInput | CancelSignUpInput,
    action: str,
    success: type[SignUpSuccess] | type[CancelSignUpSuccess],
    error: type[SignUpError] | type[CancelSignUpError],
) -> Any:
    """Taking and giving back a place send the same body and answer the same shape."""
    body: dict[str, Any] = {"volunteer_id": input.volunteer_id}
    if input.expected_version is not None:
        body["expected_version"] = input.expected_version
    path = f"/shifts/{segment(input.shift_id)}/{action}"
    answer = await _forward(info, path, body, input.idempotency_key)
    if isinstance(answer, Problem):
        return error.from_problem(answer)
    return success(
        shift_id=strawberry.ID(str(answer.body.get("shift_id", input.shift_id))),
        volunteer_id=strawberry.ID(str(answer.body.get("volunteer_id", input.volunteer_id))),
        places_filled=int_field(answer.body, "places_filled"),
        version=int_field(answer.body, "version"),
    )


# -- checkIn / checkOut ---------------------------------------------------------------------


@strawberry.input(description="A volunteer arriving at a shift.")
class CheckInInput:
    shift_id: strawberry.ID = strawberry.field(description="Shift id.")
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    at: datetime | None = strawberry.field(default=None, description="Arrival; now if omitted.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.input(description="A volunteer leaving a shift.")
class CheckOutInput:
    shift_id: strawberry.ID = strawberry.field(description="Shift id.")
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    at: datetime | None = strawberry.field(default=None, description="Departure; now if omitted.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.type(description="The volunteer was checked in.")
class CheckInSuccess:
    shift_id: strawberry.ID = strawberry.field(description="Shift id.")
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")


@strawberry.type(description="The volunteer was not checked in.")
class CheckInError(CommandError):
    pass


CheckInResult = Annotated[
    CheckInSuccess | CheckInError,
    strawberry.union("CheckInResult", description="Outcome of checkIn."),
]


@strawberry.type(description="The volunteer was checked out and the hours credited.")
class CheckOutSuccess:
    shift_id: strawberry.ID = strawberry.field(description="Shift id.")
    volunteer_id: strawberry.ID = strawberry.field(description="Volunteer id.")
    hours: float = strawberry.field(description="Hours credited for this shift.")


@strawberry.type(description="The volunteer was not checked out.")
class CheckOutError(CommandError):
    pass


CheckOutResult = Annotated[
    CheckOutSuccess | CheckOutError,
    strawberry.union("CheckOutResult", description="Outcome of checkOut."),
]


# -- the mutations ----------------------------------------------------------------------------


@strawberry.type
class VolunteersMutation:
    @strawberry.mutation(description="Register a volunteer.", permission_classes=[Authenticated])
    async def register_volunteer(
        self, info: strawberry.Info, input: RegisterVolunteerInput
    ) -> RegisterVolunteerResult:
        body = {"display_name": input.display_name, "kind": input.kind.value}
        body["school_id"] = input.school_id  # type: ignore[assignment]
        answer = await _forward(info, "/volunteers", body, input.idempotency_key)
        if isinstance(answer, Problem):
            return RegisterVolunteerError.from_problem(answer)
        return RegisterVolunteerSuccess(
            volunteer_id=strawberry.ID(str(answer.body.get("volunteer_id", ""))),
            version=int_field(answer.body, "version"),
        )

    @strawberry.mutation(
        description="Ask public security for a volunteer's background check.",
        permission_classes=[Authenticated],
    )
    async def request_background_check(
        self, info: strawberry.Info, input: RequestBackgroundCheckInput
    ) -> RequestBackgroundCheckResult:
        path = f"/volunteers/{segment(input.volunteer_id)}/background-checks"
        answer = await _forward(info, path, {}, input.idempotency_key)
        if isinstance(answer, Problem):
            return RequestBackgroundCheckError.from_problem(answer)
        return RequestBackgroundCheckSuccess(
            volunteer_id=strawberry.ID(str(answer.body.get("volunteer_id", input.volunteer_id))),
            check_id=str(answer.body.get("check_id", "")),
            version=int_field(answer.body, "version"),
        )

    @strawberry.mutation(
        description="Open a shift at a school for volunteers.", permission_classes=[Authenticated]
    )
    async def publish_shift(
        self, info: strawberry.Info, input: PublishShiftInput
    ) -> PublishShiftResult:
        body = {
            "school_id": input.school_id,
            "post": input.post.value,
            "title": input.title,
            "starts_at": input.starts_at.isoformat(),
            "ends_at": input.ends_at.isoformat(),
            "capacity": input.capacity,
            "child_facing": input.child_facing,
        }
        answer = await _forward(info, "/shifts", body, input.idempotency_key)
        if isinstance(answer, Problem):
            return PublishShiftError.from_problem(answer)
        return PublishShiftSuccess(
            shift_id=strawberry.ID(str(answer.body.get("shift_id", ""))),
            version=int_field(answer.body, "version"),
        )

    @strawberry.mutation(
        description="Give a volunteer a place on a shift.", permission_classes=[Authenticated]
    )
    async def sign_up(self, info: strawberry.Info, input: SignUpInput) -> SignUpResult:
        return await _change_place(info, input, "sign-ups", SignUpSuccess, SignUpError)

    @strawberry.mutation(
        description="Give back a volunteer's place on a shift.",
        permission_classes=[Authenticated],
    )
    async def cancel_sign_up(
        self, info: strawberry.Info, input: CancelSignUpInput
    ) -> CancelSignUpResult:
        return await _change_place(
            info, input, "cancellations", CancelSignUpSuccess, CancelSignUpError
        )

    @strawberry.mutation(
        description="Record a volunteer's arrival at a shift.", permission_classes=[Authenticated]
    )
    async def check_in(self, info: strawberry.Info, input: CheckInInput) -> CheckInResult:
        body = {"volunteer_id": input.volunteer_id, **_optional(input.at)}
        path = f"/shifts/{segment(input.shift_id)}/check-ins"
        answer = await _forward(info, path, body, input.idempotency_key)
        if isinstance(answer, Problem):
            return CheckInError.from_problem(answer)
        return CheckInSuccess(shift_id=input.shift_id, volunteer_id=input.volunteer_id)

    @strawberry.mutation(
        description="Record a volunteer leaving a shift; credits the hours.",
        permission_classes=[Authenticated],
    )
    async def check_out(self, info: strawberry.Info, input: CheckOutInput) -> CheckOutResult:
        body = {"volunteer_id": input.volunteer_id, **_optional(input.at)}
        path = f"/shifts/{segment(input.shift_id)}/check-outs"
        answer = await _forward(info, path, body, input.idempotency_key)
        if isinstance(answer, Problem):
            return CheckOutError.from_problem(answer)
        hours = answer.body.get("hours")
        return CheckOutSuccess(
            shift_id=input.shift_id,
            volunteer_id=input.volunteer_id,
            hours=float(hours) if isinstance(hours, int | float) else 0.0,
        )
