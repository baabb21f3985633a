"""A three-node JetStream cluster of real nats-servers (from the wheel) on loopback.

Every node has its own client port, route port, server_name and store dir; all
share one cluster name and list every route. A node can be SIGKILLed and
restarted on the same ports and store, as after a crash.

>>> cluster = JetStreamCluster(tmp_path / "cluster").start()
>>> await cluster.wait_ready()
>>> settings = Settings(nats_urls=cluster.urls, stream_replicas=3)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import StreamInfo

from tests.support.nats import NATS_SERVER
from tongxin.ports import free_port

HOST = "127.0.0.1"
CLUSTER_NAME = "tongxin-test"


class ClusterNode:
    """One nats-server of the cluster."""

    def __init__(self, name: str, store_dir: Path, routes: list[str]) -> None:
        self.name = name
        self.store_dir = store_dir
        self.port = free_port(HOST)
        self.route_port = free_port(HOST)
        self.monitor_port = free_port(HOST)
        self.routes = routes
        self.config_path = store_dir / "nats.conf"
        self.log_path = store_dir / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def route_url(self) -> str:
        return f"nats-route://{HOST}:{self.route_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def config(self) -> str:
        q = json.dumps
        return "\n".join(
            [
                f"server_name: {q(self.name)}",
                f"listen: {q(f'{HOST}:{self.port}')}",
                "jetstream {",
                f"  store_dir: {q(str((self.store_dir / 'jetstream').resolve()))}",
                "}",
                "cluster {",
                f"  name: {q(CLUSTER_NAME)}",
                f"  listen: {q(f'{HOST}:{self.route_port}')}",
                f"  routes: [{', '.join(q(r) for r in self.routes)}]",
                "}",
                # The monitoring endpoint tells whether the meta group is whole (see `settled`).
                f"http: {q(f'{HOST}:{self.monitor_port}')}",
                "",
            ]
        )

    def start(self) -> None:
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        self.process = subprocess.Popen(
            [str(NATS_SERVER), "-c", str(self.config_path), "-l", str(self.log_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()
        self.process = None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


class JetStreamCluster:
    """Three nats-servers routed into one JetStream cluster."""

    def __init__(self, base_dir: Path, size: int = 3) -> None:
        self.nodes: list[ClusterNode] = []
        route_ports: list[int] = []
        for n in range(1, size + 1):
            node = ClusterNode(f"n{n}", base_dir / f"n{n}", [])
            self.nodes.append(node)
            route_ports.append(node.route_port)
        for node in self.nodes:
            node.routes = [f"nats-route://{HOST}:{port}" for port in route_ports]

    @property
    def urls(self) -> str:
        """Every node's client URL, comma-separated (TONGXIN_NATS_URLS)."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> ClusterNode:
        return next(node for node in self.nodes if node.name == name)

    def start(self) -> JetStreamCluster:
        """Spawn every node; `wait_ready` tells when JetStream answers."""
        for node in self.nodes:
            node.start()
        return self

    async def wait_ready(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Until JetStream answers through every running node (a meta leader is elected)."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if not node.running:
                continue
            while True:
                if await _jetstream_answers(node.url):
                    break
                if not node.running:
                    raise RuntimeError(f"{node.name} exited; see {node.log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the cluster was not ready in time; see {node.log_path}")
                await asyncio.sleep(0.1)

    async def settled(self, streams: list[str]) -> bool:
        """Whether a node may die now without leaving JetStream without a quorum.

        Every running node follows the same meta leader, which sees each other running
        node current, and each stream has a leader with both replicas current. A node
        that answers JetStream requests right after a restart may still be catching up
        the meta group; killing another node then leaves no quorum to elect a leader.
        """
        running = [node for node in self.nodes if node.running]
        views = [await _meta_cluster(node) for node in running]
        leaders = {view.get("leader") if view else None for view in views}
        if len(leaders) != 1 or None in leaders or "" in leaders:
            return False
        leader = next(iter(leaders))
        meta = next(view for node, view in zip(running, views, strict=True) if node.name == leader)
        assert meta is not None
        current = {
            replica["name"]
            for replica in meta.get("replicas", [])
            if replica.get("current") and not replica.get("offline")
        }
        if current != {node.name for node in running if node.name != leader}:
            return False
        for stream in streams:
            if not await replicas_current(self.urls, stream):
                return False
        return True

    def log_tails(self, lines: int = 40) -> str:
        """The end of every node's log, for a failure's report."""
        parts = []
        for node in self.nodes:
            text = node.log_path.read_text(errors="replace") if node.log_path.exists() else ""
            parts.append(f"--- {node.name} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


async def _meta_cluster(node: ClusterNode) -> dict[str, Any] | None:
    """The meta group as `node` sees it (`/jsz`), or None while it does not answer."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            answer = await client.get(f"http://{HOST}:{node.monitor_port}/jsz")
        meta = answer.json().get("meta_cluster")
    except (httpx.HTTPError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


async def _quiet(_: Exception) -> None:
    """Connection errors are expected while nodes start or are down."""


async def _jetstream_answers(url: str) -> bool:
    try:
        nc = await nats.connect(
            url, connect_timeout=1, max_reconnect_attempts=0, allow_reconnect=False, error_cb=_quiet
        )
    except (NatsError, OSError, TimeoutError):
        return False
    try:
        await nc.jetstream(timeout=1).account_info()
        return True
    except (NatsError, OSError, TimeoutError):
        return False
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def connected(urls: str) -> AsyncIterator[Client]:
    """A client connected to any live node of `urls` (comma-separated)."""
    nc = await nats.connect(
        urls.split(","), connect_timeout=2, max_reconnect_attempts=3, error_cb=_quiet
    )
    try:
        yield nc
    finally:
        await nc.close()


async def stream_info(urls: str, stream: str) -> StreamInfo:
    async with connected(urls) as nc:
        return await nc.jetstream(timeout=5).stream_info(stream)


async def stream_leader(urls: str, stream: str) -> str:
    """The server_name of the stream's current leader."""
    info = await stream_info(urls, stream)
    assert info.cluster is not None and info.cluster.leader, "the stream has no leader"
    return str(info.cluster.leader)


async def replicas_current(urls: str, stream: str) -> bool:
    """Whether `stream` has a leader and both its other replicas are current."""
    try:
        info = await stream_info(urls, stream)
    except Exception:
        return False
    replicas = info.cluster.replicas if info.cluster else None
    return bool(
        info.cluster
        and info.cluster.leader
        and replicas
        and len(replicas) == 2
        and all(r.current and not r.offline for r in replicas)
    )
