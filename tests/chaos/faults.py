"""The fault schedule: which process to SIGKILL when, and how long it stays down.

Each target has its own schedule, drawn from the seed and the target's name alone,
so a run is replayed with the same `--seed`: a random gap, a SIGKILL, a random
down time, a restart (waiting until healthy), and again. The targets' schedules
run side by side, so faults overlap (the API may die while NATS is away).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from tests.chaos.processes import Killable


@dataclass(frozen=True)
class Fault:
    target: str
    number: int  # the target's n-th fault
    gap_s: float  # after the target's previous restart
    down_s: float


@dataclass
class Executed:
    fault: Fault
    killed_at: float  # seconds since the run's start
    restarted_at: float
    restart_s: float  # how long the restarted process took to be healthy


def schedule(
    seed: int, target: str, gap_s: tuple[float, float], down_s: tuple[float, float]
) -> Iterator[Fault]:
    rng = random.Random(f"{seed}-faults-{target}")
    number = 0
    while True:
        number += 1
        yield Fault(target, number, rng.uniform(*gap_s), rng.uniform(*down_s))


async def inject(
    schedules: Mapping[str, Iterator[Fault]],
    targets: Mapping[str, Killable],
    *,
    until: asyncio.Event,
    min_faults: int,
    started: float,
    report: Callable[[Executed], None],
) -> list[Executed]:
    """Run every target's schedule until `until` is set and each had `min_faults` faults."""
    executed: list[Executed] = []

    async def one_target(name: str) -> None:
        for fault in schedules[name]:
            count = fault.number - 1  # faults this target has had
            if until.is_set() and count >= min_faults:
                return
            if not until.is_set():
                try:
                    await asyncio.wait_for(until.wait(), fault.gap_s)
                except TimeoutError:
                    pass
                else:
                    if count >= min_faults:
                        return
            target = targets[name]
            killed_at = time.monotonic() - started
            target.kill()
            await asyncio.sleep(fault.down_s)
            restart_s = await target.start()
            done = Executed(fault, killed_at, time.monotonic() - started, restart_s)
            executed.append(done)
            report(done)

    await asyncio.gather(*(one_target(name) for name in targets))
    return sorted(executed, key=lambda e: e.killed_at)
