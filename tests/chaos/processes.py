"""The platform as separate processes that a chaos run kills with SIGKILL and restarts.

Python processes are spawned from the calling (main) thread: each gets a parent-death
signal, which the kernel ties to the thread that forked, so a crashed chaos run does
not leave servers behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

import httpx

from tests.support.nats import NatsServer
from tongxin.supervisor import _set_pdeathsig

# How long a process may take to become healthy (`--start-timeout`: a loaded machine
# needs longer).
START_TIMEOUT_S = 60.0


class Killable(Protocol):
    """A part of the platform the fault injector can crash and bring back."""

    name: str

    def kill(self) -> None: ...

    async def start(self, timeout: float | None = None) -> float: ...  # noqa: ASYNC109


class PythonProcess:
    """`python -m <module> <command>` with its own environment and log file.

    `health_url`, when given, is polled after a start until it answers 200.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        health_url: str | None = None,
    ) -> None:
        self.name = name
        self.argv = [sys.executable, *argv]
        self.env = env
        self.log_path = log_path
        self.health_url = health_url
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self, timeout: float | None = None) -> float:  # noqa: ASYNC109
        """Spawn and wait until healthy (`START_TIMEOUT_S` by default); returns the seconds."""
        timeout = START_TIMEOUT_S if timeout is None else timeout
        began = time.monotonic()
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: ASYNC220 - spawned from this thread on purpose
            self.argv,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_set_pdeathsig(os.getpid()),  # noqa: PLW1509 - see module docstring
        )
        if self.health_url is not None:
            await self._wait_healthy(began + timeout)
        return time.monotonic() - began

    async def _wait_healthy(self, deadline: float) -> None:
        assert self.health_url is not None
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
                try:
                    if (await client.get(self.health_url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} was not healthy in time; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None


class NatsProcess:
    """The nats-server, restarted on the same port and store after a kill."""

    name = "nats"

    def __init__(self, server: NatsServer) -> None:
        self.server = server

    def kill(self) -> None:
        self.server.kill()

    async def start(self, timeout: float | None = None) -> float:  # noqa: ASYNC109
        began = time.monotonic()
        # Blocking, but a nats-server answers within a few tens of milliseconds.
        self.server.start()
        return time.monotonic() - began
