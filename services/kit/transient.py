"""Which failures of a projection or reaction pass on their own, and so are never poison.

A consumer retries a transient failure with backoff, in order, for as long as it takes;
any other failure is retried a few times and then dead-lettered. Dead-lettering an event
that would have applied a moment later silently loses it from a read model, so a
database that is locked, busy, away or full, and a version conflict, are transient;
an error that says the code is wrong (a missing table) is not: it would fail forever.

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


# SQLite's primary result codes that say "not now" rather than "never".
SQLITE_NOT_NOW = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PROTOCOL,
    }
)
# Builds that report no code: the message decides.
SQLITE_NOT_NOW_WORDS = ("locked", "busy", "disk i/o error", "unable to open", "disk is full")


def sqlite_not_now(exc: BaseException) -> bool:
    """A SQLite lock or disk error, as opposed to a bug such as a missing table."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in SQLITE_NOT_NOW
    return any(words in str(exc).lower() for words in SQLITE_NOT_NOW_WORDS)


def is_transient(exc: BaseException) -> bool:
    """The default classifier: the error, or one behind it, is transient.

    Behind it as a traceback shows it: what it was raised `from`, or what was being
    handled when it was raised (a ROLLBACK failing after a lock timed out is the lock's
    doing), unless the raiser hid that with `from None`.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, transient_types()) or sqlite_not_now(current):
            return True
        seen.add(id(current))
        if current.__cause__ is not None:
            current = current.__cause__
        else:
            current = None if current.__suppress_context__ else current.__context__
    return False
