#!/usr/bin/env python3
"""Container health checks without curl or a shell (the image installs this as
`tongxin-healthcheck`).

    tongxin-healthcheck http [PORT] [PATH]   GET http://127.0.0.1:PORT/PATH answers 2xx
                                             (defaults: $TONGXIN_HTTP_PORT or 8001, /healthz)
    tongxin-healthcheck tcp-peer PORT        this container holds an established TCP
                                             connection to PORT on some host

The relay and the standalone projector serve no HTTP; what says they work is the
connection to nats-server they keep open (the client reconnects for as long as it runs,
so a missing one means NATS or the process is stuck). Exit 0 when healthy, 1 when not.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

ESTABLISHED = "01"
TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def http_ok(port: int, path: str, timeout_s: float = 3.0) -> bool:
    url = f"http://127.0.0.1:{port}/{path.lstrip('/')}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def has_established_peer(port: int, tables: tuple[str, ...] = TCP_TABLES) -> bool:
    """Any socket in this network namespace connected to a remote `port`."""
    wanted = f"{port:04X}"
    for table in tables:
        try:
            with open(table, encoding="ascii") as file:
                rows = file.readlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == ESTABLISHED and fields[2].endswith(":" + wanted):
                return True
    return False


def main(argv: list[str]) -> int:
    if argv[:1] == ["http"]:
        port = int(argv[1]) if len(argv) > 1 else int(os.environ.get("TONGXIN_HTTP_PORT", "8001"))
        path = argv[2] if len(argv) > 2 else "/healthz"
        return 0 if http_ok(port, path) else 1
    if argv[:1] == ["tcp-peer"] and len(argv) == 2:
        return 0 if has_established_peer(int(argv[1])) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
