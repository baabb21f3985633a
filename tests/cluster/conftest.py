"""A three-node JetStream cluster per test, killed whatever the test did to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.cluster import JetStreamCluster


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[JetStreamCluster]:
    nodes = JetStreamCluster(tmp_path / "cluster").start()
    try:
        await nodes.wait_ready()
        yield nodes
    finally:
        for node in nodes.nodes:
            node.kill()
