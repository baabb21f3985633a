"""AllianceApplication: one method per command, each deciding on fresh state; the ledger of
measured events beside the event store, and the figures read from it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, Transcoding

from services.alliance import clock
from services.alliance.domain import (
    PLAN_ID,
    AlreadyClosedError,
    Assessment,
    CampaignDefinition,
    PeriodNotOverError,
    Plan,
    TargetDefinition,
    TargetFigure,
)
from services.alliance.figures import Figures, evaluate_target, scorecards
from services.alliance.ledger import Ledger, Measured
from services.alliance.periods import Period
from services.kit.application import CommandKey, ServiceApplication
from services.kit.errors import NotFoundError
from services.kit.settings import Settings

log = logging.getLogger(__name__)

FIGURES_AFTER_S = 0.2
"""How long measured events gather before the targets they count toward are evaluated:
a catch-up of a million events moves each figure a few times a second, not once a batch."""


class DateAsISO(Transcoding):
    """Days (due dates, periods) as ISO strings in stored events."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class AllianceApplication(ServiceApplication):
    name = "alliance"

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self.ledger = Ledger(_ledger_settings(self.env))
        self._figures = _Coalesced(self.move_figures, FIGURES_AFTER_S)
        self._reads: tuple[tuple[tuple[str, int], ...], Figures] | None = None

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def close(self) -> None:
        self._figures.close()
        try:
            self.ledger.close()
        finally:
            super().close()

    # Queries.
    def plan(self) -> Plan:
        try:
            return self.get(PLAN_ID, Plan)
        except NotFoundError:
            return Plan(plan_id=PLAN_ID)

    def assessment(self, period: str) -> Assessment:
        return self.get(Assessment.id_for(period), Assessment)

    # Commands on the plan.
    def _on_plan(self, key: CommandKey | None, change: Any) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            plan = self.plan()
            response = change(plan)
            return [plan], {**response, "version": plan.version}

        return self.run_command(key, decide)

    def define_task(self, key: CommandKey | None, **task: Any) -> dict[str, Any]:
        task_id = str(uuid4())

        def change(plan: Plan) -> dict[str, Any]:
            plan.define_task(task_id=task_id, **task)
            return {"task_id": task_id}

        return self._on_plan(key, change)

    def schedule_milestone(
        self, key: CommandKey | None, task_id: str, *, title: str, answerable: str, due_on: date
    ) -> dict[str, Any]:
        milestone_id = str(uuid4())

        def change(plan: Plan) -> dict[str, Any]:
            plan.schedule_milestone(
                task_id=task_id,
                milestone_id=milestone_id,
                title=title,
                answerable=answerable,
                due_on=due_on,
            )
            return {"task_id": task_id, "milestone_id": milestone_id}

        return self._on_plan(key, change)

    def reach_milestone(
        self, key: CommandKey | None, milestone_id: str, *, reached_on: date
    ) -> dict[str, Any]:
        def change(plan: Plan) -> dict[str, Any]:
            milestone = plan.reach_milestone(milestone_id=milestone_id, reached_on=reached_on)
            return {"milestone_id": milestone_id, "on_time": milestone["on_time"]}

        return self._on_plan(key, change)

    def define_target(self, key: CommandKey | None, **definition: Any) -> dict[str, Any]:
        target_id = str(uuid4())

        def change(plan: Plan) -> dict[str, Any]:
            plan.define_target(TargetDefinition(target_id=target_id, **definition))
            return {"target_id": target_id}

        response = self._on_plan(key, change)
        self.move_figures()
        return response

    def launch_campaign(self, key: CommandKey | None, **definition: Any) -> dict[str, Any]:
        campaign_id = str(uuid4())

        def change(plan: Plan) -> dict[str, Any]:
            plan.launch_campaign(CampaignDefinition(campaign_id=campaign_id, **definition))
            return {"campaign_id": campaign_id}

        return self._on_plan(key, change)

    # Assessments.
    def close_assessment(self, key: CommandKey | None, period: Period) -> dict[str, Any]:
        today = clock.today()

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            if period.ends_on >= today:
                raise PeriodNotOverError(f"{period.label} ends on {period.ends_on}")
            try:
                self.assessment(period.label)
                raise AlreadyClosedError(f"{period.label} is closed already")
            except NotFoundError:
                pass
            cards = scorecards(self.plan(), self.ledger, period, period.ends_on)
            assessment = Assessment(
                assessment_id=Assessment.id_for(period.label),
                period=period.label,
                starts_on=period.starts_on,
                ends_on=period.ends_on,
                scorecards=cards,
                closed_at=clock.now(),
            )
            return [assessment], {
                "assessment_id": str(assessment.id),
                "period": period.label,
                "scorecards": cards,
            }

        return self.run_command(key, decide)

    def correct_assessment(
        self, key: CommandKey | None, period: Period, *, reason: str
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            assessment = self.assessment(period.label)
            cards = scorecards(self.plan(), self.ledger, period, period.ends_on)
            corrected = assessment.correct(cards, reason, clock.now())
            return [assessment], {
                "assessment_id": str(assessment.id),
                "period": period.label,
                "corrected": corrected,
                "correction": len(assessment.corrections),
                "scorecards": assessment.current,
            }

        return self.run_command(key, decide)

    def figures(self) -> Figures:
        """The figures of the ledger as it stands, shared by the requests that find it
        unchanged: the targets' values then the scorecards of one GraphQL query evaluate
        each target once. The ledger's positions say whether it moved (one small read)."""
        version = self.ledger.version()
        reads = self._reads
        if reads is None or reads[0] != version:
            reads = self._reads = (version, Figures(self.ledger))
        return reads[1]

    # The ledger and the figures it moves.
    def measured(self, consumer: str, last_seq: int, items: Sequence[Measured]) -> None:
        touched = self.ledger.record(consumer, last_seq, items)
        if touched:
            self._figures.touch(touched)

    def move_figures(self, event_types: set[str] | None = None) -> None:
        """Record each target's figure for today's period where it moved (published as
        `target-moved`, which the gateway pushes to its subscribers)."""
        today = clock.today()
        for target in self.plan().targets.values():
            types = set(target.numerator.event_types)
            if target.denominator is not None:
                types |= set(target.denominator.event_types)
            if event_types is not None and not types & event_types:
                continue
            value = evaluate_target(self.ledger, target, today)
            self._move(target.target_id, value.period.label, value.value, value)

    def _move(self, target_id: str, period: str, overall: float | None, value: Any) -> None:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            figure_id = TargetFigure.id_for(target_id)
            try:
                figure = self.get(figure_id, TargetFigure)
            except NotFoundError:
                figure = TargetFigure(figure_id=figure_id, target_id=target_id)
            figure.move(
                period=period,
                value=overall,
                groups=len(value.groups),
                groups_met=value.groups_met,
                at=datetime.now(UTC),
            )
            return [figure], {}

        self.run_command(None, decide)


class _Coalesced:
    """Calls `run` with the event types touched since its last call, shortly after the
    first touch, in a thread of its own: one call at a time, never one per batch."""

    def __init__(self, run: Callable[[set[str]], None], delay_s: float) -> None:
        self._run = run
        self._base_s = self._delay_s = delay_s
        self._lock = threading.Lock()
        self._running = threading.Lock()
        self._pending: set[str] = set()
        self._timer: threading.Timer | None = None
        self._closed = False

    def touch(self, event_types: set[str]) -> None:
        with self._lock:
            self._pending |= event_types
            if self._timer is None and not self._closed:
                self._timer = threading.Timer(self._delay_s, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def _fire(self) -> None:
        with self._running:
            with self._lock:
                types, self._pending, self._timer = self._pending, set(), None
                if self._closed or not types:
                    return
            started = time.monotonic()
            try:
                self._run(types)
            except Exception:
                # The next measured event tries again; the figures themselves are in the ledger.
                log.exception("moving the targets' figures failed")
                with self._lock:
                    self._pending |= types
            finally:
                # While events keep coming (a catch-up), moving takes a fifth of the time.
                self._delay_s = max(self._base_s, 4 * (time.monotonic() - started))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
        with self._running:
            pass


def _ledger_settings(env: Any) -> Settings:
    """The ledger lives in the store's own database (a file beside it on SQLite)."""
    if env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
        return Settings(
            store="postgres",
            postgres_host=env["POSTGRES_HOST"],
            postgres_port=int(env["POSTGRES_PORT"]),
            postgres_user=env["POSTGRES_USER"],
            postgres_password=env.get("POSTGRES_PASSWORD", ""),
            postgres_dbname=env["POSTGRES_DBNAME"],
            postgres_schema=env.get("POSTGRES_SCHEMA", ""),
        )
    return Settings(store="sqlite", state_dir=Path(env["SQLITE_DBNAME"]).parent.parent)
