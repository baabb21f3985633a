"""Run the reminders app's deadline runner in its own process until killed.

    python -m tests.support.deadline_process   (settings and TONGXIN_CLOCK_FILE from env)

Used to SIGKILL the runner around the due time. Prints "deadlines-started" once running.
"""

from __future__ import annotations

import asyncio

from services.kit.deadlines import DeadlineRunner
from services.kit.settings import Settings
from tests.support.reminders import RemindersApp, build_reminders_app


async def main() -> None:
    app = build_reminders_app(Settings())
    assert RemindersApp.deadlines is not None
    runner = DeadlineRunner(app, RemindersApp.deadlines, app.deadline_clock, poll_s=0.02)
    print("deadlines-started", flush=True)
    await runner.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main())
