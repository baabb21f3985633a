"""A small SQLite read model implementing the kit's `Projection` protocol.

It stores the consumer's stream position in the same transaction as its rows,
so applying a batch twice changes nothing. `fail_on` makes it raise a
non-transient error for chosen counter ids (a poison message).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from services.kit.consumer import Delivered


class PoisonError(ValueError):
    """Raised for a counter id the test marked as poison."""


class CounterProjection:
    def __init__(self, path: Path, fail_on: set[str] | None = None) -> None:
        self.path = Path(path)
        self.fail_on = set(fail_on or ())
        self.attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS positions (consumer TEXT PRIMARY KEY, seq INTEGER);
                CREATE TABLE IF NOT EXISTS applied (
                    seq INTEGER PRIMARY KEY, event_id TEXT UNIQUE, counter_id TEXT, version INTEGER
                );
                """
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def position(self, consumer: str) -> int:
        with self._lock, self._connect() as db:
            row = db.execute("SELECT seq FROM positions WHERE consumer = ?", (consumer,)).fetchone()
        return int(row[0]) if row else 0

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        with self._lock:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute(
                    "SELECT seq FROM positions WHERE consumer = ?", (consumer,)
                ).fetchone()
                position = int(row[0]) if row else 0
                for delivered in events:
                    if delivered.stream_seq <= position:
                        continue  # already applied: redelivery changes nothing
                    data = delivered.envelope.data
                    counter_id = str(getattr(data, "counter_id", ""))
                    if counter_id in self.fail_on:
                        self.attempts[counter_id] = self.attempts.get(counter_id, 0) + 1
                        raise PoisonError(f"poison counter {counter_id}")
                    db.execute(
                        "INSERT INTO applied (seq, event_id, counter_id, version)"
                        " VALUES (?, ?, ?, ?)",
                        (
                            delivered.stream_seq,
                            delivered.envelope.id,
                            counter_id,
                            getattr(data, "version", None),
                        ),
                    )
                    position = delivered.stream_seq
                db.execute(
                    "INSERT INTO positions (consumer, seq) VALUES (?, ?)"
                    " ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
                    (consumer, position),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            finally:
                db.close()

    def rows(self) -> list[tuple[int, str, str, int]]:
        with self._lock, self._connect() as db:
            return list(
                db.execute("SELECT seq, event_id, counter_id, version FROM applied ORDER BY seq")
            )

    def count(self) -> int:
        with self._lock, self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM applied").fetchone()[0])
