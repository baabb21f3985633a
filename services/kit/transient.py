"""Which failures of a projection or reaction pass on their own, and so are never poison.

A consumer retries a transient failure with backoff, in order, for as long as it takes;
any other failure is retried a few times and then dead-lettered. Dead-lettering an event
that would have applied a moment later silently loses it from a read model, so when in
doubt about a database's error, call it transient: a stuck consumer shows as lag, a lost
event shows nowhere.

A projection declares its own passing failures by raising `TransientError` (or a
subclass), ideally `from` the original error; or it gives the consumer a classifier
of its own built on `is_transient`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from functools import cache


class TransientError(Exception):
    """A failure that will pass (a lock, a conflict, a peer away): retry, never dead-letter."""


Classifier = Callable[[BaseException], bool]


@cache
def transient_types() -> tuple[type[BaseException], ...]:
    """The exception types that are transient wherever they come from."""
    types: list[type[BaseException]] = [
        TransientError,
        ConnectionError,
        TimeoutError,
        OSError,
        # "database is locked" / "busy", and the disk or file going away. Also a schema
        # that does not match, which no number of deliveries would fix: it then holds the
        # consumer back (visible as lag) rather than dropping the events one by one.
        sqlite3.OperationalError,
    ]
    with contextlib.suppress(ImportError):
        from eventsourcing.persistence import (
            InterfaceError,
            OperationalError,
            RecordConflictError,
        )

        # RecordConflictError (IntegrityError among them): a concurrent save won the
        # version race, or another process recorded the same position; fresh state settles it.
        types += [OperationalError, InterfaceError, RecordConflictError]
    with contextlib.suppress(ImportError):
        import psycopg

        # OperationalError covers lost connections, pool timeouts, serialization
        # failures and deadlocks (TransactionRollback).
        types += [psycopg.OperationalError, psycopg.InterfaceError]
    return tuple(types)


def is_transient(exc: BaseException) -> bool:
    """The default classifier: the error, or one it was raised `from`, is transient."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, transient_types()):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False
