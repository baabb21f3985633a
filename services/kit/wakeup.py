"""Wake the relay when events are committed, across processes: PostgreSQL LISTEN/NOTIFY,
and SQLite's data version.

`Commits` passes the same wake-ups on to the other workers that follow the service's own
log (a webhook dispatcher), so they need not poll it either.

The event store's insert sends `NOTIFY <events table>` in the inserting transaction
(eventsourcing's PostgreSQL recorder does), so the notification arrives when the events
are committed, whichever replica saved them. The relay listens on its own connection
(not one of the pool's: commands need those) and polls only slowly while it listens.

SQLite has no notifications. A relay in its own process (the API saves in another) looks
at `PRAGMA data_version` on a connection of its own every few tens of milliseconds: the
value changes whenever another connection has committed, and reading it touches no
table, so the outbox itself is read only after a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
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


# How often a relay on SQLite looks for commits by other processes.
DATA_VERSION_POLL_S = 0.025


async def watch_sqlite_commits(
    path: str,
    service: str,
    wake: Callable[[], None],
    watching: Callable[[bool], None],
    interval_s: float = DATA_VERSION_POLL_S,
) -> None:
    """Call `wake` after each commit to the SQLite file at `path`, until cancelled.

    `watching` as `listening` in `listen_for_commits`: True once the file is watched
    (`wake` is called then too), False when the connection is lost.
    """
    backoff = Backoff(first=0.1, cap=2.0)
    never = asyncio.Event()
    while True:
        try:
            # Autocommit: each pragma reads the file's current state, outside any transaction.
            connection = sqlite3.connect(path, isolation_level=None, timeout=5)
            try:
                version = _data_version(connection)
                watching(True)
                wake()
                backoff.reset()
                while True:
                    await asyncio.sleep(interval_s)
                    now = _data_version(connection)
                    if now != version:
                        version = now
                        wake()
            finally:
                connection.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("relay %s: watching the store for commits failed: %s", service, exc)
        finally:
            watching(False)
        await backoff.wait(never)


def _data_version(connection: sqlite3.Connection) -> int:
    (version,) = connection.execute("PRAGMA data_version").fetchone()
    return int(version)


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
