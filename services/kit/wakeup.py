"""Wake the relay when events are committed, across processes: PostgreSQL LISTEN/NOTIFY.

The event store's insert sends `NOTIFY <events table>` in the inserting transaction
(eventsourcing's PostgreSQL recorder does), so the notification arrives when the events
are committed, whichever replica saved them. The relay listens on its own connection
(not one of the pool's: commands need those) and polls only slowly while it listens.
"""

from __future__ import annotations

import asyncio
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
