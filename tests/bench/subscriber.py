"""The visibility bench's `shiftChanged` subscriber, in a process of its own.

The load generator's event loop sends hundreds of sign-ups a second; a push read on the
same loop waits behind them, and that wait is the bench's, not the platform's. Here the
pushes are read on a loop that does nothing else, and each is written at once, with the
wall-clock time it arrived, as a line `<shift id> <places filled> <unix time>` to the
file named by the second argument (the first is the gateway's URL; the token comes in
`BENCH_TOKEN`), after a first line `subscribed` once the subscription is asked for.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import orjson
import websockets

SUBSCRIPTION = "subscription { shiftChanged { id placesFilled } }"


async def follow(gateway_url: str, token: str, out: Path) -> None:
    """Follow shiftChanged over graphql-transport-ws until the process is stopped."""
    url = gateway_url.replace("http://", "ws://") + "/graphql"
    with out.open("ab", buffering=0) as seen:
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            await ws.send(orjson.dumps(init).decode())
            ack = orjson.loads(await ws.recv())
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"subscription refused: {ack}")
            message = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
            await ws.send(orjson.dumps(message).decode())
            seen.write(b"subscribed\n")
            async for raw in ws:
                now = time.time()
                frame = orjson.loads(raw)
                if frame.get("type") == "ping":
                    await ws.send(orjson.dumps({"type": "pong"}).decode())
                elif frame.get("type") == "next":
                    shift = frame["payload"]["data"]["shiftChanged"]
                    seen.write(f"{shift['id']} {int(shift['placesFilled'])} {now:.6f}\n".encode())
                elif frame.get("type") in ("error", "complete"):
                    raise RuntimeError(f"subscription ended: {frame}")


if __name__ == "__main__":
    asyncio.run(follow(sys.argv[1], os.environ["BENCH_TOKEN"], Path(sys.argv[2])))
