"""A three-node JetStream cluster per test, killed whatever the test did to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest

from services.kit.settings import Settings
from tests.support.cluster import JetStreamCluster

FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
async def cluster(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[JetStreamCluster]:
    nodes = JetStreamCluster(tmp_path / "cluster").start()
    try:
        await nodes.wait_ready()
        yield nodes
    finally:
        for node in nodes.nodes:
            node.kill()
        # The servers' own account of a failure: elections, catch-ups, lost quorums.
        if request.node.stash.get(FAILED, False):
            print("\nnats-server logs:\n" + nodes.log_tails())


@pytest.fixture
def settings(
    cluster: JetStreamCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Cluster settings as a deployment gives them: environment variables."""
    monkeypatch.setenv("TONGXIN_NATS_URLS", cluster.urls.replace(",", ", "))
    monkeypatch.setenv("TONGXIN_STREAM_REPLICAS", "3")
    settings = Settings(
        store="sqlite",
        state_dir=tmp_path / "state",
        relay_batch=100,
        relay_idle_s=0.01,
        consumer_batch=100,
        consumer_ack_wait_s=5.0,
    )
    assert settings.nats_servers() == [node.url for node in cluster.nodes]
    assert settings.stream_replicas == 3
    return settings
