"""The nats-server config of the embedded default, and the real server it starts."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import nats
import pytest

from tongxin import natsserver
from tongxin.ports import free_port


def test_config_enables_jetstream_under_the_folder(tmp_path: Path) -> None:
    text = natsserver.render_config(4333, tmp_path / "nats dir")
    assert 'listen: "127.0.0.1:4333"' in text
    assert "jetstream {" in text
    assert f'store_dir: "{(tmp_path / "nats dir").resolve()}"' in text
    assert "http" not in text.replace("# Written", "")  # no monitoring port


def test_prepare_writes_the_config_and_builds_the_command(tmp_path: Path) -> None:
    command = natsserver.prepare(4333, tmp_path / "nats", binary=Path("/bin/nats-server"))
    assert command.config_path == (tmp_path / "nats" / "nats-server.conf").resolve()
    assert command.config_path.read_text() == natsserver.render_config(4333, tmp_path / "nats")
    assert command.argv == ["/bin/nats-server", "-c", str(command.config_path)]
    assert command.url == "nats://127.0.0.1:4333"


def test_the_binary_of_the_wheel_is_found() -> None:
    assert natsserver.find_binary().name == "nats-server"


async def _publish_with_jetstream(url: str) -> int:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        await js.add_stream(name="probe", subjects=["probe.>"])
        ack = await js.publish("probe.one", b"hello")
        return ack.seq
    finally:
        await client.close()


@pytest.mark.nats
def test_the_server_starts_with_jetstream(tmp_path: Path) -> None:
    port = free_port()
    command = natsserver.prepare(port, tmp_path / "nats")
    server = subprocess.Popen(command.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert natsserver.wait_listening(port, timeout_s=15)
        assert asyncio.run(_publish_with_jetstream(command.url)) == 1
        assert (tmp_path / "nats" / "jetstream").is_dir()
    finally:
        server.terminate()
        server.wait(timeout=10)
