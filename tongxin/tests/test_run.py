"""`tongxin run` end to end: real nats-server, the services, the demo, a clean stop."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from contracts.platform import load_platform
from services.kit.auth import DevIssuer
from tongxin.demo import marker_path
from tongxin.demo import pending as demo_pending
from tongxin.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_every_entry_point_of_the_manifest_exists() -> None:
    """`tongxin run` starts `python -m <module>` for each process: a moved one must fail here."""
    for process in load_platform().processes:
        assert importlib.util.find_spec(f"{process.module}.__main__") is not None, process.name


@pytest.mark.nats
@pytest.mark.timeout(480)  # Beyond the demo's own 360 s wait, so that wait reports first.
def test_run_loads_the_demo_once_and_stops_cleanly(tmp_path: Path) -> None:
    platform = load_platform()
    ports = {p.port_env: free_port() for p in platform.processes}
    ports["TONGXIN_NATS_PORT"] = free_port()
    ports["TONGXIN_FEEDS_RECEIVER_PORT"] = free_port()  # the demo museum's webhook receiver
    env = os.environ | {k: str(v) for k, v in ports.items()} | {"TONGXIN_STATE_DIR": str(tmp_path)}
    first = _run_until_ready(env)
    marker = json.loads(marker_path(tmp_path, "volunteers").read_text())
    assert demo_pending(tmp_path) == ()
    issuer = DevIssuer(tmp_path / "keys")
    token = issuer.token(role="coordinator", department="cyl")
    volunteers = f"http://127.0.0.1:{ports[platform.process('volunteers').port_env]}"
    answer = httpx.get(
        f"{volunteers}/volunteers/{marker['volunteers']['v01']}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert answer["check"]["status"] == "passed"
    assert answer["hours"] > 0
    _stop(first, len(platform.processes) + 1)

    second = _run_until_ready(env)  # the same state: no second load
    _stop(second, len(platform.processes) + 1)
    assert "demo: already loaded" in "".join(second.lines)


class Running:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)


def _run_until_ready(env: dict[str, str]) -> Running:
    process = subprocess.Popen(
        [sys.executable, "-m", "tongxin.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Running(process)
    # The whole demo city loads before "is running": seven services, about two minutes here.
    deadline = time.monotonic() + 360
    while time.monotonic() < deadline:
        if any("is running" in line for line in running.lines):
            return running
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    process.wait()
    raise AssertionError("tongxin run did not get ready:\n" + "".join(running.lines[-60:]))


def _stop(running: Running, children: int) -> None:
    descendants = psutil.Process(running.process.pid).children(recursive=True)
    assert len(descendants) >= children  # nats-server and every process of the manifest
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=30) == 0
    _, alive = psutil.wait_procs(descendants, timeout=10)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left behind: {alive}"
