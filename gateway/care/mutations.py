"""Mutations of the care feature: commands forwarded to the care service as the caller
(see `gateway.core.commands`), which authorises them against the child's file, keeps
the personal fields encrypted and logs them; the gateway keeps nothing of them."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated, Any

import strawberry

from gateway.care.state import NAME
from gateway.context import Authenticated
from gateway.core.commands import CommandError, IdempotencyKey, forward, int_field
from gateway.core.service import Accepted, Problem, segment


async def _forward(
    info: strawberry.Info, path: str, body: dict[str, Any], key: str | None
) -> Accepted | Problem:
    return await forward(info, NAME, path, body, key)


@strawberry.enum(description="Why a child's file is opened (several may apply later).")
class CareCategory(Enum):
    ORPHAN = "orphan"
    SINGLE_PARENT = "single-parent"
    DISABLED = "disabled"
    POOR = "poor"
    LEFT_BEHIND = "left-behind"
    SCREENING = "screening"


@strawberry.enum(description="How a home visit was made.")
class VisitMode(Enum):
    HOME = "home"
    PHONE = "phone"
    SCHOOL = "school"


@strawberry.enum(description="Who went on a home visit, by role (1+N: the head teacher plus N).")
class VisitorRole(Enum):
    HEAD_TEACHER = "head-teacher"
    SUBJECT_TEACHER = "subject-teacher"
    PSYCHOLOGY_TEACHER = "psychology-teacher"
    VOLUNTEER = "volunteer"
    PARTY_MEMBER = "party-member"


@strawberry.enum(description="How a follow-up was made.")
class FollowUpMode(Enum):
    TALK = "talk"
    CALL = "call"
    HOME = "home"
    CLASS = "class"
    MEETING = "meeting"


@strawberry.type(description="The care service carried the command out on the file.")
class CareFileChanged:
    file_id: strawberry.ID = strawberry.field(description="Care file id.")
    status: str = strawberry.field(description="The file's status after the command.")
    version: int = strawberry.field(description="The file's version after the command.")
    recorded_id: strawberry.ID | None = strawberry.field(
        description="The visit's or follow-up's id, for those commands."
    )


@strawberry.type(description="The care service refused the command (nothing was recorded).")
class CareCommandError(CommandError):
    pass


CareCommandResult = Annotated[
    CareFileChanged | CareCommandError,
    strawberry.union("CareCommandResult", description="Outcome of a care command."),
]


@strawberry.input(description="A file to open for a child of a school (一人一档).")
class OpenCareFileInput:
    school_id: str = strawberry.field(description="One of the city's schools.")
    class_id: str = strawberry.field(description="The child's class, as the school codes it.")
    name: str = strawberry.field(
        description="The child's name: kept encrypted by the care service, never by the gateway."
    )
    category: CareCategory | None = strawberry.field(
        default=None, description="The category identified at enrolment (with evidence)."
    )
    evidence: str | None = strawberry.field(default=None, description="What shows it.")
    review_on: date | None = strawberry.field(default=None, description="When it is reviewed.")
    lead: str | None = strawberry.field(default=None, description="The team lead's account.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.input(description="A home visit (家访) made to a child's family.")
class RecordCareVisitInput:
    file_id: strawberry.ID = strawberry.field(description="Care file id.")
    visited_on: date = strawberry.field(description="The day of the visit (not in the future).")
    mode: VisitMode = strawberry.field(description="home, phone or school.")
    visitors: list[VisitorRole] = strawberry.field(
        description="Who went, by role: the head teacher plus at least one other."
    )
    notes: str = strawberry.field(description="What was found (kept encrypted in care).")
    next_visit_on: date | None = strawberry.field(default=None, description="The next visit.")
    idempotency_key: str | None = IdempotencyKey


@strawberry.input(description="A follow-up on a child's plan.")
class AddCareFollowUpInput:
    file_id: strawberry.ID = strawberry.field(description="Care file id.")
    on: date = strawberry.field(description="The day of the follow-up (not in the future).")
    mode: FollowUpMode = strawberry.field(description="How it was made.")
    goal_id: strawberry.ID | None = strawberry.field(
        default=None, description="The plan's goal it follows up, if one."
    )
    notes: str = strawberry.field(description="What was said (kept encrypted in care).")
    idempotency_key: str | None = IdempotencyKey


def _changed(answer: Accepted | Problem, recorded: str | None = None) -> Any:
    if isinstance(answer, Problem):
        return CareCommandError.from_problem(answer)
    found = answer.body.get(recorded) if recorded else None
    return CareFileChanged(
        file_id=strawberry.ID(str(answer.body.get("file_id", ""))),
        status=str(answer.body.get("status", "")),
        version=int_field(answer.body, "version"),
        recorded_id=strawberry.ID(str(found)) if found else None,
    )


@strawberry.type
class CareMutation:
    @strawberry.mutation(
        description="Open a care file for a child (the school's care lead or the district).",
        permission_classes=[Authenticated],
    )
    async def open_care_file(
        self, info: strawberry.Info, input: OpenCareFileInput
    ) -> CareCommandResult:
        body: dict[str, Any] = {
            "school_id": input.school_id,
            "class_id": input.class_id,
            "name": input.name,
        }
        if input.category is not None:
            body["category"] = input.category.value
        if input.evidence is not None:
            body["evidence"] = input.evidence
        if input.review_on is not None:
            body["review_on"] = input.review_on.isoformat()
        if input.lead is not None:
            body["lead"] = input.lead
        return _changed(await _forward(info, "/files", body, input.idempotency_key))

    @strawberry.mutation(
        description="Record a 1+N home visit on a file (its team, care lead or district).",
        permission_classes=[Authenticated],
    )
    async def record_care_visit(
        self, info: strawberry.Info, input: RecordCareVisitInput
    ) -> CareCommandResult:
        body: dict[str, Any] = {
            "visited_on": input.visited_on.isoformat(),
            "mode": input.mode.value,
            "visitors": [v.value for v in input.visitors],
            "notes": input.notes,
        }
        if input.next_visit_on is not None:
            body["next_visit_on"] = input.next_visit_on.isoformat()
        path = f"/files/{segment(str(input.file_id))}/visits"
        return _changed(await _forward(info, path, body, input.idempotency_key), "visit_id")

    @strawberry.mutation(
        description="Add a follow-up to a file (its team, care lead or district).",
        permission_classes=[Authenticated],
    )
    async def add_care_follow_up(
        self, info: strawberry.Info, input: AddCareFollowUpInput
    ) -> CareCommandResult:
        body: dict[str, Any] = {
            "on": input.on.isoformat(),
            "mode": input.mode.value,
            "notes": input.notes,
        }
        if input.goal_id is not None:
            body["goal_id"] = str(input.goal_id)
        path = f"/files/{segment(str(input.file_id))}/follow-ups"
        return _changed(await _forward(info, path, body, input.idempotency_key), "follow_up_id")
