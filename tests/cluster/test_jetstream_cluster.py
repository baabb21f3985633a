"""A three-node JetStream cluster: the stream leader dies under load, nothing is lost.

The kit's relay publishes a counter app's events into a stream with three replicas
while a durable consumer feeds a projection. The node leading the stream is
SIGKILLed while events keep being written, comes back, and then each other node
in turn. Afterwards the stream holds every event exactly once, in order, and the
projection has applied each one once, up to the store's head.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from contracts import registry
from services.kit.consumer import Consumer
from services.kit.relay import OutboxRelay
from services.kit.settings import Settings
from tests.support.cluster import JetStreamCluster, stream_info, stream_leader
from tests.support.counter import (
    BOUNDARY,
    SERVICE,
    CounterApp,
    CounterIncremented,
    build_counter_app,
    translate,
)
from tests.support.projection import CounterProjection
from tests.support.streams import read_stream, running
from tests.support.waiting import eventually

# The consumer decodes the test-only counter event from before the first event.
pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("counter_event_registered")]

STREAM = "VOLUNTEERS"


@pytest.fixture
def counter_event_registered() -> Iterator[None]:
    """Let the consumer decode the test-only event type for the length of a test."""
    event_type = CounterIncremented.event_type()
    registry.BY_TYPE[event_type] = CounterIncremented
    try:
        yield
    finally:
        registry.BY_TYPE.pop(event_type, None)


@pytest.fixture
def app(settings: Settings) -> Iterator[CounterApp]:
    application = build_counter_app(settings)
    yield application
    application.close()


class Writer:
    """Increments one counter from a thread, as fast as the store takes it, until stopped."""

    def __init__(self, app: CounterApp) -> None:
        self.app = app
        self.counter = app.create("cluster")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.app.increment(self.counter)
            time.sleep(0.002)  # Leaves the two cores some room for the servers.

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0


async def stream_state(urls: str) -> tuple[int, int, int]:
    """(messages, last sequence, replicas) of the stream, read through any live node."""
    info = await stream_info(urls, STREAM)
    return (
        int(info.state.messages or 0),
        int(info.state.last_seq or 0),
        int(info.config.num_replicas or 1),
    )


# A node dying with a batch in flight loses deliveries on the wire; the consumer's check
# of each delivery's sequence keeps its batch acks from covering them (once seen: 3 of
# 5,927 events missing from the projection, the stream itself whole).
async def test_every_node_killed_in_turn_under_load_loses_and_duplicates_nothing(
    cluster: JetStreamCluster, settings: Settings, app: CounterApp, tmp_path: Path
) -> None:
    """The stream leader dies first, then each other node, one at a time.

    Killing every node in turn also kills the server the relay and the consumer are
    connected to, whichever it is: both must reconnect and carry on (nats.py#504).
    """
    relay = OutboxRelay(
        app, service=SERVICE, boundary=BOUNDARY, translate=translate, settings=settings
    )
    projection = CounterProjection(tmp_path / "projection.sqlite3")
    consumer = Consumer(
        name="cluster-projection", boundary=BOUNDARY, projection=projection, settings=settings
    )
    writer = Writer(app)
    writer.thread.start()
    failovers: list[str] = []
    try:
        async with running(relay.run), running(consumer.run):

            async def published(at_least: int) -> bool:
                try:
                    return (await stream_state(cluster.urls))[0] >= at_least
                except Exception:
                    return False

            async def projected(beyond: int) -> bool:
                return await asyncio.to_thread(projection.position, consumer.name) > beyond

            await eventually(lambda: published(200), timeout=60, interval=0.1)
            assert (await stream_state(cluster.urls))[2] == 3

            first = await stream_leader(cluster.urls, STREAM)
            victims = [first] + [n.name for n in cluster.nodes if n.name != first]
            for victim in victims:
                await eventually(lambda: cluster.settled([STREAM]), timeout=90, interval=0.2)
                leader = await stream_leader(cluster.urls, STREAM)
                messages = (await stream_state(cluster.urls))[0]
                position = await asyncio.to_thread(projection.position, consumer.name)
                killed_at = time.monotonic()
                cluster.node(victim).kill()

                async def led_by_survivor(victim: str = victim) -> str | None:
                    try:
                        name = await stream_leader(cluster.urls, STREAM)
                    except Exception:
                        return None
                    return name if name != victim else None

                elected = await eventually(led_by_survivor, timeout=60, interval=0.1)
                leader_s = time.monotonic() - killed_at
                # Publishing and consuming go on through the two remaining nodes.
                await eventually(functools.partial(published, messages + 150), timeout=60)
                await eventually(functools.partial(projected, position + 150), timeout=60)
                failovers.append(
                    f"{victim}{' (leader)' if victim == leader else ''} killed: leader {elected} "
                    f"after {leader_s:.2f}s, publishing and projecting again after "
                    f"{time.monotonic() - killed_at:.2f}s"
                )
                cluster.node(victim).start()
                await cluster.wait_ready()

            writer.stop.set()
            await asyncio.to_thread(writer.thread.join, 10)
            head = writer.head()

            async def relayed_and_projected() -> bool:
                messages, last_seq, _ = await stream_state(cluster.urls)
                position = await asyncio.to_thread(projection.position, consumer.name)
                return messages >= head and position >= last_seq

            await eventually(relayed_and_projected, timeout=120, interval=0.2)
    finally:
        writer.stop.set()
    resumed = REGISTRY.get_sample_value(
        "tongxin_consumer_resumed_total", {"consumer": consumer.name}
    )
    print("\n".join(["", *failovers, f"{head} events, {resumed or 0:.0f} resumptions"]))

    stored = await read_stream(cluster.nodes[0].url, STREAM)
    positions = [int(m.headers["ce-sequence"]) for m in stored]
    assert positions == list(range(1, head + 1)), "lost, duplicated or out of order"
    assert [m.seq for m in stored] == list(range(1, head + 1))

    rows = projection.rows()
    assert [row[0] for row in rows] == list(range(1, head + 1)), "projection lost or repeated"
    assert len({row[1] for row in rows}) == head
    assert [row[3] for row in rows] == list(range(1, head + 1))  # the counter's versions
