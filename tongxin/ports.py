"""Ports of the embedded default: read from the environment, checked free before starting."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from typing import ClassVar

HOST = "127.0.0.1"


class PortError(Exception):
    """A port is taken or badly configured; the message says which variable to change."""


@dataclass(frozen=True)
class Ports:
    gateway: int = 8000
    volunteers: int = 8001
    ingest: int = 8002
    nats: int = 4222

    ENV: ClassVar[dict[str, str]] = {
        "gateway": "TONGXIN_GATEWAY_PORT",
        "volunteers": "TONGXIN_VOLUNTEERS_PORT",
        "ingest": "TONGXIN_INGEST_PORT",
        "nats": "TONGXIN_NATS_PORT",
    }

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Ports:
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, int] = {}
        for field, variable in cls.ENV.items():
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            try:
                port = int(raw)
            except ValueError:
                raise PortError(f"{variable}={raw!r} is not a port number") from None
            if not 1 <= port <= 65535:
                raise PortError(f"{variable}={port} is not between 1 and 65535")
            values[field] = port
        ports = cls(**values)
        seen: dict[int, str] = {}
        for field, variable in cls.ENV.items():
            port = getattr(ports, field)
            if port in seen:
                raise PortError(f"{variable} and {seen[port]} are both {port}: give each its own")
            seen[port] = variable
        return ports

    def items(self) -> list[tuple[str, int, str]]:
        """(name, port, environment variable) for every port."""
        return [(field, getattr(self, field), var) for field, var in self.ENV.items()]


def is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on host:port (a socket can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like uvicorn and nats-server: a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def taken_message(name: str, port: int, variable: str, host: str = HOST) -> str:
    return (
        f"Port {port} on {host} ({name}) is already in use. Stop whatever is listening there "
        f"(perhaps another `tongxin run`), or choose another port with the environment "
        f"variable {variable}, e.g. `{variable}={port + 100} make run`."
    )


def check_free(ports: Ports, host: str = HOST) -> list[str]:
    """One message per taken port; empty when every port is free."""
    return [
        taken_message(name, port, variable, host)
        for name, port, variable in ports.items()
        if not is_free(port, host)
    ]


def require_free(ports: Ports, host: str = HOST) -> None:
    """Print a clear message naming the variable to change and exit 3 if a port is taken."""
    problems = check_free(ports, host)
    if problems:
        for message in problems:
            print(f"tongxin: {message}", file=sys.stderr)
        raise SystemExit(3)


def free_port(host: str = HOST) -> int:
    """A port the kernel says is free now (for tests and tools)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
