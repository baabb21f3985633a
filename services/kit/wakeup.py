"""Wake the relay when events are committed, across processes: PostgreSQL LISTEN/NOTIFY.

`Commits` passes the same wake-ups on to the other workers that follow the service's own
log (a webhook dispatcher), so they need not poll it either.

The event store's insert sends `NOTIFY <events table>` in the inserting transaction
(eventsourcing's PostgreSQL recorder does), so the notification arrives when the events
are committed, whichever replica saved them. The relay listens on its own connection
(not one of the pool's: commands need those) and polls only slowly while it listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from psycopg.sql import SQL, Identifier

from services.kit.backoff import Backoff
from services.kit.settings import Settings

log = logging.getLogger(__name__)


async def listen_for_commits(
    settings: Settings,
    service: str,
    channel: str,
    wake: Callable[[], None],
    listening: Callable[[bool], None],
) -> None:
    """Call `wake` on every commit to the service's event store, until cancelled.

    `listening(True)` once a LISTEN is in place (and `wake` is called then too: events
    committed while it was not are picked up), `listening(False)` when the connection is
    lost; it is opened again with a short backoff.
    """
    backoff = Backoff(first=0.1, cap=2.0)
    never = asyncio.Event()
    while True:
        try:
            connection = await psycopg.AsyncConnection.connect(
                host=settings.postgres_host,
                port=settings.postgres_port,
                user=settings.postgres_user,
                password=settings.postgres_password.get_secret_value(),
                dbname=settings.postgres_dbname or service,
                autocommit=True,
                connect_timeout=5,
                application_name=f"{service}-relay-listen",
            )
            async with connection:
                await connection.execute(SQL("LISTEN {}").format(Identifier(channel)))
                listening(True)
                wake()
                backoff.reset()
                async for _ in connection.notifies():
                    wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("relay %s: listening for commits failed: %s", service, exc)
        finally:
            listening(False)
        await backoff.wait(never)


class Commits:
    """Commits to the service's store, for workers that follow its log in the relay's process.

    The relay notifies it on every wake-up (a commit here or in another replica). Usage:
    `clear()`, read the log, and if nothing was new `await wait(stop, poll_s)`: a commit
    after the `clear` ends the wait, so none is missed. While every commit is signalled
    (`signalled()`), the wait lasts `SAFETY_POLL_S` instead of `poll_s`.
    """

    SAFETY_POLL_S = 2.0

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.signalled: Callable[[], bool] = lambda: False

    def notify(self) -> None:
        """A commit happened (call on the workers' loop)."""
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, stop: asyncio.Event, poll_s: float) -> None:
        """Until a commit, `stop`, or the poll's time (the safety poll's when signalled)."""
        timeout = max(poll_s, self.SAFETY_POLL_S) if self.signalled() else poll_s
        waits = [asyncio.ensure_future(self._event.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
