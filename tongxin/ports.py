"""Ports of the embedded default: one per process of the platform manifest plus NATS.

Each process's port comes from its variable (`Process.port_env`, e.g.
TONGXIN_VOLUNTEERS_PORT), else from the manifest; every port is checked free before starting.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from contracts.platform import Platform, load_platform

HOST = "127.0.0.1"
NATS = "nats"
NATS_ENV = "TONGXIN_NATS_PORT"
NATS_DEFAULT = 4222


class PortError(Exception):
    """A port is taken or badly configured; the message says which variable to change."""


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    variable: str


@dataclass(frozen=True)
class Ports:
    """Every port of the embedded default, in manifest order with NATS last."""

    entries: tuple[Port, ...]

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, platform: Platform | None = None
    ) -> Ports:
        environ = dict(os.environ if environ is None else environ)
        platform = platform or load_platform()
        defaults = [(p.name, p.port, p.port_env) for p in platform.processes]
        defaults.append((NATS, NATS_DEFAULT, NATS_ENV))
        entries = tuple(
            Port(name, _read(environ, variable, default), variable)
            for name, default, variable in defaults
        )
        seen: dict[int, str] = {}
        for entry in entries:
            if entry.port in seen:
                raise PortError(
                    f"{entry.variable} and {seen[entry.port]} are both {entry.port}: "
                    "give each its own"
                )
            seen[entry.port] = entry.variable
        return cls(entries)

    def of(self, name: str) -> int:
        for entry in self.entries:
            if entry.name == name:
                return entry.port
        raise LookupError(f"no port for {name!r}")

    @property
    def nats(self) -> int:
        return self.of(NATS)

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.of(name)}"

    def items(self) -> list[tuple[str, int, str]]:
        """(name, port, environment variable) for every port."""
        return [(e.name, e.port, e.variable) for e in self.entries]


def _read(environ: Mapping[str, str], variable: str, default: int) -> int:
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise PortError(f"{variable}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise PortError(f"{variable}={port} is not between 1 and 65535")
    return port


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
