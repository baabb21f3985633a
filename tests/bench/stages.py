"""Where a command's way to the dashboard goes: each sign-up's time at every stage.

The platform's processes note stages when `TONGXIN_STAGE_DIR` is set
(`services/kit/stages.py`); the stream holds each event's own times (`ce-time`, made in
the command, and the stream's timestamp, when JetStream stored it); the bench knows when
it scheduled, got the answer and received the push. All on one machine's wall clock.

Stages in the order an event passes them:
  answered   the API's answer reached the bench
  made       the event was made in the command (`ce-time`)
  committed  the API's save of it returned (its transaction committed)
  read       the relay read it from the outbox
  stored     JetStream stored it (the message's timestamp)
  acked      the relay had its batch acknowledged (and stores its position next)
  delivered  the gateway's projector received it
  applied    the projector committed its batch to the read model
  pushed     the gateway took the shift's row for a `shiftChanged` push
  received   the bench's websocket read the push
`answered` is not on the event's way (the relay may read before the answer arrives); it
is reported beside the others, all as offsets from the scheduled send time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
import orjson
from nats.js.api import AckPolicy, ConsumerConfig

from tests.bench.report import percentiles

STREAM = "VOLUNTEERS"
PROJECTOR = "gateway-volunteers"
SIGNED_UP = "volunteer-signed-up"
WAY = ("made", "committed", "read", "stored", "acked", "delivered", "applied", "pushed", "received")

Key = tuple[str, int]  # (shift id, places filled after the sign-up)


@dataclass
class Command:
    """One sign-up as the bench saw it (wall-clock times)."""

    key: Key
    scheduled: float
    answered: float
    received: float | None


@dataclass
class StreamEvent:
    stream_seq: int
    position: int  # the outbox position (`ce-sequence`)
    made: float
    stored: float


@dataclass
class Stages:
    """Every stage the processes noted: stage -> key -> first time."""

    noted: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))

    @classmethod
    def read(cls, folder: Path) -> Stages:
        stages = cls()
        for path in sorted(folder.glob("*.stages")):
            for line in path.read_text().splitlines():
                parts = line.split(" ")
                if len(parts) != 3:
                    continue  # a line cut short by a stopped process
                stage, key, at = parts
                stages.noted[stage].setdefault(key, float(at))
        return stages


async def read_stream(nats_url: str) -> dict[Key, StreamEvent]:
    """Every sign-up in the volunteers stream, by (shift, places), with its own times."""
    nc = await nats.connect(nats_url)
    found: dict[Key, StreamEvent] = {}
    try:
        js = nc.jetstream(timeout=10.0)
        durable = f"bench-stages-{os.getpid()}"
        sub = await js.pull_subscribe(
            f"{_subject_prefix()}.>",
            durable=durable,
            stream=STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE),
        )
        try:
            while True:
                try:
                    messages = await sub.fetch(500, timeout=2.0)
                except TimeoutError:
                    break
                for msg in messages:
                    headers = msg.headers or {}
                    if not headers.get("ce-type", "").endswith(SIGNED_UP + ".v1"):
                        continue
                    body = orjson.loads(msg.data)
                    tokens = (msg.reply or "").split(".")
                    found[(body["shift_id"], int(body["places_filled"]))] = StreamEvent(
                        stream_seq=int(tokens[5]),
                        position=int(headers["ce-sequence"]),
                        made=datetime.fromisoformat(headers["ce-time"]).timestamp(),
                        stored=int(tokens[7]) / 1e9,
                    )
        finally:
            with contextlib.suppress(Exception):
                await js.delete_consumer(STREAM, durable)
    finally:
        await nc.close()
    return found


def _subject_prefix() -> str:
    from contracts.departments import load_ownership_map

    return load_ownership_map().subject_prefix("volunteers")


def _pushes(noted: dict[str, float]) -> dict[Key, float]:
    """When each (shift, places) was first pushed: a push of n places shows every count up
    to n (a row read after several sign-ups shows them all)."""
    shown: dict[Key, float] = {}
    highest: dict[str, int] = defaultdict(int)
    for key, at in sorted(noted.items(), key=lambda item: item[1]):
        shift_id, _, places = key.rpartition(":")
        for count in range(highest[shift_id] + 1, int(places) + 1):
            shown[(shift_id, count)] = at
        highest[shift_id] = max(highest[shift_id], int(places))
    return shown


def _first_at_or_after(acked: dict[str, float]) -> list[tuple[int, float]]:
    return sorted((int(position), at) for position, at in acked.items())


def stage_table(
    commands: Sequence[Command], stream: dict[Key, StreamEvent], stages: Stages
) -> dict[str, Any]:
    """p50/p99 of each stage's offset from the scheduled time and of each hop, in ms."""
    committed = stages.noted.get("committed", {})
    read = stages.noted.get("relay-read", {})
    acks = _first_at_or_after(stages.noted.get("relay-acked", {}))
    delivered = stages.noted.get(f"delivered:{PROJECTOR}", {})
    applied = stages.noted.get(f"applied:{PROJECTOR}", {})
    pushed = _pushes(stages.noted.get("pushed", {}))
    offsets: dict[str, list[float]] = defaultdict(list)
    hops: dict[str, list[float]] = defaultdict(list)
    complete = 0
    for command in commands:
        event = stream.get(command.key)
        times: dict[str, float | None] = {"answered": command.answered}
        if event is not None:
            position = str(event.position)
            times |= {
                "made": event.made,
                "committed": committed.get(position),
                "read": read.get(position),
                "stored": event.stored,
                "acked": _ack_of(acks, event.position),
                "delivered": delivered.get(str(event.stream_seq)),
                "applied": applied.get(str(event.stream_seq)),
            }
        times["pushed"] = pushed.get(command.key)
        times["received"] = command.received
        for stage, at in times.items():
            if at is not None:
                offsets[stage].append(at - command.scheduled)
        way = [times.get(stage) for stage in WAY]
        if all(at is not None for at in way):
            complete += 1
            hops["scheduled -> made"].append(way[0] - command.scheduled)  # type: ignore[operator]
            # The platform's part after the command: from the commit (the earlier of the
            # API's note and the relay's read: either may be held up by the scheduler) on.
            commit = min(way[1], way[2])  # type: ignore[type-var]
            hops["commit -> received"].append(way[-1] - commit)  # type: ignore[operator]
            passed = list(zip(WAY, way, strict=True))
            for (a, at_a), (b, at_b) in zip(passed, passed[1:], strict=False):
                hops[f"{a} -> {b}"].append(at_b - at_a)  # type: ignore[operator]
    return {
        "commands": len(commands),
        "followed_all_the_way": complete,
        "since_scheduled_ms": {s: _p(v) for s, v in offsets.items()},
        "hops_ms": {h: _p(v) for h, v in hops.items()},
    }


def _ack_of(acks: list[tuple[int, float]], position: int) -> float | None:
    for last, at in acks:  # few batches: a scan is enough
        if last >= position:
            return at
    return None


def _p(values: Iterable[float]) -> dict[str, float]:
    got = percentiles(list(values), 50, 99)
    return {k: round(v * 1000, 1) for k, v in got.items() if not math.isnan(v)}


def print_table(rate: int, table: dict[str, Any]) -> None:
    print(
        f"   stages at {rate}/s ({table['followed_all_the_way']} of {table['commands']} "
        "followed all the way), ms p50 / p99:",
        flush=True,
    )
    for name, figures in table["since_scheduled_ms"].items():
        print(f"     {name:>10} {figures.get('p50', '-'):>8} {figures.get('p99', '-'):>8}")
    for name, figures in table["hops_ms"].items():
        print(f"     {name:>24} {figures.get('p50', '-'):>8} {figures.get('p99', '-'):>8}")


class LoopLag:
    """How late the bench's own event loop runs a 5 ms timer: if it is late, so are the
    sign-ups it sends and the pushes it reads."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return _p(self.lags)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval_s)
            self.lags.append(loop.time() - before - self.interval_s)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
