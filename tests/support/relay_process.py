"""Run the counter app's outbox relay in its own process until killed.

    python -m tests.support.relay_process <sqlite state dir> <nats url> [relay batch]

Used to SIGKILL a relay mid-stream. Prints "relay-started" once running.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from services.kit.relay import OutboxRelay
from services.kit.settings import Settings
from tests.support.counter import BOUNDARY, SERVICE, build_counter_app, translate


async def main(state_dir: Path, nats_url: str, batch: int) -> None:
    settings = Settings(
        state_dir=state_dir, nats_urls=nats_url, relay_batch=batch, relay_idle_s=0.01
    )
    app = build_counter_app(settings)
    relay = OutboxRelay(
        app, service=SERVICE, boundary=BOUNDARY, translate=translate, settings=settings
    )
    stop = asyncio.Event()
    print("relay-started", flush=True)
    await relay.run(stop)


if __name__ == "__main__":
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], batch))
