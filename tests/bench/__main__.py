"""`python -m tests.bench` (`make bench`): the platform's paths next to the raw building blocks.

One run on one machine: it starts its own nats-server, embedded PostgreSQL and
service processes, measures, stops everything, prints a table with the ratios
the targets are about and writes every figure to bench-results/<timestamp>.json.
The last line is `results: PATH`.

    make bench                                   everything, default sizes
    make bench ARGS="--quick"                    small sizes: a smoke run of every path
    make bench ARGS="--only relay --only raw-nats"
    make bench ARGS="--only relay-at-rest"       a relay process on SQLite: CPU at rest, wake-up
    make bench ARGS="--only graphql-names"       the volunteers list with names from the service
    make bench ARGS="--only idle"                the whole `tongxin run` stack at rest
    make bench ARGS="--only bookings"            booking contention and availability search
    make bench ARGS="--rebuild-events 1000000"   the 1M-event rebuild (opt-in)
    make bench ARGS="--only care"                care commands and the coverage query
    make bench ARGS="--only care-readmodel"      the care read model's writes, batched or not
    make bench ARGS="--only courses"             registrations, points projection, ranks
    make bench ARGS="--only courses --points-events 1000000"  the 1M-award catch-up
    make bench ARGS="--only feeds"               partner webhooks beside raw httpx POSTs
    make bench ARGS="--only city"                the dashboard on a Yangzhou-sized city
    make bench ARGS="--only city --city-scale 1" the same with every parent and class visit
    make bench ARGS="--only committees"          suggestions, progress reports, figures
    make bench ARGS="--only alliance --alliance-events 5000000"   a Yangzhou-sized term
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from services.kit.telemetry import setup_tracing
from tests.bench import care, deadlines, processes, raw_nats, raw_postgres, relay
from tests.bench.environment import Environment
from tests.bench.report import TARGETS, Figure, table, write


@dataclass(frozen=True)
class Sizes:
    events: int = 20_000  # raw publish / consume and the relay
    commits: int = 3_000  # raw PostgreSQL commits
    projection_events: int = 20_000
    rebuild_events: int = 100_000
    http_seconds: float = 10.0
    http_clients: int = 64
    http_replicas: tuple[int, ...] = (1, 2)
    rates: tuple[int, ...] = (100, 300, 500)
    rate_seconds: float = 10.0
    # API processes behind the open-loop load, with the relay in a process of its own.
    visible_replicas: int = 2
    graphql_requests: int = 1_000
    graphql_clients: int = 16
    # Volunteers registered through the service, then listed with their names.
    named_volunteers: int = 500
    names_requests: int = 500
    names_clients: int = 4
    # The whole `tongxin run` stack left alone after its demo.
    idle_seconds: float = 60.0
    # Care: files opened and visits per file on PostgreSQL; the coverage read model's size.
    care_files: int = 1_000
    care_visits_per_file: int = 2
    coverage_files: int = 3_000
    coverage_visits: int = 30_000
    coverage_queries: int = 200
    # The courses service: a popular lecture, the points projection, ranks among parents.
    course_registrations: int = 3_000
    course_capacity: int = 2_000
    # The figure is over 1,000,000: --points-events 1000000 (a few minutes).
    points_events: int = 100_000
    ranked_parents: int = 800_000
    rank_reads: int = 2_000
    # Partner feeds: events fanned out to partners x endpoints on a local receiver (the
    # issue's full size is 10,000 events: `--feed-events 10000`, ~10 minutes).
    feed_events: int = 1_000
    feed_partners: int = 10
    feed_endpoints: int = 2
    feed_latency_events: int = 300
    feed_latency_rate: float = 20.0
    # Profile the dispatcher (pyinstrument) while the backlog is delivered.
    feed_profile: bool = False
    # The dashboard on a Yangzhou-sized city: the parts that grow with people (parents,
    # class visits, volunteers' shifts) at this share, the city's counts in full.
    city_scale: float = 0.1
    city_rounds: int = 20
    city_users: int = 16
    # Committees: suggestions submitted, progress reports applied, the figures' read model.
    committee_suggestions: int = 1_000
    progress_reports: int = 2_000
    figure_suggestions: int = 20_000
    figure_queries: int = 100
    # The alliance: measured events caught up by its ledger; scorecards asked as of a day.
    alliance_events: int = 500_000
    alliance_queries: int = 50

    def quick(self) -> Sizes:
        return replace(
            self,
            events=3_000,
            commits=500,
            projection_events=3_000,
            rebuild_events=10_000,
            http_seconds=3.0,
            rate_seconds=3.0,
            graphql_requests=300,
            named_volunteers=150,
            names_requests=100,
            idle_seconds=15.0,
            care_files=200,
            coverage_queries=50,
            course_registrations=400,
            course_capacity=300,
            points_events=20_000,
            ranked_parents=50_000,
            rank_reads=300,
            feed_events=500,
            feed_latency_events=60,
            city_scale=0.01,
            city_rounds=5,
            committee_suggestions=200,
            progress_reports=500,
            figure_suggestions=3_000,
            figure_queries=30,
            alliance_events=20_000,
            alliance_queries=10,
        )


Step = Callable[[Environment, Sizes], Awaitable[list[Figure]]]


async def raw_nats_step(env: Environment, sizes: Sizes) -> list[Figure]:
    await env.reset_streams()
    payload = relay.sample_payload(env.sqlite_settings("sample"))
    published = await raw_nats.publish_async(env.nats.url, sizes.events, payload)
    consumed = await raw_nats.pull_consume(env.nats.url, sizes.events)
    return [*published, consumed]


async def raw_postgres_step(env: Environment, sizes: Sizes) -> list[Figure]:
    settings = env.postgres_settings("raw")
    append, ids = await asyncio.to_thread(
        raw_postgres.eventsourcing_append, settings, sizes.commits
    )
    load_save = await asyncio.to_thread(raw_postgres.eventsourcing_load_save, settings, ids)
    one = await asyncio.to_thread(raw_postgres.psycopg_commits, settings, sizes.commits, 1)
    four = await asyncio.to_thread(raw_postgres.psycopg_commits, settings, sizes.commits, 4)
    return [append, load_save, one, four]


async def relay_step(env: Environment, sizes: Sizes) -> list[Figure]:
    figures = []
    for store in ("sqlite", "postgres"):
        for write_time in (False, True):
            await env.reset_streams()
            name = f"relay_{'forms' if write_time else 'read'}"
            settings = (
                env.sqlite_settings(name) if store == "sqlite" else env.postgres_settings(name)
            )
            figures += await relay.relay_rate(settings, sizes.events, store, write_time=write_time)
    return figures


async def relay_at_rest_step(env: Environment, sizes: Sizes) -> list[Figure]:
    await env.reset_streams()
    settings = env.sqlite_settings("relay_at_rest")
    return await relay.relay_at_rest(settings, seconds=min(sizes.idle_seconds, 20.0), commits=20)


async def projection_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import projection

    await env.reset_streams()
    settings = env.sqlite_settings("projection")
    await projection.fill_stream(settings, sizes.projection_events)
    return [await projection.catch_up(settings, sizes.projection_events)]


async def rebuild_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import projection

    await env.reset_streams()
    settings = env.sqlite_settings("rebuild")
    await projection.fill_stream(settings, sizes.rebuild_events)
    return [await projection.rebuild_time(settings, sizes.rebuild_events)]


async def http_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import commands

    figures = []
    for replicas in sizes.http_replicas:
        settings = env.postgres_settings(f"http{replicas}")
        with processes.platform(settings, env.folder(f"http-{replicas}")) as running:
            apis = await asyncio.to_thread(running.volunteers, replicas)
            suffix = "" if replicas == 1 else f"_{replicas}"
            if replicas == 1:
                # The HTTP stack alone (uvicorn, FastAPI, the kit's middleware): the ceiling
                # any command can reach in this process on this machine.
                figures.append(
                    await commands.closed_loop(
                        [apis[0].url],
                        running.coordinator_token(),
                        clients=sizes.http_clients,
                        seconds=min(sizes.http_seconds, 5.0),
                        key="http.healthz",
                        label="HTTP GET /healthz, same API process (no store)",
                        request=commands.healthz,
                        unit="requests/s",
                        watched=[apis[0].popen.pid],
                    )
                )
            figures.append(
                await commands.closed_loop(
                    [api.url for api in apis],
                    running.coordinator_token(),
                    clients=sizes.http_clients,
                    seconds=sizes.http_seconds,
                    key=f"http.volunteers{suffix}",
                    label=f"HTTP commands, volunteers on PostgreSQL, {replicas} API process(es)",
                    watched=[api.popen.pid for api in apis],
                )
            )
    return figures


async def visible_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import visibility

    await env.reset_streams()
    settings = env.postgres_settings("visible")
    folder = env.folder("visible")
    stage_dir = folder / "stages"
    with processes.platform(settings, folder, stage_dir=stage_dir) as running:
        apis = await asyncio.to_thread(running.volunteers, sizes.visible_replicas)
        gateway = await asyncio.to_thread(running.gateway, apis[0].url)
        return await visibility.measure(
            [api.url for api in apis],
            gateway.url,
            running.coordinator_token(),
            rates=sizes.rates,
            seconds=sizes.rate_seconds,
            nats_url=settings.nats_urls,
            stage_dir=stage_dir,
            pids={p.name: p.popen.pid for p in running.processes},
        )


async def graphql_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import dashboard, projection

    await env.reset_streams()
    settings = env.postgres_settings("graphql")
    await projection.fill_stream(settings, sizes.projection_events)
    with processes.platform(settings, env.folder("graphql")) as running:
        gateway = await asyncio.to_thread(running.gateway, "http://127.0.0.1:9")
        await dashboard.wait_projected(gateway.url, sizes.projection_events)
        return await dashboard.dashboard_queries(
            gateway.url,
            running.viewer_token(),
            requests=sizes.graphql_requests,
            clients=sizes.graphql_clients,
        )


async def graphql_names_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import dashboard, names

    await env.reset_streams()
    settings = env.postgres_settings("graphql_names")
    with processes.platform(settings, env.folder("graphql-names")) as running:
        api = (await asyncio.to_thread(running.volunteers, 1))[0]
        gateway = await asyncio.to_thread(running.gateway, api.url)
        token = running.coordinator_token()
        await names.register_people(api.url, token, sizes.named_volunteers)
        # One event per registration: the stream's last position is their count.
        await dashboard.wait_projected(gateway.url, sizes.named_volunteers)
        return await names.measure(
            gateway.url,
            api.url,
            token,
            requests=sizes.names_requests,
            clients=sizes.names_clients,
        )


async def idle_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import idle

    return await asyncio.to_thread(idle.measure, env.folder("idle"), sizes.idle_seconds)


async def care_step(env: Environment, sizes: Sizes) -> list[Figure]:
    settings = env.postgres_settings("care")
    raw = await asyncio.to_thread(raw_postgres.psycopg_commits, settings, sizes.commits, 1)
    measured = await asyncio.to_thread(
        care.commands, settings, sizes.care_files, sizes.care_visits_per_file
    )
    figures = await asyncio.to_thread(
        care.coverage,
        env.folder("care-coverage"),
        sizes.coverage_files,
        sizes.coverage_visits,
        sizes.coverage_queries,
    )
    applied = await asyncio.to_thread(
        care.readmodel_apply,
        env.folder("care-readmodel"),
        sizes.coverage_files,
        sizes.coverage_visits,
    )
    return [raw, *measured, *figures, *applied]


async def care_readmodel_step(env: Environment, sizes: Sizes) -> list[Figure]:
    return await asyncio.to_thread(
        care.readmodel_apply,
        env.folder("care-readmodel"),
        sizes.coverage_files,
        sizes.coverage_visits,
    )


async def courses_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import courses

    settings = env.postgres_settings("courses")
    one = await asyncio.to_thread(raw_postgres.psycopg_commits, settings, sizes.commits, 1)
    registered = await asyncio.to_thread(
        courses.registrations, settings, sizes.course_registrations, sizes.course_capacity
    )
    folder = env.folder("courses")
    applied = await asyncio.to_thread(
        courses.points_apply, folder, min(sizes.points_events, 100_000), sizes.ranked_parents
    )
    # The projector's catch-up from NATS beside what a bare consumer fetches and acks.
    await env.reset_streams()
    projected = await courses.points_catch_up(
        env.sqlite_settings("courses-points"), sizes.points_events, sizes.ranked_parents
    )
    await raw_nats.publish_async(env.nats.url, sizes.points_events, b"x" * 300, "courses")
    consumed = await raw_nats.pull_consume(env.nats.url, sizes.points_events, "courses-raw")
    ranks = await asyncio.to_thread(
        courses.rank_reads, folder, sizes.ranked_parents, sizes.rank_reads
    )
    return [one, registered, *applied, *projected, consumed, *ranks]


async def bookings_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import bookings

    settings = env.postgres_settings("bookings")
    figures = await bookings.contention(settings, env.folder("bookings"))
    return figures + await asyncio.to_thread(bookings.search, env.folder("bookings-search"))


async def feeds_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import feeds

    return await feeds.measure(
        env.postgres_settings("feeds"),
        env.folder("feeds"),
        events=sizes.feed_events,
        partners=sizes.feed_partners,
        endpoints=sizes.feed_endpoints,
        latency_events=sizes.feed_latency_events,
        latency_rate=sizes.feed_latency_rate,
        profile=sizes.feed_profile,
    )


async def city_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import yangzhou

    await env.reset_streams()
    return await yangzhou.measure(
        env.sqlite_settings("city"),
        env.folder("city"),
        scale=sizes.city_scale,
        rounds=sizes.city_rounds,
        users=sizes.city_users,
    )


async def committees_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import committees

    settings = env.postgres_settings("committees")
    one = await asyncio.to_thread(raw_postgres.psycopg_commits, settings, sizes.commits, 1)
    measured = await asyncio.to_thread(
        committees.commands, settings, sizes.committee_suggestions, sizes.progress_reports
    )
    figures = await asyncio.to_thread(
        committees.figures,
        env.folder("committees-figures"),
        sizes.figure_suggestions,
        sizes.figure_queries,
    )
    return [one, *measured, *figures]


async def alliance_step(env: Environment, sizes: Sizes) -> list[Figure]:
    from tests.bench import alliance

    await env.reset_streams()
    payload = relay.sample_payload(env.sqlite_settings("sample"))
    await raw_nats.publish_async(env.nats.url, sizes.events, payload)
    consumed = await raw_nats.pull_consume(env.nats.url, sizes.events)
    figures = await asyncio.to_thread(
        alliance.catch_up_and_as_of,
        env.sqlite_settings("alliance"),
        sizes.alliance_events,
        sizes.alliance_queries,
    )
    on_postgres = await asyncio.to_thread(
        alliance.catch_up_and_as_of,
        env.postgres_settings("alliance"),
        sizes.alliance_events,
        sizes.alliance_queries,
        prefix="alliance.postgres",
    )
    reaction = await asyncio.to_thread(alliance.reaction_apply, env.folder("alliance-reaction"))
    return [consumed, *figures, *on_postgres, reaction]


STEPS: dict[str, Step] = {
    "raw-nats": raw_nats_step,
    "raw-postgres": raw_postgres_step,
    "relay": relay_step,
    "relay-at-rest": relay_at_rest_step,
    "care-readmodel": care_readmodel_step,
    "projection": projection_step,
    "rebuild": rebuild_step,
    "http": http_step,
    "visible": visible_step,
    "graphql": graphql_step,
    "graphql-names": graphql_names_step,
    "idle": idle_step,
    "care": care_step,
    "courses": courses_step,
    "deadlines": deadlines.step,
    "bookings": bookings_step,
    "feeds": feeds_step,
    "city": city_step,
    "committees": committees_step,
    "alliance": alliance_step,
}


async def run(names: list[str], sizes: Sizes) -> tuple[list[Figure], dict[str, str], dict]:
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    with Environment() as env:
        for name in names:
            print(f"-- {name}", flush=True)
            started = time.perf_counter()
            try:
                measured = await STEPS[name](env, sizes)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
                continue
            for figure in measured:
                cpu = figure.detail.get("server_cpu_us_per_request")
                per_request = f" ({cpu:,} us server CPU each)" if cpu else ""
                print(
                    f"   {figure.label}: {figure.value:,.2f} {figure.unit}{per_request}", flush=True
                )
            print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
            figures += measured
        machine = env.describe()
    return figures, errors, machine


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(STEPS),
        metavar="NAME",
        help=f"run only these measurements (repeatable): {', '.join(STEPS)}",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    defaults = Sizes()
    parser.add_argument("--events", type=int, help=f"raw NATS and relay events ({defaults.events})")
    parser.add_argument("--commits", type=int, help=f"raw PostgreSQL commits ({defaults.commits})")
    parser.add_argument(
        "--projection-events",
        type=int,
        help=f"projection catch-up events ({defaults.projection_events})",
    )
    parser.add_argument(
        "--rebuild-events",
        type=int,
        help=f"projection rebuild events ({defaults.rebuild_events}; 1000000 opt-in)",
    )
    parser.add_argument(
        "--http-seconds", type=float, help=f"HTTP command load duration ({defaults.http_seconds})"
    )
    parser.add_argument(
        "--http-clients", type=int, help=f"concurrent HTTP clients ({defaults.http_clients})"
    )
    parser.add_argument(
        "--rates",
        type=lambda s: tuple(int(r) for r in s.split(",")),
        help="offered command rates for the visibility latency (100,300,500)",
    )
    parser.add_argument(
        "--rate-seconds",
        type=float,
        help=f"duration of each offered rate ({defaults.rate_seconds})",
    )
    parser.add_argument(
        "--visible-replicas",
        type=int,
        help=f"API processes behind the open-loop load ({defaults.visible_replicas})",
    )
    parser.add_argument(
        "--graphql-requests", type=int, help=f"dashboard queries ({defaults.graphql_requests})"
    )
    parser.add_argument(
        "--graphql-clients",
        type=int,
        help=f"concurrent GraphQL clients ({defaults.graphql_clients})",
    )
    parser.add_argument(
        "--named-volunteers",
        type=int,
        help=f"volunteers listed with their names ({defaults.named_volunteers})",
    )
    parser.add_argument(
        "--names-requests",
        type=int,
        help=f"queries per page size, with and without names ({defaults.names_requests})",
    )
    parser.add_argument(
        "--names-clients",
        type=int,
        help=f"concurrent clients listing names ({defaults.names_clients})",
    )
    parser.add_argument(
        "--course-registrations",
        type=int,
        help=f"parents registering for one popular lecture ({defaults.course_registrations})",
    )
    parser.add_argument(
        "--course-capacity",
        type=int,
        help=f"places of that lecture; the rest wait ({defaults.course_capacity})",
    )
    parser.add_argument(
        "--points-events",
        type=int,
        help=f"points awards the courses projection catches up on ({defaults.points_events})",
    )
    parser.add_argument(
        "--ranked-parents",
        type=int,
        help=f"parents in the month a rank is read among ({defaults.ranked_parents})",
    )
    parser.add_argument(
        "--feed-events",
        type=int,
        help=f"events fanned out to the partners' endpoints ({defaults.feed_events}; "
        "the full size: 10000)",
    )
    parser.add_argument(
        "--feed-latency-events",
        type=int,
        help=f"events at a steady pace for event -> delivered ({defaults.feed_latency_events})",
    )
    parser.add_argument(
        "--feed-profile",
        action="store_const",
        const=True,
        help="profile the feeds dispatcher (pyinstrument) while it delivers the backlog",
    )
    parser.add_argument(
        "--city-scale",
        type=float,
        help=f"share of the city's people-sized events for --only city ({defaults.city_scale})",
    )
    parser.add_argument(
        "--city-rounds",
        type=int,
        help=f"times each of the 16 users reads the dashboard's set ({defaults.city_rounds})",
    )
    parser.add_argument(
        "--alliance-events",
        type=int,
        help=f"measured events the alliance's ledger catches up on ({defaults.alliance_events})",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args(argv)

    sizes = defaults.quick() if args.quick else defaults
    overrides = {
        name: value for name in asdict(sizes) if (value := getattr(args, name, None)) is not None
    }
    sizes = replace(sizes, **overrides)
    names = [name for name in STEPS if not args.only or name in args.only]

    # SIGTERM unwinds like Ctrl-C, so the servers and processes started here are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING)
    # As in every service process: spans are made (and dropped without an exporter).
    setup_tracing("bench")
    started = datetime.now(UTC)
    clock = time.perf_counter()
    figures, errors, machine = asyncio.run(run(names, sizes))
    by_key = {f.key: f for f in figures}
    targets = [t for target in TARGETS if (t := target.evaluate(by_key)) is not None]
    print()
    print(table(figures, targets))
    for name, error in errors.items():
        print(f"FAILED {name}: {error}")
    print(
        f"\n{machine['cores']} cores, Python {machine['python']}, {machine['nats_server']}, "
        f"PostgreSQL {machine['postgresql']}; {time.perf_counter() - clock:.0f} s in all"
    )
    path = write(
        args.out,
        started=started,
        machine=machine,
        options={"measurements": names, "quick": args.quick, "sizes": asdict(sizes)},
        figures=figures,
        targets=targets,
        errors=errors,
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
