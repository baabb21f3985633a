"""Targets, campaigns and scorecards evaluated from the ledger, as of any day.

Each figure is computed over the period (of the target's kind) containing the day asked
about, from its first day to that day: "as of 1 September" counts the events that took
place up to 1 September, whatever arrived since about earlier days. Values per group are
numbers; where a target is about children, a group resting on fewer than five counted
people or events is suppressed (`services.kit.privacy.suppression`, with complementary
suppression against the total).

One request's figures go through one `Figures`: a target asked for twice (its value, then
whether it was met for a scorecard) is evaluated once per day asked about, and a selection
two targets share (a numerator that is another's denominator) is read from the ledger once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.alliance.domain import CampaignDefinition, Plan, Selection, TargetDefinition
from services.alliance.ledger import Ledger
from services.alliance.periods import Period, period_of
from services.kit.privacy.suppression import suppress_row

TREND_WEEKS = 4


@dataclass(frozen=True)
class GroupValue:
    group: str
    value: float | None
    basis: int | None
    """What the value rests on (events or subjects counted); None when suppressed."""
    met: bool | None
    suppressed: str | None = None


@dataclass(frozen=True)
class TargetValue:
    target_id: str
    period: Period
    as_of: date
    value: float | None
    groups: list[GroupValue]
    groups_met: int
    met: bool
    trend: list[tuple[date, float | None]] = field(default_factory=list)


def _matches(facets: dict[str, str], where: dict[str, str]) -> bool:
    return all(facets.get(k) == v for k, v in where.items())


_Counts = tuple[dict[str, int], dict[str, float]]
_Key = tuple[tuple[str, ...], tuple[tuple[str, str], ...], str, date, date]


class Figures:
    """The figures of one request (or of one unchanged ledger): the ledger's reads and the
    targets' values, each computed once. Not meant to outlive a change of the ledger: its
    owner makes a new one when the ledger moves (`AllianceApplication.figures`)."""

    LIMIT = 4096
    """Values kept before starting afresh: a long run of distinct days asked about."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._counts: dict[_Key, _Counts] = {}
        self._overall: dict[_Key, tuple[int, float]] = {}
        self._coverage: dict[
            tuple[_Key, _Key, str], tuple[dict[str, tuple[int, int]], tuple[int, int]]
        ] = {}
        self._targets: dict[tuple[str, str, date], TargetValue] = {}

    def counts(self, selection: Selection, group: str, first: date, last: date) -> _Counts:
        key = _key(selection, group, first, last)
        found = self._counts.get(key)
        if found is None:
            events: dict[str, int] = defaultdict(int)
            quantity: dict[str, float] = defaultdict(float)
            for bucket in self.ledger.buckets(
                selection.event_types, group, first, last, selection.where
            ):
                if bucket.group and _matches(bucket.facets, selection.where):
                    events[bucket.group] += bucket.events
                    quantity[bucket.group] += bucket.quantity
            found = self._counts[key] = (events, quantity)
        return found

    def overall(
        self, selection: Selection, group: str, first: date, last: date
    ) -> tuple[int, float] | None:
        """Events and quantity of all groups together; None when nothing was counted."""
        key = _key(selection, group, first, last)
        if key not in self._overall:
            chosen = [
                b
                for b in self.ledger.overall(
                    selection.event_types, group, first, last, selection.where
                )
                if _matches(b.facets, selection.where)
            ]
            self._overall[key] = (
                (sum(b.events for b in chosen), sum(b.quantity for b in chosen))
                if chosen
                else (0, 0.0)
            )
        events, quantity = self._overall[key]
        return (events, quantity) if events else None

    def coverage(
        self, reached: Selection, population: Selection, group: str, period: str, last: date
    ) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
        """Per group and over all: (subjects of the population, those reached)."""
        key = (
            _key(reached, group, date.min, last),
            _key(population, group, date.min, last),
            period,
        )
        found = self._coverage.get(key)
        if found is None:
            found = self._coverage[key] = self.ledger.coverage(
                (reached.event_types, reached.where),
                (population.event_types, population.where),
                group,
                period,
                last,
            )
        return found

    def target(self, target: TargetDefinition, as_of: date, *, trend: bool = False) -> TargetValue:
        """The target's value as of a day; one with its trend answers a request without."""
        with_trend = self._targets.get((target.target_id, repr(target), as_of))
        if with_trend is not None and (with_trend.trend or not trend):
            return with_trend
        if len(self._targets) >= self.LIMIT:
            for kept in (self._targets, self._counts, self._overall, self._coverage):
                kept.clear()
        value = _evaluate(self, target, as_of, trend)
        self._targets[(target.target_id, repr(target), as_of)] = value
        return value


