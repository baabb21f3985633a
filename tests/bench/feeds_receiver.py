"""A partner's receiver for the feeds bench: answers 204 at once and notes each arrival.

`python -m tests.bench.feeds_receiver PORT`. Deliveries (`POST /hook/<endpoint>`) are
noted by endpoint and `webhook-id` (`"<endpoint> <id>"`) with their arrival time (the first
arrival of each); raw posts (`POST /raw`) only counted. `GET /count` answers how many
arrived; `GET /arrivals` answers both, and the bench reads it when it is done.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import uvicorn

arrivals: dict[str, float] = {}
counts = {"hook": 0, "raw": 0}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    path = scope["path"]
    body = b""
    if path.startswith("/hook/"):
        counts["hook"] += 1
        for name, value in scope["headers"]:
            if name == b"webhook-id":
                arrivals.setdefault(f"{path[6:]} {value.decode()}", time.time())
    elif path == "/raw":
        counts["raw"] += 1
    elif path == "/arrivals":
        body = json.dumps({"counts": counts, "arrivals": arrivals}).encode()
    elif path == "/count":
        # What the bench polls while waiting: small, whatever the number of arrivals.
        body = json.dumps({"arrived": len(arrivals)}).encode()
    status = 200 if body else 204
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        # Senders keep their connections: none is closed under them between two posts.
        timeout_keep_alive=120,
    )
