"""The alliance over a Yangzhou-sized city: its ledger's catch-up and the scorecard as of a day.

- Catch-up: measured facts of every boundary the alliance measures (courses' points,
  volunteers' hours, care's visits, venue visits, suggestions, checks and the nine
  department reports) go straight into the ledger's input (`AllianceApplication.measured`,
  what each measuring reaction calls), in the consumers' batches of 500, in day order over
  the previous school year and the current one so far: events/s, beside raw nats-py's pull
  consume measured in the same run. The ten default tasks and the demo's targets are
  defined first, so the targets' figures move during the catch-up as they would live.
  The reaction's own work per event (reading the facts out of a CloudEvent's contract
  model) is measured apart on a sample of real envelopes.
- As of a day: the whole scorecard (every target with its weekly trend, and every
  department's scorecard for the term) as of a day in the current and in the previous
  school year: p50 / p95 of wall and of CPU time. Each query starts from a fresh
  `Figures` (nothing kept from the query before), shared by its targets and scorecards as
  within one GraphQL request.

The default size runs in a few minutes on a small machine; `--alliance-events 5000000`
is the Yangzhou-sized term (the catch-up's rate says how long it takes anywhere else).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from contracts import care, checks, committees, courses, reports, resources, volunteers
from contracts.city import City, CityInfo, Place, School
from contracts.events import ContractEvent
from contracts.measures import Fact, measure_of
from services.alliance.application import AllianceApplication
from services.alliance.default_tasks import DEFAULT_TASKS
from services.alliance.domain import Selection
from services.alliance.figures import Figures, scorecards, target_values
from services.alliance.ledger import Measured
from services.alliance.periods import period_of
from services.alliance.reactions import MeasuredFacts
from services.kit.consumer import Delivered
from services.kit.eventstore import build_application
from services.kit.settings import Settings
from services.kit.wire import envelope_for
from tests.bench.report import Figure, percentiles
from tongxin.demo.alliance import TARGETS

SCHOOLS = 370
DISTRICTS = ("321002", "321003", "321012", "321023", "321081", "321084")
PARENTS = 800_000
CARE_FILES = 3_000
VENUES = 300
COMMUNITIES = 120
BATCH = 500
SAMPLE = 20_000
CHUNK = 100_000


@dataclass(frozen=True)
class Kind:
    """One measured event type of the mix: its share of the events and how to make one."""

    event_type: str
    department: str
    boundary: str
    weight: float


def _kind(cls: type[ContractEvent], weight: float) -> Kind:
    return Kind(cls.event_type(), cls.department(), cls.boundary, weight)


# A term's proportions: parents' points dominate; care visits and checks are thousands.
MIX = (
    _kind(courses.PointsAwarded, 0.52),
    _kind(courses.SessionAttended, 0.14),
    _kind(courses.SessionScheduled, 0.02),
    _kind(volunteers.VolunteerCheckedOut, 0.10),
    _kind(volunteers.ShiftPublished, 0.02),
    _kind(resources.VisitCompleted, 0.04),
    _kind(committees.SuggestionSubmitted, 0.015),
    _kind(committees.SuggestionAnswered, 0.015),
    _kind(checks.BackgroundCheckCompleted, 0.01),
    _kind(care.HomeVisitRecorded, 0.004),
    _kind(care.FileOpened, 0.001),
    _kind(reports.LegalLectureGiven, 0.02),
    _kind(reports.SafetyDrillSupervised, 0.02),
    _kind(reports.HealthTalkGiven, 0.02),
    _kind(reports.ProtectionLectureGiven, 0.015),
    _kind(reports.VicePrincipalVisited, 0.01),
    _kind(reports.FundGrantMade, 0.01),
    _kind(reports.GuidanceSessionHeld, 0.015),
    _kind(reports.RegisterReviewed, 0.01),
    _kind(reports.EldersActivityHeld, 0.014),
)


def _fact(kind: Kind, n: int, day: date, rng: random.Random) -> Fact:
    """The facts the kind's contract declares measurable, for event number `n`."""
    school_n = rng.randrange(SCHOOLS)
    school = f"school-{school_n}"
    district = DISTRICTS[school_n % len(DISTRICTS)]
    community = f"community-{rng.randrange(COMMUNITIES)}"
    subject: str | None = None
    unit: str | None = None
    quantity = 1.0
    facets: dict[str, str] = {}
    grouped: tuple[str | None, str | None] = (school, district)
    match kind.event_type:
        case t if t == courses.PointsAwarded.event_type():
            subject, quantity = f"p-{rng.randrange(PARENTS)}", 5.0
            facets = {"activity": rng.choice(("attendance", "online-completion"))}
        case t if t == courses.SessionAttended.event_type():
            subject, grouped = f"p-{rng.randrange(PARENTS)}", (None, None)
        case t if t == courses.SessionScheduled.event_type():
            facets = {"mode": "in-person", "lecturer_kind": "teacher"}
        case t if t == volunteers.VolunteerCheckedOut.event_type():
            subject, quantity = f"v-{rng.randrange(40_000)}", 2.0
        case t if t == volunteers.ShiftPublished.event_type():
            facets = {"post": "library", "child_facing": rng.choice(("true", "false"))}
        case t if t == resources.VisitCompleted.event_type():
            unit, quantity = f"venue-{rng.randrange(VENUES)}", float(rng.randrange(20, 45))
        case t if t == committees.SuggestionSubmitted.event_type():
            subject, facets = f"sg-{n}", {"topic": "safety"}
        case t if t == committees.SuggestionAnswered.event_type():
            subject, grouped = f"sg-{n}", (None, None)
            unit = rng.choice(("edu", "edu", "edu", "pol", "cult", "civ"))
            facets = {"on_time": "true" if rng.random() < 0.9 else "false"}
        case t if t == checks.BackgroundCheckCompleted.event_type():
            subject, grouped = f"v-{rng.randrange(40_000)}", (None, None)
            facets = {"outcome": "passed" if rng.random() < 0.95 else "failed"}
        case t if t == care.HomeVisitRecorded.event_type():
            subject, grouped = f"f-{rng.randrange(CARE_FILES)}", (None, None)
            facets = {"mode": "home", "head_teacher_went": "true"}
        case t if t == care.FileOpened.event_type():
            subject, facets = f"f-{n % CARE_FILES}", {"source": "school"}
        case t if t == reports.LegalLectureGiven.event_type():
            facets = {"audience": "families"}
        case t if t == reports.SafetyDrillSupervised.event_type():
            facets = {"kind": rng.choice(("fire", "earthquake"))}
        case t if t == reports.HealthTalkGiven.event_type():
            facets = {"topic": "eyesight"}
        case t if t == reports.VicePrincipalVisited.event_type():
            subject = school
        case t if t == reports.FundGrantMade.event_type():
            quantity, facets = 20_000.0, {"purpose": "activity-subsidy"}
        case t if t == reports.GuidanceSessionHeld.event_type():
            grouped, unit = (None, district), community
            quantity, facets = float(rng.randrange(10, 60)), {"kind": "consultation"}
        case t if t == reports.RegisterReviewed.event_type():
            grouped, unit, quantity = (None, district), community, float(rng.randrange(5, 30))
        case t if t == reports.EldersActivityHeld.event_type():
            unit, quantity = f"elders-{community}", float(rng.randrange(3, 9))
    return Fact(day, grouped[0], grouped[1], unit, subject, quantity, facets)


