"""The departments' own reporting systems: each of nine departments publishes its reports
(`contracts/reports.py`) into its own boundary with its own NATS user, and the alliance
counts them toward the key tasks' targets.

Every `TONGXIN_REPORTS_EVERY_S` seconds the next department in turn reports one event of
today at one of the city's schools (or districts). A report's id is the department, the day
and the slot of the day, so a restarted system sends a slot again and it is stored once.
`--once` sends one report of each department and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime

from pydantic import SecretStr

from contracts import reports
from contracts.city import load_city
from contracts.events import ContractEvent
from departments.run import patiently, until_stopped
from tongxin.connector import ConnectorSettings, DepartmentConnector

EVERY_S = float(os.environ.get("TONGXIN_REPORTS_EVERY_S", "300"))


def _report(cls: type[ContractEvent], report_id: str, day: date, n: int) -> ContractEvent:
    """One report of `cls` held on `day` at the n-th school of the city's list."""
    schools = load_city().schools
    school = schools[n % len(schools)]
    place = {"school_id": school.id, "district_id": school.district}
    community = {"community_id": f"community-{school.district}", "district_id": school.district}
    made: dict[type[ContractEvent], Callable[[], ContractEvent]] = {
        reports.LegalLectureGiven: lambda: reports.LegalLectureGiven(
            report_id=report_id, **place, held_on=day, audience="families", attendance=90
        ),
        reports.VicePrincipalVisited: lambda: reports.VicePrincipalVisited(
            report_id=report_id, **place, visited_on=day
        ),
        reports.GuidanceSessionHeld: lambda: reports.GuidanceSessionHeld(
            report_id=report_id, **community, held_on=day, kind="consultation", families=15
        ),
        reports.FundGrantMade: lambda: reports.FundGrantMade(
            report_id=report_id,
            **place,
            granted_on=day,
            purpose="activity-subsidy",
            amount_yuan=10_000.0,
        ),  # fmt: skip
        reports.SafetyDrillSupervised: lambda: reports.SafetyDrillSupervised(
            report_id=report_id, **place, held_on=day, kind="evacuation"
        ),
        reports.RegisterReviewed: lambda: reports.RegisterReviewed(
            report_id=report_id, **community, reviewed_on=day, children=10
        ),
        reports.HealthTalkGiven: lambda: reports.HealthTalkGiven(
            report_id=report_id, **place, held_on=day, topic="first-aid"
        ),
        reports.ProtectionLectureGiven: lambda: reports.ProtectionLectureGiven(
            report_id=report_id, **place, held_on=day
        ),
        reports.EldersActivityHeld: lambda: reports.EldersActivityHeld(
            report_id=report_id,
            team_id=f"elders-{school.district}",
            **place,
            held_on=day,
            elders=6,
        ),  # fmt: skip
    }
    return made[cls]()


def connectors() -> dict[type[ContractEvent], DepartmentConnector]:
    """A connector per reporting department, each as its own NATS user (`dept-<code>`, its
    password in `NATS_PASSWORD_DEPT_<CODE>`, as `make run` gives it)."""
    urls = os.environ.get("TONGXIN_NATS_URLS", "nats://127.0.0.1:4222")
    out = {}
    for cls in reports.REPORTS:
        code = cls.department()
        password = os.environ.get(f"NATS_PASSWORD_DEPT_{code.upper()}")
        settings = ConnectorSettings(
            department=code,
            nats_urls=urls,
            nats_password=SecretStr(password) if password else None,
        )
        out[cls] = DepartmentConnector(settings)
    return out


async def report(connector: DepartmentConnector, cls: type[ContractEvent], slot: int) -> int:
    """Publish one report for today's `slot`; the stream sequence it was stored at."""
    today = datetime.now(UTC).date()
    report_id = f"live-{cls.department()}-{today.isoformat()}-{slot}"
    event = _report(cls, report_id, today, slot)
    return await connector.publisher(cls).publish(event, event_id=report_id)


async def main(stop: asyncio.Event, *, once: bool = False) -> None:
    systems = list(connectors().items())
    async with contextlib.AsyncExitStack() as running:
        for _, connector in systems:
            await running.enter_async_context(connector.running(stop))
        turn = 0
        while not stop.is_set():
            now = datetime.now(UTC)
            slot = int((now.hour * 3600 + now.minute * 60 + now.second) // EVERY_S)
            for cls, connector in systems if once else [systems[turn % len(systems)]]:
                await patiently(functools.partial(report, connector, cls, slot), stop)
            if once:
                return
            turn += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), EVERY_S)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m departments.reports")
    parser.add_argument("--once", action="store_true", help="one report per department, then exit")
    args = parser.parse_args(sys.argv[1:])
    until_stopped(lambda stop: main(stop, once=args.once))
