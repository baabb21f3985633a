"""A small process supervisor: start children, prefix their output, restart crashes, stop all.

Every child runs in its own process group (session), so stopping it stops whatever it
started too. On Linux each child also gets `PR_SET_PDEATHSIG`, so it is killed if the
supervisor itself dies without cleaning up. All children are spawned from one long-lived
monitor thread: the kernel ties the parent-death signal to the thread that forked.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

PR_SET_PDEATHSIG = 1
COLOURS = ["36", "35", "33", "32", "34", "31"]

Log = Callable[[str], None]


def _set_pdeathsig(expected_parent: int) -> Callable[[], None]:
    """A preexec_fn: die with SIGKILL when the parent goes away (Linux), or at once if it has."""

    def preexec() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != expected_parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@dataclass
class Child:
    """One supervised program and the state of its current process."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None
    cwd: str | None = None
    restart: bool = True
    stop_wave: int = 0  # on stop, higher waves are stopped first
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 0.0
    next_start: float = 0.0
    pids: list[int] = field(default_factory=list)  # every pid ever started (for tests)
    _reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Starts children, prefixes their output with their name, restarts them, stops them all."""

    def __init__(
        self,
        *,
        out: IO[str] | None = None,
        log: Log | None = None,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        stable_after_s: float = 30.0,
        stop_timeout_s: float = 5.0,
        poll_s: float = 0.1,
        colour: bool | None = None,
    ) -> None:
        # Resolved at each write when None, so a rich progress bar can redirect sys.stdout.
        self.out = out
        stream = out or sys.stdout
        self.colour = stream.isatty() if colour is None else colour
        self._log = log
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.stable_after_s = stable_after_s
        self.stop_timeout_s = stop_timeout_s
        self.poll_s = poll_s
        self.children: dict[str, Child] = {}
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._pending: list[Child] = []
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 8

    # -- public API ---------------------------------------------------------------------
    def add(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        restart: bool = True,
        stop_wave: int = 0,
    ) -> Child:
        """Register a child and start it (at once if the supervisor runs, else on start())."""
        with self._lock:
            if name in self.children:
                raise ValueError(f"a child named {name!r} exists already")
            if self._stopping.is_set():
                raise RuntimeError("the supervisor is stopping")
            child = Child(
                name=name, argv=list(argv), env=env, cwd=cwd, restart=restart, stop_wave=stop_wave
            )
            self.children[name] = child
            self._width = max(self._width, len(name))
            self._pending.append(child)
        return child

    def start(self) -> Supervisor:
        if self._thread is None:
            self._thread = threading.Thread(target=self._monitor, name="supervisor", daemon=True)
            self._thread.start()
        return self

    def wait_spawned(self, name: str, timeout_s: float = 10.0) -> int:
        """The pid of the child's current process, once spawned."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            child = self.children[name]
            if child.running() and child.pid is not None:
                return child.pid
            time.sleep(0.02)
        raise TimeoutError(f"{name} did not start within {timeout_s} s")

    def stop(self) -> None:
        """Stop every child: SIGTERM to its group, SIGKILL after stop_timeout_s. Idempotent."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        else:
            self._stop_all()
        self._stopped.set()

    def __enter__(self) -> Supervisor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self, message: str) -> None:
        if self._log is not None:
            self._log(message)
        else:
            self._write("tongxin", message)

    # -- monitor thread -----------------------------------------------------------------
    def _monitor(self) -> None:
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                with self._lock:
                    pending, self._pending = self._pending, []
                for child in pending:
                    self._spawn(child)
                for child in list(self.children.values()):
                    self._check(child, now)
                self._stopping.wait(self.poll_s)
        finally:
            self._stop_all()

    def _check(self, child: Child, now: float) -> None:
        process = child.process
        if process is None:
            if child.next_start and now >= child.next_start:
                child.next_start = 0.0
                self._spawn(child)
            return
        code = process.poll()
        if code is None:
            return
        ran_for = now - child.started_at
        self._reap(child)
        if not child.restart:
            self.log(f"{child.name} exited with code {code}; not restarting")
            return
        if ran_for >= self.stable_after_s or child.backoff_s == 0.0:
            child.backoff_s = self.initial_backoff_s
        else:
            child.backoff_s = min(child.backoff_s * 2, self.max_backoff_s)
        child.restarts += 1
        child.next_start = now + child.backoff_s
        self.log(
            f"{child.name} exited with code {code} after {ran_for:.1f} s; "
            f"restart #{child.restarts} in {child.backoff_s:.1f} s"
        )

    def _spawn(self, child: Child) -> None:
        try:
            process = subprocess.Popen(
                child.argv,
                env=child.env,
                cwd=child.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_set_pdeathsig(os.getpid()),  # see the module doc
            )
        except OSError as exc:
            self.log(f"{child.name} could not start: {exc}")
            child.process = None
            doubled = max(child.backoff_s * 2, self.initial_backoff_s)
            child.backoff_s = min(doubled, self.max_backoff_s)
            child.next_start = time.monotonic() + child.backoff_s
            return
        child.process = process
        child.started_at = time.monotonic()
        child.pids.append(process.pid)
        assert process.stdout is not None
        child._reader = threading.Thread(
            target=self._pump,
            args=(child.name, process.stdout),
            name=f"out-{child.name}",
            daemon=True,
        )
        child._reader.start()

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                self._write(name, raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    def _write(self, name: str, line: str) -> None:
        label = name.ljust(self._width)
        if self.colour:
            index = sum(name.encode()) % len(COLOURS)
            label = f"\x1b[{COLOURS[index]}m{label}\x1b[0m"
        with self._write_lock, contextlib.suppress(ValueError, OSError):
            stream = self.out or sys.stdout
            stream.write(f"{label} | {line}\n")
            stream.flush()

    def _reap(self, child: Child) -> None:
        """After the child's exit: kill what is left of its group, collect its output."""
        process = child.process
        if process is None:
            return
        _killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1)
        if child._reader is not None:
            child._reader.join(timeout=1)
        child.process = None

    def _stop_all(self) -> None:
        """Stop children in waves, highest `stop_wave` first (e.g. services before NATS)."""
        with self._lock:
            children = list(self.children.values())
            self._pending.clear()
        for child in children:
            child.next_start = 0.0
        for wave in sorted({c.stop_wave for c in children}, reverse=True):
            self._stop_wave([c for c in children if c.stop_wave == wave])

    def _stop_wave(self, children: list[Child]) -> None:
        running = [c for c in children if c.process is not None]
        for child in running:
            assert child.process is not None
            _killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{child.name} did not stop within {self.stop_timeout_s} s: killing it")
        for child in running:
            self._reap(child)  # SIGKILL to the group: stragglers and grandchildren


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
