"""A school's volunteers by name: the page comes from the volunteers service, the facts from
the read model.

Names are the service's own, so an order by name is the service's to give
(`GET /volunteers?school_id=`): it reads the names as the caller, logs the page's reads,
and answers ids with their names. The gateway adds each volunteer's facts from its read
model and shows the names the answer carried, without a second names lookup (which would
log every read twice). Viewers are refused: the order of names says something about the
names, which viewers may not read. A volunteer the read model has not seen yet is left out
of the page (the service is ahead of the projection for a moment); the cursor still moves
past them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry

from gateway import access
from gateway.context import context_of
from gateway.core.pagination import (
    Connection,
    Edge,
    InvalidCursorError,
    PageInfo,
    decode_cursor,
    encode_cursor,
)
from gateway.core.service import Problem
from gateway.errors import SERVICE_UNAVAILABLE, bad_input, coded, forbidden
from gateway.volunteers import state
from gateway.volunteers.policy import READS
from gateway.volunteers.types import Volunteer
from services.kit.auth import Principal

PATH = "/volunteers"
CURSOR = "volunteer-by-name"


async def volunteers_by_name(
    info: strawberry.Info, principal: Principal, school_id: str, first: int, after: str | None
) -> Connection[Volunteer]:
    access.require(READS, principal, "list-volunteers-by-name", school_id=school_id)
    params = {"school_id": school_id, "first": str(first)}
    if after is not None:
        try:
            [params["after"]] = decode_cursor(CURSOR, after, 1)
        except InvalidCursorError as exc:
            raise bad_input(str(exc)) from None
    if first == 0:
        return Connection(edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None))
    client = context_of(info).service(state.NAME)
    answer = await client.get(PATH, params, token=principal.token)
    if isinstance(answer, Problem):
        raise _refusal(answer)
    try:
        listed: list[dict[str, Any]] = list(answer.body["volunteers"])
        ids = [str(entry["volunteer_id"]) for entry in listed]
        more = answer.body["next_cursor"] is not None
    except (KeyError, TypeError) as exc:
        raise coded(f"the volunteers service answered oddly ({exc})", SERVICE_UNAVAILABLE) from None
    rows = await asyncio.to_thread(state.readmodel(info).volunteers_by_id, ids)
    edges = [
        Edge(
            cursor=encode_cursor(CURSOR, vid),
            node=Volunteer.from_row(rows[vid], name=entry.get("display_name")),
        )
        for vid, entry in zip(ids, listed, strict=True)
        if vid in rows
    ]
    end = encode_cursor(CURSOR, ids[-1]) if ids else None
    return Connection(edges=edges, page_info=PageInfo(has_next_page=more, end_cursor=end))


def _refusal(problem: Problem) -> Exception:
    if problem.status in (401, 403):
        return forbidden(problem.message)
    if problem.status == 422:
        return bad_input(problem.message)
    return coded(
        f"the volunteers service could not answer ({problem.code}); try again later",
        SERVICE_UNAVAILABLE,
    )
