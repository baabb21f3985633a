"""The embedded default at rest: `tongxin run` with the demo loaded, then left alone.

Every process the command starts (nats-server, each service with its relay inside, the
ingest, the gateway) is sampled: CPU seconds used over the idle window, as a share of one
core, and resident memory summed. Ports are free ones, set through the same variables a
person would use.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from contracts.platform import load_platform
from tests.bench.report import Figure
from tongxin import ports

REPO = Path(__file__).resolve().parents[2]
RUNNING = "is running"
FEEDS_RECEIVER_ENV = "TONGXIN_FEEDS_RECEIVER_PORT"
START_TIMEOUT_ENV = "TONGXIN_START_TIMEOUT_S"
# After the demo, the first seconds still see projections and caches settle.
SETTLE_S = 5.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((ports.HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    """The end of the run's log: the bench's folder is removed afterwards."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


def measure(folder: Path, idle_s: float, start_timeout_s: float = 600.0) -> list[Figure]:
    env = dict(os.environ)
    env["TONGXIN_STATE_DIR"] = str(folder / "state")
    for process in load_platform().processes:
        env[process.port_env] = str(_free_port())
    env[ports.NATS_ENV] = str(_free_port())
    # The demo's partner museum receives the feeds' webhooks in the `tongxin run` process.
    env[FEEDS_RECEIVER_ENV] = str(_free_port())
    # Nine Python processes importing at once on a busy machine may take minutes.
    env.setdefault(START_TIMEOUT_ENV, str(int(start_timeout_s)))
    log_path = folder / "tongxin-run.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        run = subprocess.Popen(  # noqa: S603 - our own command line
            [str(Path(sys.executable).parent / "tongxin"), "run"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while RUNNING not in log_path.read_text(errors="replace"):
                if run.poll() is not None:
                    raise RuntimeError(f"tongxin run ended early:\n{_tail(log_path)}")
                if time.perf_counter() - started > start_timeout_s:
                    raise RuntimeError(f"tongxin run did not finish starting; see {log_path}")
                time.sleep(0.5)
            ready_s = time.perf_counter() - started
            time.sleep(SETTLE_S)
            root = psutil.Process(run.pid)
            before = _cpu_seconds(_tree(root))
            window = time.perf_counter()
            time.sleep(idle_s)
            processes = _tree(root)
            after = _cpu_seconds(processes)
            elapsed = time.perf_counter() - window
            rss = 0
            names: dict[str, float] = {}
            # Seconds are less swayed than shares by other work on a shared machine.
            seconds: dict[str, float] = {}
            for process in processes:
                try:
                    rss += process.memory_info().rss
                    used = after.get(process.pid, 0.0) - before.get(process.pid, 0.0)
                    label = " ".join(process.cmdline()[1:4])[-60:] or process.name()
                    names[f"{process.pid} {label}"] = round(used / elapsed * 100, 2)
                    seconds[f"{process.pid} {label}"] = round(used, 3)
                except psutil.NoSuchProcess:
                    continue
            used = sum(after.values()) - sum(before.get(pid, 0.0) for pid in after)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGINT)
            try:
                run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
    detail = {
        "idle_s": round(elapsed, 1),
        "processes": len(processes),
        "started_with_demo_s": round(ready_s, 1),
        "per_process_percent_of_a_core": names,
        "per_process_cpu_s": seconds,
    }
    return [
        Figure(
            "idle.cpu_percent",
            f"`tongxin run` idle after the demo: CPU ({len(processes)} processes)",
            used / elapsed * 100,
            "% of a core",
            detail,
        ),
        Figure(
            "idle.rss_mb",
            "`tongxin run` idle after the demo: resident memory, all processes",
            rss / 2**20,
            "MB",
            detail,
        ),
    ]
