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

Each sign-up carries a trace id of its own (`traceparent`), under which the API notes the
request's way through it:
  sent       the bench wrote the request (its loop may run late: scheduled -> sent)
  request    the API's server handed the request to the app
  handler    the command's handler ran (in a worker thread, after the dependencies)
  made       the event was made (as above)
  saving     the command's events went to the store (queued for a group commit)
  saved      the save returned
  response   the API started its answer
  answered   the answer reached the bench
And what holds a whole process up: its oldest-generation garbage collections and the
times its event loop ran late (`services/kit/stages.py`, `watch_pauses`), summed per
process over the rate's run, and matched with the slowest sign-ups in the API process
that served them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import time
from collections import Counter, defaultdict
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
REQUEST_WAY = ("sent", "request", "handler", "made", "saving", "saved", "response", "answered")
PAUSES = ("gc2", "gc1", "gc0", "loop-late")
# The slowest sign-ups (scheduled -> made) whose way through the API is told one by one.
SLOWEST_SHARE = 0.01
# and the pauses told beside each: of the process that served it or of the bench.
SLOWEST_PAUSE_MS = 20.0

Key = tuple[str, int]  # (shift id, places filled after the sign-up)


@dataclass
class Command:
    """One sign-up as the bench saw it (wall-clock times)."""

    key: Key
    scheduled: float
    answered: float
    received: float | None
    trace_id: str = ""
    sent: float | None = None
    process: str = ""  # the API process that served it


@dataclass(frozen=True)
class Pause:
    """A time a whole process was held up: a garbage collection or its loop running late."""

    pid: int
    kind: str  # gc0, gc1, gc2, loop-late
    ended: float
    ms: float
    cpu_ms: float | None = None  # a collection's CPU in the collecting thread
    left: int | None = None  # a full collection: the objects it left (went through)
    frozen: int | None = None  # and those it skipped (`gc.freeze`)

    @property
    def started(self) -> float:
        return self.ended - self.ms / 1000


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
    pauses: list[Pause] = field(default_factory=list)
    # Where a process's loop thread was when its loop stalled: (pid, frames, when).
    stuck: list[tuple[int, str, float]] = field(default_factory=list)

    @classmethod
    def read(cls, folder: Path) -> Stages:
        stages = cls()
        for path in sorted(folder.glob("*.stages")):
            pid = int(path.stem)
            for line in path.read_text().splitlines():
                parts = line.split(" ")
                if len(parts) != 3:
                    continue  # a line cut short by a stopped process
                stage, key, at = parts
                if stage == "loop-stuck":
                    stages.stuck.append((pid, key, float(at)))
                elif stage in PAUSES:
                    figures = key.split(":")
                    cpu = float(figures[1]) if len(figures) > 1 else None
                    left = tuple(int(f) for f in figures[3:5])
                    stages.pauses.append(
                        Pause(pid, stage, float(at), float(figures[0]), cpu, *left)
                    )
                else:
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
    commands: Sequence[Command],
    stream: dict[Key, StreamEvent],
    stages: Stages,
    pids: dict[str, int] | None = None,
) -> dict[str, Any]:
    """p50/p99 of each stage's offset from the scheduled time and of each hop, in ms; the
    request's hops through the API; the pauses of each process (`pids`: name -> pid)."""
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
    ways = _request_ways(commands, stream, stages)
    request_hops: dict[str, list[float]] = defaultdict(list)
    for through in ways.values():
        steps = list(through.items())
        for (a, at_a), (b, at_b) in zip(steps, steps[1:], strict=False):
            request_hops[f"{a} -> {b}"].append(at_b - at_a)
    pids = pids or {}
    return {
        "commands": len(commands),
        "followed_all_the_way": complete,
        "since_scheduled_ms": {s: _p(v) for s, v in offsets.items()},
        "hops_ms": {h: _p(v) for h, v in hops.items()},
        "through_the_api": len(ways),
        "request_hops_ms": {h: _p(v) for h, v in request_hops.items()},
        "pauses": _pause_summary(commands, stages.pauses, pids),
        "loop_stuck_in": _stuck_summary(commands, stages.stuck, pids),
        "slowest": _slowest(commands, ways, stages.pauses, pids),
    }


def _request_ways(
    commands: Sequence[Command], stream: dict[Key, StreamEvent], stages: Stages
) -> dict[int, dict[str, float]]:
    """Each command's times on its way through the API, from its scheduled time (only the
    commands followed at every stage of `REQUEST_WAY`), by the command's index."""
    ways: dict[int, dict[str, float]] = {}
    for n, command in enumerate(commands):
        event = stream.get(command.key)
        noted = {
            "sent": command.sent,
            "request": stages.noted.get("request", {}).get(command.trace_id),
            "handler": stages.noted.get("handler", {}).get(command.trace_id),
            "made": event.made if event is not None else None,
            "saving": stages.noted.get("saving", {}).get(command.trace_id),
            "saved": stages.noted.get("saved", {}).get(command.trace_id),
            "response": stages.noted.get("response", {}).get(command.trace_id),
            "answered": command.answered,
        }
        known = {stage: at for stage, at in noted.items() if at is not None}
        if len(known) == len(noted):
            ways[n] = {"scheduled": command.scheduled} | known
    return ways


