"""Public security's background-check system: it answers each check the volunteers service
requests with a `background-check-completed` event.

A check takes time: a request is answered `TONGXIN_CHECKS_ANSWER_AFTER_S` after it was made
(the message is asked for again then, not held). The answer is a pass valid for a year; the
event id is the check id, so answering twice stores one event.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from contracts.checks import BackgroundCheckCompleted
from contracts.volunteers import BackgroundCheckRequested
from departments.run import until_stopped
from tongxin.connector import AnswerLater, ConnectorSettings, DepartmentConnector

ANSWER_AFTER_S = float(os.environ.get("TONGXIN_CHECKS_ANSWER_AFTER_S", "600"))


def system(connector: DepartmentConnector, answer_after_s: float = ANSWER_AFTER_S) -> None:
    """Wire public security's answers on the connector."""
    completed = connector.publisher(BackgroundCheckCompleted)

    @connector.subscriber(BackgroundCheckRequested)
    async def answer(request: BackgroundCheckRequested) -> None:
        """Answer a requested background check once it has been worked on."""
        due = request.requested_at + timedelta(seconds=answer_after_s)
        now = datetime.now(UTC)
        if due > now:
            raise AnswerLater((due - now).total_seconds())
        result = BackgroundCheckCompleted(
            check_id=request.check_id,
            volunteer_id=request.volunteer_id,
            outcome="passed",
            expires_on=(now + timedelta(days=365)).date(),
            completed_at=now,
        )
        await completed.publish(result, event_id=request.check_id, subject=request.volunteer_id)


async def main(stop: asyncio.Event) -> None:
    connector = DepartmentConnector(ConnectorSettings(department="pol"))
    system(connector)
    async with connector.running(stop):
        await stop.wait()


if __name__ == "__main__":
    until_stopped(main)