def _key(selection: Selection, group: str, first: date, last: date) -> _Key:
    return (selection.event_types, tuple(sorted(selection.where.items())), group, first, last)


def _figures(source: Ledger | Figures) -> Figures:
    return source if isinstance(source, Figures) else Figures(source)


def _ratio(part: float, whole: float, percent: bool) -> float | None:
    if whole <= 0:
        return None
    return round(part / whole * (100.0 if percent else 1.0), 4)


def evaluate_target(
    source: Ledger | Figures, target: TargetDefinition, as_of: date, *, trend: bool = False
) -> TargetValue:
    return _figures(source).target(target, as_of, trend=trend)


def _evaluate(figures: Figures, target: TargetDefinition, as_of: date, trend: bool) -> TargetValue:
    period = period_of(target.period, as_of)  # type: ignore[arg-type]
    last = min(as_of, period.ends_on)
    values, basis, overall = _values(figures, target, period.starts_on, last)
    groups = _suppressed(target, values, basis)
    met_groups = sum(1 for g in groups if g.met)
    met = bool(groups) and met_groups == len(groups)
    points: list[tuple[date, float | None]] = []
    if trend:
        for weeks in range(TREND_WEEKS, 0, -1):
            day = as_of - timedelta(weeks=weeks)
            if day >= period.starts_on:
                points.append((day, _overall(figures, target, period.starts_on, day)))
        points.append((as_of, overall))
    return TargetValue(target.target_id, period, as_of, overall, groups, met_groups, met, points)


def _values(
    figures: Figures, target: TargetDefinition, first: date, last: date
) -> tuple[dict[str, float | None], dict[str, int], float | None]:
    """Per-group values, what each rests on, and the value over all groups."""
    group = target.group_by
    if target.metric in ("count", "sum"):
        events, quantity = figures.counts(target.numerator, group, first, last)
        chosen: dict[str, float] = (
            {k: float(v) for k, v in events.items()} if target.metric == "count" else quantity
        )
        # Sums of hours or yuan: rounded, so that float noise never reads as a figure.
        total = round(sum(chosen.values()), 4) if chosen else None
        return {k: round(v, 4) for k, v in chosen.items()}, dict(events), total
    assert target.denominator is not None
    if target.metric == "coverage":
        label = period_of(target.period, first).label  # type: ignore[arg-type]
        per_group, (people, reached) = figures.coverage(
            target.numerator, target.denominator, group, label, last
        )
        values = {k: _ratio(hit, whole, True) for k, (whole, hit) in per_group.items()}
        basis = {k: whole for k, (whole, _) in per_group.items()}
        return values, basis, _ratio(reached, people, True)
    num_events, num_quantity = figures.counts(target.numerator, group, first, last)
    den_events, _ = figures.counts(target.denominator, group, first, last)
    percent = target.metric == "share"
    part = num_events if percent else num_quantity
    values = {k: _ratio(part.get(k, 0), n, percent) for k, n in den_events.items()}
    overall = _ratio(sum(part.values()), sum(den_events.values()), percent)
    return values, dict(den_events), overall


def _overall(figures: Figures, target: TargetDefinition, first: date, last: date) -> float | None:
    """The value over all groups, read from each grouping's overall totals (a trend point)."""
    if target.metric == "coverage":
        return _values(figures, target, first, last)[2]
    found = figures.overall(target.numerator, target.group_by, first, last)
    if target.metric in ("count", "sum"):
        if found is None:
            return None
        return round(float(found[1] if target.metric == "sum" else found[0]), 4)
    assert target.denominator is not None
    percent = target.metric == "share"
    whole = figures.overall(target.denominator, target.group_by, first, last)
    part = 0.0 if found is None else float(found[0] if percent else found[1])
    return _ratio(part, 0.0 if whole is None else float(whole[0]), percent)