def _pause_summary(
    commands: Sequence[Command], pauses: Sequence[Pause], pids: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """Per process and kind, over the run's time: how many, their sum and the longest (ms)."""
    if not commands:
        return {}
    begin = min(c.scheduled for c in commands)
    end = max(c.received or c.answered for c in commands)
    names = {pid: name for name, pid in pids.items()}
    summary: dict[str, dict[str, Any]] = {}
    for pause in pauses:
        if not begin <= pause.ended <= end:
            continue
        name = f"{names.get(pause.pid, pause.pid)} {pause.kind}"
        entry = summary.setdefault(name, {"count": 0, "sum_ms": 0.0, "max_ms": 0.0})
        entry["count"] += 1
        entry["sum_ms"] = round(entry["sum_ms"] + pause.ms, 1)
        entry["max_ms"] = round(max(entry["max_ms"], pause.ms), 1)
        if pause.cpu_ms is not None:
            entry["cpu_ms"] = round(entry.get("cpu_ms", 0.0) + pause.cpu_ms, 1)
        if pause.left is not None:
            entry["objects_left_max"] = max(entry.get("objects_left_max", 0), pause.left)
            entry["frozen"] = pause.frozen
    return dict(sorted(summary.items()))


def _stuck_summary(
    commands: Sequence[Command], stuck: Sequence[tuple[int, str, float]], pids: dict[str, int]
) -> dict[str, dict[str, int]]:
    """Per process, over the run's time: where its loop's thread was when the loop stalled,
    the most frequent places first."""
    if not commands:
        return {}
    begin = min(c.scheduled for c in commands)
    end = max(c.received or c.answered for c in commands)
    names = {pid: name for name, pid in pids.items()}
    places: dict[str, Counter[str]] = defaultdict(Counter)
    for pid, where, at in stuck:
        if begin <= at <= end:
            places[str(names.get(pid, pid))][where] += 1
    return {name: dict(counted.most_common(5)) for name, counted in sorted(places.items())}


def _slowest(
    commands: Sequence[Command],
    ways: dict[int, dict[str, float]],
    pauses: Sequence[Pause],
    pids: dict[str, int],
) -> list[dict[str, Any]]:
    """The slowest sign-ups to be made (`SLOWEST_SHARE` of them): each one's hops through
    the API and the pauses of the process that served it (and the bench's) meanwhile."""
    ranked = sorted(ways, key=lambda n: ways[n]["made"] - ways[n]["scheduled"], reverse=True)
    chosen = ranked[: max(1, math.ceil(len(ranked) * SLOWEST_SHARE))] if ranked else []
    begin = min((c.scheduled for c in commands), default=0.0)
    slowest = []
    for n in chosen:
        way = ways[n]
        passed = list(way.items())
        pid = pids.get(commands[n].process)
        own = pids.get("bench")
        during = [
            f"{p.kind} {p.ms:.0f} ms"
            for p in pauses
            if p.pid in (pid, own)
            and p.ms >= SLOWEST_PAUSE_MS
            and p.ended >= way["scheduled"]
            and p.started <= way["saved"]
        ]
        slowest.append(
            {
                "at_s": round(way["scheduled"] - begin, 3),
                "process": commands[n].process,
                "hops_ms": {
                    f"{a} -> {b}": round((at_b - at_a) * 1000, 1)
                    for (a, at_a), (b, at_b) in zip(passed, passed[1:], strict=False)
                },
                "pauses": during,
            }
        )
    return slowest


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
    print(f"   through the API ({table['through_the_api']} followed), ms p50 / p99:")
    for name, figures in table["request_hops_ms"].items():
        print(f"     {name:>24} {figures.get('p50', '-'):>8} {figures.get('p99', '-'):>8}")
    print("   pauses per process (count, sum ms, longest ms):")
    for name, entry in table["pauses"].items():
        print(f"     {name:>28} {entry['count']:>6} {entry['sum_ms']:>9} {entry['max_ms']:>8}")
    print("   where a stalled loop's thread was (innermost frame first):")
    for name, places in table["loop_stuck_in"].items():
        for where, count in places.items():
            print(f"     {name:>18} {count:>4} {where}")
    print("   the slowest to be made (s into the run, process, hops ms, pauses meanwhile):")
    for command in table["slowest"][:10]:
        hops = " ".join(f"{v:.0f}" for v in command["hops_ms"].values())
        print(f"     {command['at_s']:>7} {command['process']} [{hops}] {command['pauses']}")


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


class OwnCollections:
    """The bench's own garbage collections while entered (its gc0/gc1 from 2 ms, every gc2),
    as pauses of the bench's process: a collection holds the sends scheduled meanwhile."""

    def __init__(self) -> None:
        self.pauses: list[Pause] = []
        self._started = 0.0
        self._cpu = 0.0

    def __enter__(self) -> OwnCollections:
        gc.callbacks.append(self._note)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started, self._cpu = time.perf_counter(), time.thread_time()
            return
        took = time.perf_counter() - self._started
        if info["generation"] == 2 or took >= 0.002:
            cpu = (time.thread_time() - self._cpu) * 1000
            pause = Pause(os.getpid(), f"gc{info['generation']}", time.time(), took * 1000, cpu)
            self.pauses.append(pause)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
