"""Queries of the alliance feature: the plan from the read model, figures as of any day from
the alliance service (which computes them from its ledger of every boundary's events)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

import strawberry
from strawberry.permission import BasePermission

from contracts.city import city_today
from gateway import access
from gateway.alliance import state
from gateway.alliance.policy import READS
from gateway.alliance.types import (
    Assessment,
    Campaign,
    Contribution,
    Milestone,
    Scorecard,
    Scorecards,
    Target,
    Task,
    UnitProgress,
)
from gateway.context import Authenticated

AsOf = Annotated[
    date | None,
    strawberry.argument(description="The day asked about (default today): events up to it."),
]
authenticated: list[type[BasePermission]] = [Authenticated]


def _as_of(value: date | None) -> dict[str, Any]:
    return {"as_of": value.isoformat()} if value else {}


async def _figures(info: strawberry.Info, as_of: date | None, trend: bool) -> dict[str, Any]:
    answer = await state.ask(info, "/figures/targets", {**_as_of(as_of), "trend": trend})
    return {f["target_id"]: f for f in answer["targets"]}


@strawberry.type
class AllianceQuery:
    @strawberry.field(
        description="The key tasks (by code) with their departments, milestones and targets "
        "as of a day; `department` keeps those it leads or supports.",
        permission_classes=authenticated,
    )
    async def alliance_tasks(
        self,
        info: strawberry.Info,
        as_of: AsOf = None,
        department: Annotated[
            str | None, strawberry.argument(description="Lead or supporting department.")
        ] = None,
    ) -> list[Task]:
        principal = await access.caller(info)
        access.require(READS, principal, "read-plan")
        readmodel = state.readmodel(info)
        tasks = await asyncio.to_thread(readmodel.tasks, department)
        figures = await _figures(info, as_of, trend=False)
        today = as_of or city_today()
        out = []
        for task in tasks:
            milestones = await asyncio.to_thread(readmodel.milestones, task.id)
            targets = await asyncio.to_thread(readmodel.targets, task.id)
            out.append(
                Task.of(
                    task,
                    [Milestone.from_row(m, today) for m in milestones],
                    [Target.of(t, figures.get(t.id)) for t in targets],
                )
            )
        return out

    @strawberry.field(
        description="Every target with its value, threshold, groups and weekly trend as of "
        "a day (default today).",
        permission_classes=authenticated,
    )
    async def alliance_targets(self, info: strawberry.Info, as_of: AsOf = None) -> list[Target]:
        principal = await access.caller(info)
        access.require(READS, principal, "read-figures")
        rows = await asyncio.to_thread(state.readmodel(info).targets)
        figures = await _figures(info, as_of, trend=True)
        return [Target.of(row, figures.get(row.id)) for row in rows]

    @strawberry.field(
        description="Campaigns with each unit's progress against its quota and the lagging "
        "units, as of a day.",
        permission_classes=authenticated,
    )
    async def alliance_campaigns(self, info: strawberry.Info, as_of: AsOf = None) -> list[Campaign]:
        principal = await access.caller(info)
        access.require(READS, principal, "read-figures")
        rows = {r.id: r for r in await asyncio.to_thread(state.readmodel(info).campaigns)}
        answer = await state.ask(info, "/figures/campaigns", _as_of(as_of))
        out = []
        for figure in answer["campaigns"]:
            row = rows.get(figure["campaign_id"])
            if row is None:
                continue  # Not projected yet.
            out.append(
                Campaign(
                    id=strawberry.ID(row.id),
                    task_id=strawberry.ID(row.task_id),
                    title=row.definition.get("title", ""),
                    unit=row.definition.get("unit", ""),
                    quota=figure["quota"],
                    period=figure["period"],
                    as_of=date.fromisoformat(figure["as_of"]),
                    units=[UnitProgress(**u) for u in figure["units"]],
                    lagging=figure["lagging"],
                )
            )
        return out

    @strawberry.field(
        description="Each department's scorecard over a period (default: the term of the "
        "day asked about), as it stands on that day.",
        permission_classes=authenticated,
    )
    async def alliance_scorecards(
        self,
        info: strawberry.Info,
        as_of: AsOf = None,
        period: Annotated[
            str | None, strawberry.argument(description="e.g. 2025-2026-term-2")
        ] = None,
    ) -> Scorecards:
        principal = await access.caller(info)
        access.require(READS, principal, "read-figures")
        body = {**_as_of(as_of), **({"period": period} if period else {})}
        answer = await state.ask(info, "/figures/scorecards", body)
        return Scorecards(
            period=answer["period"],
            as_of=date.fromisoformat(answer["as_of"]),
            scorecards=[Scorecard(**c) for c in answer["scorecards"]],
        )

    @strawberry.field(
        description="Closed assessments, newest period first: frozen scorecards beside the "
        "corrected ones.",
        permission_classes=authenticated,
    )
    async def alliance_assessments(self, info: strawberry.Info) -> list[Assessment]:
        principal = await access.caller(info)
        access.require(READS, principal, "read-figures")
        rows = await asyncio.to_thread(state.readmodel(info).assessments)
        return [Assessment.from_row(row) for row in rows]

    @strawberry.field(
        description="The events behind a target's figure (newest first), for staff.",
        permission_classes=authenticated,
    )
    async def alliance_contributions(
        self,
        info: strawberry.Info,
        target_id: strawberry.ID,
        as_of: AsOf = None,
        first: Annotated[int, strawberry.argument(description="At most 500.")] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(description="The eventKey the page before ended with."),
        ] = None,
    ) -> list[Contribution]:
        principal = await access.caller(info)
        access.require(READS, principal, "read-contributions")
        body = {"target_id": str(target_id), "limit": first, **_as_of(as_of)}
        if after is not None:
            body["after"] = after
        answer = await state.ask(info, "/figures/contributions", body)
        return [
            Contribution(**{**e, "day": date.fromisoformat(e["day"])}) for e in answer["events"]
        ]
