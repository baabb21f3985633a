"""Group commit: the saves of concurrent commands share one transaction.

An event store that keeps its log in commit order (PostgreSQL: a table lock
per insert) commits one transaction at a time, so commands that each commit
alone are capped by one commit's round trip, however many run at once. Here
the first thread to save leads: it writes every save queued at that moment in
one transaction, answers each, and hands the lead to the next waiting thread.

Each command's events stay atomic: if the shared transaction fails on a
version conflict, the saves are written again one by one, so only the command
that lost the race sees the conflict (and `run_command` retries it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import IntegrityError

# A transaction holds at most this many commands' events: a failed group is
# written again one by one, and that should stay cheap.
MAX_GROUP = 32

Write = Callable[[Sequence[Any]], Sequence[Any] | None]


@dataclass
class _Save:
    """One command's stored events, waiting for their transaction."""

    events: Sequence[Any]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    ids: Sequence[Any] = ()
    error: BaseException | None = None


class GroupCommitter:
    """Writes concurrent saves in shared transactions; see the module docstring.

    `write(stored_events)` stores events in one transaction and returns their
    notification ids, in order (eventsourcing's `recorder.insert_events`).
    """

    def __init__(self, write: Write) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._queue: list[_Save] = []
        self._leading = False

    def save(self, events: Sequence[Any]) -> Sequence[Any]:
        """Store the events atomically (possibly with other saves); their notification ids."""
        mine = _Save(events)
        with self._lock:
            self._queue.append(mine)
            leader = not self._leading
            self._leading = True
        if not leader:
            mine.done.wait()
            if mine.lead:  # Handed the lead: write what has queued up meanwhile.
                mine.done.clear()
                self._lead()
                mine.done.wait()
        else:
            self._lead()
        if mine.error is not None:
            raise mine.error
        return mine.ids

    def _lead(self) -> None:
        with self._lock:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        try:
            self._write_group(group)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
            for save in group:
                save.done.set()
            if successor is not None:
                successor.lead = True
                successor.done.set()

    def _write_group(self, group: list[_Save]) -> None:
        try:
            ids = self._write([event for save in group for event in save.events])
        except IntegrityError as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            for save in group:  # Find who conflicted: the others are written after all.
                try:
                    save.ids = self._write(save.events) or ()
                except Exception as single:
                    save.error = single
            return
        except BaseException as exc:
            for save in group:
                save.error = exc
            return
        if not ids:
            return
        offset = 0
        for save in group:
            save.ids = ids[offset : offset + len(save.events)]
            offset += len(save.events)
