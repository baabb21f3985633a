"""Which failures a consumer retries for as long as it takes, and which may be poison."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, RecordConflictError
from psycopg.errors import DeadlockDetected, SerializationFailure

from services.kit.errors import ConflictError
from services.kit.transient import TransientError, is_transient


class ReadModelRebuilding(TransientError):
    """A projection's own passing failure."""


def raised_from(error: Exception, cause: Exception) -> Exception:
    try:
        raise error from cause
    except Exception as exc:  # noqa: BLE001 - returned for the test to classify
        return exc


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("database is locked"),
        IntegrityError("version 3 of aggregate exists"),
        RecordConflictError("tracking record exists"),
        OperationalError("could not connect"),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        SerializationFailure("could not serialize access"),
        DeadlockDetected("deadlock detected"),
        ConnectionResetError(),
        TimeoutError(),
        ReadModelRebuilding("back in a moment"),
        raised_from(RuntimeError("projection failed"), sqlite3.OperationalError("locked")),
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
        ConflictError("the shift is full"),  # a business rule: a retry gets the same answer
        raised_from(ValueError("bad data"), KeyError("x")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_failures_that_would_repeat_are_not(error: Exception) -> None:
    assert not is_transient(error)
