"""A small chaos run: every process of the event path killed under load, nothing lost.

The same code as `make chaos`, with a few hundred commands offered at a steady rate
so that each kind of process is killed (and restarted) while commands flow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.run import TARGETS, ChaosConfig, run

pytestmark = pytest.mark.timeout(300)


async def test_nothing_acknowledged_is_lost_while_processes_are_killed(tmp_path: Path) -> None:
    lines: list[str] = []
    config = ChaosConfig(
        commands=300,
        seed=20261123,
        clients=6,
        rate=12.0,
        gap_s=(2.0, 6.0),
        down_s=(0.2, 1.2),
        min_faults=1,
        converge_timeout_s=90.0,
        workdir=tmp_path / "chaos",
    )
    (tmp_path / "chaos").mkdir()
    result = await run(config, say=lines.append)
    report = "\n".join(lines)

    assert {e.fault.target for e in result.executed} == set(TARGETS), report
    assert result.verdict.acknowledged >= 290, report  # No command should exhaust its retries.
    assert result.verdict.lost == 0, report
    assert result.verdict.duplicated == 0, report
    assert result.verdict.phantom == 0, report
    assert result.converged_s is not None, report
    assert lines[-1].startswith("chaos: acknowledged="), report
