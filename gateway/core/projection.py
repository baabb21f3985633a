"""The base of every feature's read model: a SQLite projection of a stream's events.

It implements the kit's `Projection` protocol: `apply` writes the state and the
consumer's stream position in one transaction, so a redelivered event changes
nothing and a failing event leaves nothing behind. It is synchronous and
thread-safe (one connection guarded by a lock): call it through
`asyncio.to_thread`. A subclass gives its tables (`SCHEMA`, `TABLES`, `DUMPED`)
and `apply_event`; positions, cursors of the stream, reset and change
notification are here.

A busy or locked database file (another process holds its write lock longer than
the busy timeout, or the disk is away) is a `ReadModelBusyError`: a transient
error the consumer retries in order for as long as it takes, never a poison
message to dead-letter.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Self

from contracts.events import ContractEvent
from services.kit.consumer import Delivered
from services.kit.transient import TransientError

log = logging.getLogger(__name__)

POSITIONS = """
CREATE TABLE IF NOT EXISTS positions (
    consumer TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
"""
# SQLite's primary result codes that say "not now" rather than "never".
BUSY_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PROTOCOL,
    }
)
# Older SQLite builds may not report a code: then the message decides.
BUSY_MESSAGES = ("locked", "busy", "disk i/o error", "unable to open", "database or disk is full")


class ReadModelBusyError(TimeoutError, TransientError):
    """The read model's database could not be written now: retry, do not dead-letter.

    A `TimeoutError` because that is what it is (SQLite gave up waiting for a lock or
    the disk); a `TransientError` because that is how a projection tells the kit's
    consumers a failure will pass, whatever else they count as transient.
    """


class ReadModelClosedError(RuntimeError):
    """The read model is used before `open()` or after `close()`."""


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether a SQLite error may pass by itself (a lock, the disk), as opposed to a bug."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in BUSY_CODES
    message = str(exc).lower()
    return any(words in message for words in BUSY_MESSAGES)


@contextmanager
def busy_is_transient() -> Iterator[None]:
    """Turn a SQLite lock or disk error into `ReadModelBusyError`."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            raise ReadModelBusyError(f"read model busy: {exc}") from exc
        raise


ChangeCallback = Callable[[frozenset[str]], None]


class SqliteProjection:
    """State kept up to date from events, with the stream position stored beside it."""

    SCHEMA: ClassVar[str] = ""
    """The subclass's DDL (CREATE ... IF NOT EXISTS), run on open and after a reset."""
    TABLES: ClassVar[tuple[str, ...]] = ()
    """Tables a reset drops (positions are dropped too)."""
    DUMPED: ClassVar[Mapping[str, str]] = {}
    """Tables in the canonical dump, with their sort keys."""
    VERSION: ClassVar[int] = 0
    """The layout of the tables (SQLite's `user_version`). Bump it when `SCHEMA` changes
    in a way `CREATE ... IF NOT EXISTS` cannot apply (a dropped or changed column): a file
    of another version is emptied on open, positions included, so the durable consumers
    replay the streams into the new layout. Read models are disposable; state a former
    layout kept (personal data, say) is overwritten, not left in free pages."""

    DATA_VERSION_FRESH_S: ClassVar[float] = 0.05
    """How stale `version` may be about another connection's commit (not about a batch
    applied here, which it sees at once)."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 5.0) -> None:
        self.path = str(path)
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._callbacks: list[ChangeCallback] = []
        self._applied = 0  # Batches committed here: with SQLite's data_version, the version.
        self._watch: sqlite3.Connection | None = None
        self._data_version: tuple[float, int] | None = None  # (read at, value)
        self._watch_lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    def open(self) -> Self:
        with self._lock, busy_is_transient():
            if self._conn is not None:
                return self
            if self.path != ":memory:" and not self.path.startswith("file:"):
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                check_same_thread=False,
                isolation_level=None,
                uri=True,
                timeout=self.busy_timeout_s,
            )
            try:
                conn.row_factory = sqlite3.Row
                if self.path != ":memory:":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                # Deleted and updated rows are zeroed on disk: an erasure or a migration
                # leaves nothing of what was there in the file's free pages.
                conn.execute("PRAGMA secure_delete=ON")
                if self._migrate(conn):
                    self._compact(conn)
                conn.executescript(self._schema())
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self

    def open_shared(self, *, timeout_s: float = 30.0) -> Self:
        """Open a file that another process may be opening or writing at the same moment.

        Switching a new file to WAL takes an exclusive lock that SQLite does not wait for,
        so a gateway and a projector starting together on one file can see it locked.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.open()
            except ReadModelBusyError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None

    def reset(self) -> None:
        """Drop every table (state and positions) and create them empty."""
        with self._locked() as conn:
            self.forget_recent()  # Under the lock: no apply can keep a row of the old state.
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in (*self.TABLES, "positions"):
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.executescript(self._schema())

    def _schema(self) -> str:
        return self.SCHEMA + POSITIONS

    def _migrate(self, conn: sqlite3.Connection) -> bool:
        """Empty a file written under another `VERSION`; whether anything was dropped.

        In one write transaction, so that two processes opening the file together (a
        gateway and its projector) migrate it once.
        """
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            dropped = []
            if found != self.VERSION:
                # Every table of the file, not only today's: a former layout's tables go too.
                dropped = [
                    row[0]
                    for row in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite_%'"
                    ).fetchall()
                ]
                for table in dropped:
                    conn.execute(f'DROP TABLE IF EXISTS "{table}"')
                conn.execute(f"PRAGMA user_version = {int(self.VERSION)}")
                if dropped:
                    log.info(
                        "read model %s: layout %s replaced by %s; it is rebuilt from the streams",
                        self.path,
                        found,
                        self.VERSION,
                    )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return bool(dropped)

    def _compact(self, conn: sqlite3.Connection) -> None:
        """Rewrite the file and empty its WAL, so that no page of the former layout stays."""
        conn.execute("VACUUM")
        if self.path != ":memory:":
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock, busy_is_transient():
            if self._conn is None:
                raise ReadModelClosedError("the read model is not open")
            yield self._conn

    # -- change notification ----------------------------------------------------------------

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call `callback(keys)` after each committed apply that changed something watched.

        It runs in the applying thread: hop to an event loop with
        `loop.call_soon_threadsafe`. Returns a function that unregisters it.
        """
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def _notify(self, keys: set[str]) -> None:
        changed = frozenset(keys)
        for callback in list(self._callbacks):
            try:
                callback(changed)
            except Exception:
                log.exception("read model change callback failed")

    # -- Projection protocol ----------------------------------------------------------------

    def position(self, consumer: str) -> int:
        with self._locked() as conn:
            return self._position(conn, consumer)

    @staticmethod
    def _position(conn: sqlite3.Connection, consumer: str) -> int:
        row = conn.execute("SELECT position FROM positions WHERE consumer = ?", (consumer,))
        found = row.fetchone()
        return int(found[0]) if found else 0

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        """Apply the events newer than the stored position, and store it, in one transaction."""
        changed: set[str] = set()
        with self._locked() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                start = last = self._position(conn, consumer)
                fresh = []
                for delivered in events:
                    if delivered.stream_seq <= last:
                        continue  # Already applied: a redelivery changes nothing.
                    fresh.append(delivered.envelope.data)
                    last = delivered.stream_seq
                self.apply_events(conn, fresh, changed)
                self.before_commit(conn)
                if last > start:
                    conn.execute(
                        "INSERT INTO positions (consumer, position) VALUES (?, ?) "
                        "ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
                        (consumer, last),
                    )
                conn.execute("COMMIT")
                if last > start:
                    self._applied += 1
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if changed:
                self._after_commit(conn, changed)
        if changed:
            self._notify(changed)

    def version(self) -> tuple[int, int]:
        """Changes whenever the state may have: a batch applied here at once, any other
        commit to the file (SQLite's `data_version`: another process's projector, say)
        within `DATA_VERSION_FRESH_S`. Answers computed from the state may be kept while it
        stays the same.

        `data_version` is read on a connection of its own, which sees every other
        connection's commits, this one's included; asked before every kept answer, it waits
        for no lock held by a batch being applied, and is read again only when the last
        reading is older than the bound (sixteen dashboards asking at once read it once).
        An in-memory model has no other writer.
        """
        if self.path == ":memory:":
            return self._applied, 0
        seen = self._data_version
        if seen is not None and time.monotonic() - seen[0] < self.DATA_VERSION_FRESH_S:
            return self._applied, seen[1]
        with self._watch_lock, busy_is_transient():
            if self._watch is None:
                if not self.is_open:
                    raise ReadModelClosedError("the read model is not open")
                self._watch = sqlite3.connect(
                    self.path if self.path.startswith("file:") else self._read_only_uri(),
                    uri=True,
                    check_same_thread=False,
                    isolation_level=None,
                    timeout=self.busy_timeout_s,
                )
            version = int(self._watch.execute("PRAGMA data_version").fetchone()[0])
            self._data_version = (time.monotonic(), version)
        return self._applied, version

    def _read_only_uri(self) -> str:
        return f"{Path(self.path).resolve().as_uri()}?mode=ro"

    def apply_events(
        self, conn: sqlite3.Connection, events: Sequence[ContractEvent], changed: set[str]
    ) -> None:
        """Write a batch's events, in order, inside the open transaction.

        By default one `apply_event` each; a model whose busiest events come in runs
        writes a run with one `executemany` per statement instead (the volunteers').
        """
        for event in events:
            self.apply_event(conn, event, changed)

    def _after_commit(self, conn: sqlite3.Connection, changed: set[str]) -> None:
        try:
            self.after_commit(conn, changed)
        except Exception:
            log.exception("read model %s: after-commit hook failed", self.path)
            self.forget_recent(changed)

    def after_commit(self, conn: sqlite3.Connection, changed: set[str]) -> None:
        """After a batch that changed watched keys has committed, before subscribers hear of
        it, with the connection still held: a model may keep the changed items as they now
        are, so that pushes need not wait for the lock while the next batch is applied. By
        default nothing."""

    def forget_recent(self, keys: set[str] | None = None) -> None:
        """Drop what `after_commit` kept (for `keys`, or all of it); by default nothing."""

    def before_commit(self, conn: sqlite3.Connection) -> None:
        """Write what the batch's events gathered (totals summed over the batch), in its
        transaction; by default nothing. Called once per `apply`, after the last event."""

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        """Write one event's effect inside the open transaction; add watched keys to `changed`.

        Tolerant reader: ignore event types the model does not use.
        """
        raise NotImplementedError

    # -- reads ------------------------------------------------------------------------------

    def canonical_dump(self) -> str:
        """Deterministic JSON of the whole state (not positions), to compare rebuilds."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self._locked() as conn:
            for table, order in self.DUMPED.items():
                rows = conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
                out[table] = [dict(row) for row in rows]
        return json.dumps(out, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
