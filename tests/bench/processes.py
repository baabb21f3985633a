"""The platform's own processes, started as in production (`python -m ...`) and stopped again."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from contracts.platform import load_platform
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.support.environ import settings_env
from tongxin.deploygen import command_of, relay_command_of
from tongxin.ports import free_port

# The benchmarks measure the volunteers' path; how each process starts is the manifest's.
VOLUNTEERS = load_platform().process("volunteers")
GATEWAY = load_platform().gateway()


class Process:
    """One child process in its own process group, with its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._file = log.open("wb")
        self.popen = subprocess.Popen(
            command,
            env=os.environ | env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._file.close()

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-3000:]
        return ""


class HttpProcess(Process):
    """A process that serves HTTP on a free port of its own; `ready()` waits for /readyz."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        env = env | {"TONGXIN_HTTP_HOST": "127.0.0.1", "TONGXIN_HTTP_PORT": str(self.port)}
        super().__init__(name, command, env, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout:.0f} s: {self.tail()}")


class Platform:
    """The volunteers API (replicas), its relay and the gateway, on one set of settings."""

    def __init__(self, settings: Settings, folder: Path, stage_dir: Path | None = None) -> None:
        self.settings = settings
        self.folder = folder
        self.issuer = DevIssuer(folder / "keys")
        self.processes: list[Process] = []
        self.base_env = settings_env(settings, inherit=False) | {
            "TONGXIN_LOG_LEVEL": "WARNING",
            "TONGXIN_AUTH_JWKS_URL": str(self.issuer.jwks_path),
        }
        if stage_dir is not None:
            # Each process notes when events pass its stages (`services/kit/stages.py`).
            self.base_env["TONGXIN_STAGE_DIR"] = str(stage_dir)

    def coordinator_token(self) -> str:
        return self.issuer.token(role="coordinator", department="cyl", subject="bench")

    def viewer_token(self) -> str:
        return self.issuer.token(role="viewer", department="edu", subject="bench-dashboard")

    def volunteers(self, replicas: int = 1) -> list[HttpProcess]:
        """API replicas; with more than one, the relay runs in a process of its own."""
        separate_relay = replicas > 1
        env = self.base_env | {"TONGXIN_RELAY_IN_PROCESS": str(not separate_relay).lower()}
        apis: list[HttpProcess] = []
        for n in range(replicas):
            apis.append(self._start_http(f"volunteers-{n}", ["-m", *command_of(VOLUNTEERS)], env))
            # One at a time: concurrent first starts race to create the store's tables.
            apis[-1].ready()
        if separate_relay:
            self._start("volunteers-relay", ["-m", *relay_command_of(VOLUNTEERS)], env)
        return apis

    def gateway(self, volunteers_url: str, patience_s: float = 60.0) -> HttpProcess:
        env = self.base_env | {"TONGXIN_SERVICE_URLS": f"volunteers={volunteers_url}"}
        gateway = self._start_http("gateway", ["-m", *command_of(GATEWAY)], env)
        gateway.ready(patience_s)
        return gateway

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        process = Process(name, [sys.executable, *args], env, self.folder / f"{name}.log")
        self.processes.append(process)
        return process

    def _start_http(self, name: str, args: list[str], env: dict[str, str]) -> HttpProcess:
        process = HttpProcess(name, [sys.executable, *args], env, self.folder / f"{name}.log")
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


@contextlib.contextmanager
def platform(settings: Settings, folder: Path, stage_dir: Path | None = None) -> Iterator[Platform]:
    running = Platform(settings, folder, stage_dir)
    try:
        yield running
    finally:
        running.stop()