def measured_facts(count: int, first: date, last: date, seed: int = 5) -> Iterator[Measured]:
    """`count` facts in day order from `first` to `last`, each of its boundary's consumer,
    positions counted per consumer as in its stream."""
    rng = random.Random(seed)
    kinds = list(MIX)
    weights = [k.weight for k in kinds]
    positions: dict[str, int] = {}
    span = (last - first).days + 1
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        day = first + timedelta(days=n * span // count)
        consumer = f"alliance-measures-{kind.boundary}"
        positions[consumer] = seq = positions.get(consumer, 0) + 1
        yield Measured(
            consumer=consumer,
            seq=seq,
            event_key=f"/{kind.department}/{kind.boundary}/{seq}",
            event_type=kind.event_type,
            department=kind.department,
            fact=_fact(kind, n, day, rng),
        )


def _city() -> City:
    """The bench's city: Yangzhou's six districts and 370 schools spread over them."""
    places = tuple(Place(code=c, name_zh=c, name_en=c) for c in DISTRICTS)
    return City(
        city=CityInfo(code="321000", name_zh="扬州", name_en="Yangzhou", map="扬州"),
        districts=places,
        schools=tuple(
            School(id=f"school-{n}", name_zh=str(n), name_en=str(n), district=DISTRICTS[n % 6])
            for n in range(SCHOOLS)
        ),
    )


def _plan(app: AllianceApplication, first: date, last: date) -> int:
    """The default ten tasks over both school years and the demo's targets on them."""
    ids: dict[str, str] = {}
    for task in DEFAULT_TASKS:
        answer = app.define_task(
            None,
            code=task.code,
            title=task.title,
            action=task.action,
            lead=task.lead,
            supporting=list(task.supporting),
            starts_on=first,
            ends_on=last + timedelta(days=400),
        )
        ids[task.code] = str(answer["task_id"])
    for target in TARGETS:
        body: dict[str, Any] = target.body(ids[target.task])
        app.define_target(
            None,
            task_id=body["task_id"],
            title=body["title"],
            metric=body["metric"],
            numerator=Selection(tuple(target.numerator), dict(target.where or {})),
            denominator=Selection(tuple(target.denominator)) if target.denominator else None,
            group_by=body["group_by"],
            threshold=body["threshold"],
            period=body["period"],
            about_children=target.about_children,
        )
    return len(TARGETS)


def catch_up_and_as_of(
    settings: Settings,
    events: int,
    queries: int,
    today: date | None = None,
    prefix: str = "alliance",
) -> list[Figure]:
    """The catch-up and the scorecards as of a day on one store; figures `<prefix>.…`."""
    today = today or datetime.now(UTC).date()
    this_year = period_of("school-year", today)
    last_year = this_year.previous()
    app = build_application(AllianceApplication, settings, "alliance")
    try:
        targets = _plan(app, last_year.starts_on, today)
        facts = measured_facts(events, last_year.starts_on, today)
        elapsed = cpu = 0.0
        while chunk := list(itertools.islice(facts, CHUNK)):
            # Made before the clock starts: what is measured is the ledger's work alone.
            batches: dict[str, list[Measured]] = {}
            for item in chunk:
                batches.setdefault(item.consumer, []).append(item)
            started, started_cpu = time.perf_counter(), time.process_time()
            for consumer, items in batches.items():
                for offset in range(0, len(items), BATCH):
                    part = items[offset : offset + BATCH]
                    app.measured(consumer, part[-1].seq, part)
            elapsed += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
        kept = sum(app.ledger.totals(today).values())
        if kept != events:
            raise AssertionError(f"the ledger kept {kept} of {events} events")
        figures = [
            Figure(
                f"{prefix}.catch_up",
                f"{prefix} ledger catch-up ({settings.store}), {events:,} measured events",
                events / elapsed,
                "events/s",
                {
                    "events": events,
                    "seconds": elapsed,
                    # On a shared machine the process may get a fraction of a core.
                    "cpu_seconds": cpu,
                    "events_per_cpu_s": events / cpu if cpu else None,
                    "targets": targets,
                    "store": settings.store,
                    "five_million_s": 5_000_000 / (events / elapsed),
                },
            )
        ]
        plan = app.plan()
        for label, day in (
            ("current", today - timedelta(days=7)),
            ("previous", last_year.starts_on + timedelta(days=120)),
        ):
            samples, cpu_samples = [], []
            for _ in range(queries):
                started, started_cpu = time.perf_counter(), time.thread_time()
                request = Figures(app.ledger)
                target_values(request, plan.targets.values(), day, trend=True)
                scorecards(plan, request, period_of("term", day), day)
                samples.append((time.perf_counter() - started) * 1000)
                cpu_samples.append((time.thread_time() - started_cpu) * 1000)
            spread = percentiles(samples, 50, 95)
            # This thread's CPU time: what a query costs when the machine is shared.
            cpu_spread = percentiles(cpu_samples, 50, 95)
            detail = {
                "as_of": day.isoformat(),
                "queries": queries,
                "events": events,
                "store": settings.store,
                "cpu_ms": cpu_spread,
            }
            for name, values, what in (("", spread, "wall"), ("cpu_", cpu_spread, "CPU")):
                figures += [
                    Figure(
                        f"{prefix}.as_of_{label}.{name}{q}",
                        f"{prefix}: whole scorecard as of a day, {label} school year, {what} {q}",
                        values[q],
                        "ms",
                        detail,
                    )
                    for q in ("p50", "p95")
                ]
        return figures
    finally:
        app.close()


def reaction_apply(folder: Path, events: int = SAMPLE) -> Figure:
    """Events/s of the measuring reaction on real envelopes (facts read out of each
    contract model, placed in districts, kept), the ledger's input included."""
    settings = Settings(store="sqlite", state_dir=folder)
    app = build_application(AllianceApplication, settings, "alliance")
    try:
        reaction = MeasuredFacts(app, _city())
        rng = random.Random(9)
        at = datetime(2026, 10, 1, 19, tzinfo=UTC)
        delivered = []
        for seq in range(1, events + 1):
            school = f"school-{rng.randrange(SCHOOLS)}"
            event = courses.PointsAwarded(
                parent_id=f"p-{rng.randrange(PARENTS)}",
                school_id=school,
                class_id="c-1",
                district=DISTRICTS[int(school.split("-")[1]) % 6],
                activity="attendance",
                source_id=f"s-{seq}",
                points=5,
                rule_version=1,
                earned_at=at + timedelta(seconds=seq),
            )
            envelope = envelope_for(event, id=f"courses-{seq}", source="/courses", subject=None)
            delivered.append(Delivered(seq, envelope))
        assert measure_of(courses.PointsAwarded) is not None
        started = time.perf_counter()
        for offset in range(0, events, BATCH):
            reaction.apply("alliance-measures-courses", delivered[offset : offset + BATCH])
        elapsed = time.perf_counter() - started
    finally:
        app.close()
    return Figure(
        "alliance.reaction_apply",
        "alliance measuring reaction on CloudEvents (no NATS)",
        events / elapsed,
        "events/s",
        {"events": events, "seconds": elapsed},
    )
