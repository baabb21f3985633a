"""Relay publish rate next to raw nats-py `publish_async`, measured in the same run.

`python -m tests.bench.relay [--events N]` (or `make bench`) starts its own
nats-server on a free port, measures both, prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from nats.js.api import StreamConfig

from services.kit.eventstore import build_application
from services.kit.relay import OutboxRelay
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from services.volunteers.domain import Volunteer
from services.volunteers.integration import translate
from tests.support.nats import NatsServer


async def raw_publish_async(url: str, events: int, payload: bytes) -> float:
    """Events per second of nats-py publish_async with Nats-Msg-Id, acks awaited per batch."""
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=10)
    await js.add_stream(StreamConfig(name="RAW", subjects=["raw.>"]))
    started = time.perf_counter()
    batch = 500
    for offset in range(0, events, batch):
        futures = [
            await js.publish_async(
                "raw.bench", payload, headers={"Nats-Msg-Id": f"raw-{offset + i}"}
            )
            for i in range(min(batch, events - offset))
        ]
        await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    await nc.close()
    return events / elapsed


def fill_log(app: VolunteersApplication, events: int) -> None:
    now = datetime.now(UTC)
    for offset in range(0, events, 1000):
        app.save(
            *[
                Volunteer(
                    display_name=f"Volunteer {offset + i}",
                    kind="youth",
                    school_id="s1",
                    registered_at=now,
                )
                for i in range(min(1000, events - offset))
            ]
        )


async def relay_rate(settings: Settings, app: VolunteersApplication, events: int) -> float:
    relay = OutboxRelay(
        app, service="volunteers", boundary="volunteers", translate=translate, settings=settings
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(relay.run(stop))
    while relay.position < events:  # noqa: ASYNC110 - polling the relay's own counter
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return events / elapsed


async def measure(events: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="tongxin-bench-") as tmp,
        NatsServer(Path(tmp) / "nats") as server,
    ):
        settings = Settings(state_dir=Path(tmp) / "state", nats_urls=server.url, relay_batch=1000)
        app = build_application(VolunteersApplication, settings, "volunteers")
        fill_log(app, events)
        sample = app.mapper.to_domain_event(app.recorder.select_notifications(1, 1)[0])
        contract = translate(sample)
        assert contract is not None
        payload = contract.model_dump_json().encode()
        raw = await raw_publish_async(server.url, events, payload)
        relay = await relay_rate(settings, app, events)
        app.close()
    return {
        "date": datetime.now(UTC).isoformat(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "events": events,
        "raw_publish_async_per_s": round(raw),
        "relay_per_s": round(relay),
        "ratio": round(relay / raw, 3),
    }


def main(events: int, out_dir: Path) -> None:
    results = asyncio.run(measure(events))
    raw, relay = results["raw_publish_async_per_s"], results["relay_per_s"]
    print(f"{'path':<34}{'events/s':>12}")
    print(f"{'raw nats-py publish_async':<34}{raw:>12,}")
    print(f"{'relay (SQLite log -> JetStream)':<34}{relay:>12,}")
    print(f"{'ratio relay / raw':<34}{results['ratio']:>12.2f}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"relay-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    main(args.events, args.out)
