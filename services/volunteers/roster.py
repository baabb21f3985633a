"""Which volunteers each school has: the registrations in the store, kept in memory.

A listing by name is for one school, and the store has no index by school. A volunteer's
home school is set at registration and never changes, so the roster only grows: each
read first folds in the registrations stored since the last one (one query on the
notification log, filtered by the registration's topic), and a replica that starts
reads them all once.
"""

from __future__ import annotations

from collections.abc import Callable
from threading import Lock
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.utils import get_topic

from services.volunteers.domain import Volunteer

BATCH = 1000


class SchoolRoster:
    """The ids of each school's volunteers, in the order they were registered."""

    def __init__(
        self, recorder: ApplicationRecorder, decode: Callable[[Notification], Any]
    ) -> None:
        self._recorder = recorder
        self._decode = decode
        self._topic = get_topic(Volunteer.Registered)  # type: ignore[attr-defined]
        self._position = 0
        self._schools: dict[str, list[UUID]] = {}
        self._lock = Lock()

    def volunteers_at(self, school_id: str) -> list[UUID]:
        with self._lock:
            self._catch_up()
            return list(self._schools.get(school_id, ()))

    def _catch_up(self) -> None:
        while True:
            batch = self._recorder.select_notifications(
                self._position, BATCH, topics=[self._topic], inclusive_of_start=False
            )
            for notification in batch:
                registered = self._decode(notification)
                if registered.school_id is not None:
                    school = self._schools.setdefault(registered.school_id, [])
                    school.append(UUID(str(notification.originator_id)))
            if batch:
                self._position = batch[-1].id
            if len(batch) < BATCH:
                return