def _suppressed(
    target: TargetDefinition, values: dict[str, float | None], basis: dict[str, int]
) -> list[GroupValue]:
    def met(value: float | None) -> bool | None:
        return None if value is None else value >= target.threshold

    keys = sorted(values)
    if not target.about_children:
        return [GroupValue(k, values[k], basis.get(k, 0), met(values[k])) for k in keys]
    row = suppress_row({k: basis.get(k, 0) for k in keys}, sum(basis.values()))
    out: list[GroupValue] = []
    for k in keys:
        cell = row.cells[k]
        if isinstance(cell, int):
            out.append(GroupValue(k, values[k], cell, met(values[k])))
        else:
            # Whether a hidden group met the target still counts in `groups_met`.
            out.append(GroupValue(k, None, None, met(values[k]), suppressed=str(cell)))
    return out


@dataclass(frozen=True)
class CampaignProgress:
    campaign_id: str
    period: Period
    as_of: date
    units: list[tuple[str, float, float]]
    """(unit, done, share of the quota in %)."""
    lagging: list[str]


def evaluate_campaign(
    source: Ledger | Figures, campaign: CampaignDefinition, as_of: date
) -> CampaignProgress:
    period = period_of(campaign.period, as_of)  # type: ignore[arg-type]
    last = min(as_of, period.ends_on)
    counts = _figures(source).counts(campaign.counts, campaign.unit, period.starts_on, last)
    events = counts[0]
    units = sorted(set(campaign.units) | set(events)) if not campaign.units else campaign.units
    rows = [
        (u, float(events.get(u, 0)), round(events.get(u, 0) / campaign.quota * 100, 2))
        for u in units
    ]
    lagging = [u for u, done, _ in rows if done < campaign.quota]
    return CampaignProgress(campaign.campaign_id, period, as_of, rows, lagging)


def scorecards(
    plan: Plan, source: Ledger | Figures, period: Period, as_of: date
) -> list[dict[str, Any]]:
    """Each department's scorecard over `period`, as it stands on `as_of`.

    A milestone is on time when reported done by its due date; one due in the period and
    not done by `as_of` (or done late) is not. A target counts as met when every group
    reached the threshold on the period's last day (or on `as_of`, if earlier).
    """
    figures = _figures(source)
    departments: dict[str, dict[str, Any]] = {}

    def card(code: str) -> dict[str, Any]:
        return departments.setdefault(
            code,
            {
                "department": code,
                "tasks_led": 0,
                "tasks_supported": 0,
                "milestones_due": 0,
                "milestones_on_time": 0,
                "targets": 0,
                "targets_met": 0,
            },
        )

    last = min(as_of, period.ends_on)
    active = {
        task_id: task
        for task_id, task in plan.tasks.items()
        if task["starts_on"] <= period.ends_on and task["ends_on"] >= period.starts_on
    }
    for task in active.values():
        card(task["lead"])["tasks_led"] += 1
        for code in task["supporting"]:
            card(code)["tasks_supported"] += 1
    for milestone in plan.milestones.values():
        if milestone["task_id"] not in active:
            continue
        if not period.starts_on <= milestone["due_on"] <= last:
            continue
        entry = card(milestone["answerable"])
        entry["milestones_due"] += 1
        reached = milestone["reached_on"]
        if reached is not None and reached <= min(milestone["due_on"], as_of):
            entry["milestones_on_time"] += 1
    for target in plan.targets.values():
        led = active.get(target.task_id)
        if led is None:
            continue
        entry = card(led["lead"])
        entry["targets"] += 1
        if _met_over(figures, target, period, last):
            entry["targets_met"] += 1
    return [departments[code] for code in sorted(departments)]


def _met_over(figures: Figures, target: TargetDefinition, period: Period, last: date) -> bool:
    """Whether the target was met over `period` (its own periods ending inside it)."""
    day = last
    met = True
    seen: set[str] = set()
    while day >= period.starts_on:
        own = period_of(target.period, day)  # type: ignore[arg-type]
        if own.label in seen:
            break
        seen.add(own.label)
        met = met and figures.target(target, min(day, own.ends_on)).met
        day = own.starts_on - timedelta(days=1)
    return met


def target_values(
    source: Ledger | Figures,
    targets: Iterable[TargetDefinition],
    as_of: date,
    *,
    trend: bool = False,
) -> list[TargetValue]:
    figures = _figures(source)
    return [figures.target(t, as_of, trend=trend) for t in targets]
