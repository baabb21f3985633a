"""Which failures a consumer retries for as long as it takes, and which may be poison."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, RecordConflictError
from psycopg.errors import DeadlockDetected, SerializationFailure

from services.kit.errors import ConflictError, VersionConflictError
from services.kit.transient import TransientError, is_transient


class ReadModelRebuilding(TransientError):
    """A projection's own passing failure."""


def raised_from(error: Exception, cause: Exception) -> Exception:
    try:
        raise error from cause
    except Exception as exc:  # noqa: BLE001 - returned for the test to classify
        return exc


def raised_while_handling(
    error: Exception, handled: Exception, *, hidden: bool = False
) -> Exception:
    try:
        try:
            raise handled
        except Exception:
            if hidden:
                raise error from None
            raise error  # noqa: B904 - the implicit context is what is tested
    except Exception as exc:  # noqa: BLE001 - returned for the test to classify
        return exc


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("disk I/O error"),
        IntegrityError("version 3 of aggregate exists"),
        RecordConflictError("tracking record exists"),
        OperationalError("could not connect"),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        SerializationFailure("could not serialize access"),
        DeadlockDetected("deadlock detected"),
        ConnectionResetError(),
        TimeoutError(),
        ReadModelRebuilding("back in a moment"),
        VersionConflictError("kept conflicting with concurrent changes"),
        raised_from(RuntimeError("projection failed"), sqlite3.OperationalError("locked")),
        raised_while_handling(
            sqlite3.OperationalError("cannot rollback - no transaction is active"),
            sqlite3.OperationalError("database is locked"),
        ),
    ],
    ids=lambda error: type(error).__name__,
)
def test_passing_failures_are_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a field the projection cannot read"),
        KeyError("no such school"),
        sqlite3.IntegrityError("UNIQUE constraint failed"),
        sqlite3.OperationalError("no such table: shifts"),  # a bug, not a moment
        ConflictError("the shift is full"),  # a business rule: a retry gets the same answer
        raised_from(ValueError("bad data"), KeyError("x")),
        raised_while_handling(
            ValueError("refused"), TimeoutError("lock wait"), hidden=True
        ),  # the raiser said the timeout is not the story
    ],
    ids=lambda error: type(error).__name__,
)
def test_failures_that_would_repeat_are_not(error: Exception) -> None:
    assert not is_transient(error)
