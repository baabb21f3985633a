"""Civil affairs' registry system: when a child is newly registered (a left-behind child, an
orphan …) it refers the child to the care service, the child's details sealed to care's
public key (`/.well-known/jwks.json`), so only care can open them.

The demo registers one child a day: the referral's id is the day, so a restarted system
refers the same child once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import UTC, datetime, timedelta

import httpx

from contracts.city import load_city
from contracts.civil_registry import ChildReferralDetails, ChildReferredToCare
from departments.run import patiently, until_stopped
from services.kit.privacy.sealing import seal
from tongxin.connector import ConnectorSettings, DepartmentConnector

CARE_URL = os.environ.get("TONGXIN_CARE_URL", "http://127.0.0.1:8004")
# The children the demo registry registers, one a day in turn (fictional).
CHILDREN = ("林小满", "陈思远", "吴悦", "赵子涵", "黄一诺", "周安然", "徐乐乐")


async def care_keys() -> dict[str, object]:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{CARE_URL}/.well-known/jwks.json")
        answer.raise_for_status()
        keys: dict[str, object] = answer.json()
        return keys


async def refer_today(connector: DepartmentConnector) -> int:
    """Refer today's newly registered child; the stream sequence it was stored at."""
    now = datetime.now(UTC)
    day = now.date()
    n = day.toordinal()
    school = load_city().schools[n % len(load_city().schools)]
    details = ChildReferralDetails(
        name=CHILDREN[n % len(CHILDREN)],
        school_id=school.id,
        class_id="g3-c2",
        category="left-behind",
        evidence="民政留守儿童登记 registered today; parents working away from home",
    )
    referral_id = f"civ-registry-{day.isoformat()}"
    event = ChildReferredToCare(
        referral_id=referral_id,
        referred_at=now,
        child=seal(details.model_dump(), await care_keys()),
    )
    return await connector.publisher(ChildReferredToCare).publish(event, event_id=referral_id)


async def main(stop: asyncio.Event) -> None:
    connector = DepartmentConnector(ConnectorSettings(department="civ"))
    async with connector.running(stop):
        while not stop.is_set():
            await patiently(lambda: refer_today(connector), stop)
            tomorrow = datetime.combine(
                datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC
            )
            wait_s = (tomorrow - datetime.now(UTC)).total_seconds() + 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait_s)


if __name__ == "__main__":
    until_stopped(main)
