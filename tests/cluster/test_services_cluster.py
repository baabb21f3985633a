"""Two services and the gateway on a three-node JetStream cluster: nodes die, nothing is lost.

The volunteers and committees services are built as their relay processes build them
(`ServiceParts`: the application, the published form written at save, the relay), and
the gateway's volunteers and committees read models project their streams, each stream
kept on three nodes. Commands are made from two threads while the node leading the
volunteers stream is killed, comes back, and then the node leading the committees stream
(another one if the same node led both). Afterwards each stream holds its store's events
exactly once and in order, each projector has reached its stream's end, and each read
model holds every volunteer registered and every suggestion submitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from gateway.committees.readmodel import CommitteesReadModel
from gateway.features import LiveFeature, build_features, open_feature
from gateway.volunteers.readmodel import VolunteersReadModel
from services.committees.application import CommitteesApplication
from services.committees.main import COMMITTEES
from services.kit.bus import stream_name
from services.kit.runtime import ServiceParts
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from services.volunteers.main import VOLUNTEERS
from tests.support.cluster import JetStreamCluster, stream_info, stream_leader
from tests.support.streams import read_stream, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(420)

SERVICES = (VOLUNTEERS, COMMITTEES)
STREAMS = {service.name: stream_name(service.boundary) for service in SERVICES}


@pytest.fixture
def parts(settings: Settings) -> Iterator[dict[str, ServiceParts]]:
    built: dict[str, ServiceParts] = {}
    try:
        for service in SERVICES:
            built[service.name] = ServiceParts(service, settings, with_relay=True)
        yield built
    finally:
        for part in built.values():
            part.close()


@pytest.fixture
def features(settings: Settings) -> Iterator[dict[str, LiveFeature]]:
    live = build_features(settings, only=tuple(service.name for service in SERVICES))
    for feature in live.values():
        open_feature(feature)
    try:
        yield live
    finally:
        for feature in live.values():
            feature.readmodel.close()


class Writer:
    """Makes one kind of command from a thread, as fast as the store takes it, until stopped;
    keeps the id each command answered with."""

    def __init__(self, command: Callable[[int], str]) -> None:
        self.command = command
        self.made: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.made.append(self.command(len(self.made)))
            time.sleep(0.005)  # Leaves the two cores some room for the servers.


def volunteers_writer(app: VolunteersApplication) -> Writer:
    def register(n: int) -> str:
        answer = app.register_volunteer(
            None, display_name=f"Volunteer {n}", kind="parent", school_id=f"s{n % 7}"
        )
        return str(answer["volunteer_id"])

    return Writer(register)


def committees_writer(app: CommitteesApplication) -> Writer:
    committee = UUID(
        app.form_committee(
            None,
            level="school",
            scope_id="s1",
            district="321002",
            title="Parents' committee",
            term_ends_on=date(2099, 7, 31),
        )["committee_id"]
    )

    def submit(n: int) -> str:
        answer = app.submit_suggestion(
            None,
            committee_id=committee,
            member_id=None,
            anonymous=True,
            topic="safety",
            text=f"Suggestion {n}",
            department=None,
            received_on=None,
        )
        return str(answer["suggestion_id"])

    return Writer(submit)


async def last_seq(urls: str, stream: str) -> int | None:
    try:
        return int((await stream_info(urls, stream)).state.last_seq or 0)
    except Exception:
        return None


@contextlib.asynccontextmanager
async def all_running(workers: list[Callable[[asyncio.Event], Any]]) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for work in workers:
            await stack.enter_async_context(running(work))
        yield


async def test_two_services_relays_and_the_gateways_projectors_lose_nothing_when_nodes_die(
    cluster: JetStreamCluster,
    parts: dict[str, ServiceParts],
    features: dict[str, LiveFeature],
) -> None:
    volunteers = parts["volunteers"].application
    committees = parts["committees"].application
    assert isinstance(volunteers, VolunteersApplication)
    assert isinstance(committees, CommitteesApplication)
    writers = {
        "volunteers": volunteers_writer(volunteers),
        "committees": committees_writer(committees),
    }
    relays = [part.relay for part in parts.values() if part.relay is not None]
    projectors = [p for feature in features.values() for p in feature.projectors]
    assert len(relays) == 2 and len(projectors) == 2

    def projected(service: str) -> int:
        return sum(p.position for p in features[service].projectors)

    async def moved_on(service: str, published: int, applied: int) -> bool:
        now = await last_seq(cluster.urls, STREAMS[service])
        return now is not None and now >= published + 50 and projected(service) >= applied + 50

    for writer in writers.values():
        writer.thread.start()
    failovers: list[str] = []
    try:
        async with all_running([*(r.run for r in relays), *(p.run for p in projectors)]):
            for service in writers:
                await eventually(
                    functools.partial(moved_on, service, 0, 0), timeout=90, interval=0.1
                )
            killed: set[str] = set()
            for service in ("volunteers", "committees"):
                await eventually(
                    functools.partial(cluster.settled, list(STREAMS.values())),
                    timeout=90,
                    interval=0.2,
                )
                leader = await stream_leader(cluster.urls, STREAMS[service])
                victim = (
                    leader
                    if leader not in killed
                    else next(n.name for n in cluster.nodes if n.name not in killed)
                )
                killed.add(victim)
                before = {
                    s: ((await last_seq(cluster.urls, STREAMS[s])) or 0, projected(s))
                    for s in writers
                }
                killed_at = time.monotonic()
                cluster.node(victim).kill()
                # Both services publish and both read models apply again through the two
                # remaining nodes, whichever streams the dead node led.
                for s, (published, applied) in before.items():
                    await eventually(
                        functools.partial(moved_on, s, published, applied),
                        timeout=90,
                        interval=0.1,
                    )
                failovers.append(
                    f"{victim} (leading {STREAMS[service]}) killed: both services published "
                    f"and projected again after {time.monotonic() - killed_at:.2f}s"
                )
                cluster.node(victim).start()
                await cluster.wait_ready()

            for writer in writers.values():
                writer.stop.set()
                await asyncio.to_thread(writer.thread.join, 10)
            heads = {
                "volunteers": volunteers.recorder.max_notification_id() or 0,
                "committees": committees.recorder.max_notification_id() or 0,
            }

            async def caught_up() -> bool:
                for service, head in heads.items():
                    seq = await last_seq(cluster.urls, STREAMS[service])
                    if seq is None or seq < head or projected(service) < seq:
                        return False
                return True

            await eventually(caught_up, timeout=120, interval=0.2)
    finally:
        for writer in writers.values():
            writer.stop.set()
    print("\n".join(["", *failovers, f"events: {heads}"]))

    for service, head in heads.items():
        stored = await read_stream(cluster.nodes[0].url, STREAMS[service])
        assert [int(m.headers["ce-sequence"]) for m in stored] == list(range(1, head + 1)), (
            f"{service}: lost, duplicated or out of order"
        )
        assert [m.seq for m in stored] == list(range(1, head + 1))

    volunteers_model = features["volunteers"].readmodel
    committees_model = features["committees"].readmodel
    assert isinstance(volunteers_model, VolunteersReadModel)
    assert isinstance(committees_model, CommitteesReadModel)
    registered = writers["volunteers"].made
    assert len(registered) > 100
    assert set(volunteers_model.volunteers_by_id(registered)) == set(registered)
    submitted = writers["committees"].made
    assert len(submitted) > 100
    assert all(committees_model.suggestion(s) is not None for s in submitted)
