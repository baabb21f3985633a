"""A relay running as its own process answers probes and reports its lag, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tongxin.ports import free_port

pytestmark = pytest.mark.nats


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=1.0)
    except httpx.TransportError:
        return None


def _until(predicate, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_relay_process_serves_probes_and_stops_on_sigterm(nats_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TONGXIN_STATE_DIR": str(tmp_path),
        "TONGXIN_NATS_URLS": nats_url,
        "TONGXIN_RELAY_HTTP_PORT": str(port),
        "TONGXIN_HTTP_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.volunteers", "relay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = _until(lambda: _get(f"{base}/healthz"))
        assert health.status_code == 200
        ready = _until(
            lambda: (
                (r := _get(f"{base}/readyz")) is not None
                and r.json()["checks"]["relay"]["ok"]
                and r
            )
        )
        report = ready.json()
        assert report["ready"] is True
        assert report["checks"]["relay"]["lag"] == 0
        assert report["checks"]["store"]["ok"] is True
        assert "tongxin_relay_published_total" in _get(f"{base}/metrics").text  # type: ignore[union-attr]
        # Only operational endpoints: no API, no schema for anyone to poke at.
        assert _get(f"{base}/openapi.json").status_code == 404  # type: ignore[union-attr]

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_relay_process_without_a_port_serves_nothing(nats_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TONGXIN_STATE_DIR": str(tmp_path), "TONGXIN_NATS_URLS": nats_url}
    env.pop("TONGXIN_RELAY_HTTP_PORT", None)
    env["TONGXIN_HTTP_PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, "-m", "services.volunteers", "relay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)
        assert process.poll() is None
        assert _get(f"http://127.0.0.1:{port}/healthz") is None
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
