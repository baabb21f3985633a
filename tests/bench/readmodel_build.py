"""Each gateway read model built straight from the Yangzhou city's events, without the bus.

The events are the ones `make bench ARGS="--only city"` publishes (`tests/bench/yangzhou.py`),
applied to a fresh read model file in the consumers' batches, as a projector would after
decoding them: the read models' own work per event, apart from the bus and the decoding.

    .venv/bin/python -m tests.bench.readmodel_build --scale 0.03 [--profile resources]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from contracts.events import ContractEvent
from gateway.features import load_feature
from services.kit.consumer import Delivered
from services.kit.relay import message_id, source_of
from services.kit.wire import envelope_for
from tests.bench.yangzhou import BOUNDARIES, CityPlan

BATCH = 500  # the consumers' default batch (`Settings.consumer_batch`)


def delivered(boundary: str, events: Iterable[ContractEvent]) -> list[Delivered]:
    return [
        Delivered(
            position,
            envelope_for(
                event,
                id=message_id(boundary, position),
                source=source_of(boundary),
                subject=None,
                sequence=position,
            ),
        )
        for position, event in enumerate(events, start=1)
    ]


def build(boundary: str, stream: list[Delivered], folder: Path) -> tuple[float, float]:
    """Wall and CPU seconds to apply the whole stream to a fresh read model."""
    readmodel = load_feature(boundary).readmodel(folder / f"gateway-{boundary}.sqlite3")
    readmodel.open()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(stream), BATCH):
            readmodel.apply(f"gateway-{boundary}", stream[start : start + BATCH])
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        readmodel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.03)
    parser.add_argument("--only", nargs="*", default=sorted(BOUNDARIES))
    parser.add_argument("--profile", help="a boundary whose build is profiled (CPU)")
    args = parser.parse_args()
    plan = CityPlan(args.scale)
    with tempfile.TemporaryDirectory(prefix="readmodel-build-") as tmp:
        for boundary in args.only:
            cpu = time.process_time()
            stream = delivered(boundary, BOUNDARIES[boundary](plan, random.Random(17)))
            made = time.process_time() - cpu
            folder = Path(tmp) / boundary
            if boundary == args.profile:
                profiler = cProfile.Profile(time.process_time)
                profiler.enable()
            wall, cpu = build(boundary, stream, folder)
            if boundary == args.profile:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
            count = len(stream)
            print(
                f"{boundary:11} {count:8,} events  build cpu {cpu:7.2f} s "
                f"({cpu / count * 1e3:.3f} ms/event, {count / cpu:8,.0f} events/cpu-s), "
                f"wall {wall:7.2f} s; events made in {made:.2f} cpu-s"
            )


if __name__ == "__main__":
    main()
