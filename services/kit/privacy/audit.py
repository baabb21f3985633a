"""Every read of personal data, allowed or refused, as an entry in a tamper-evident log.

`AccessLog.record(...)` appends who read (subject, role, department), whose data
(person id), which fields, why (purpose or assignment), when, and whether it was
allowed. Entries are hash-chained (`audit_chain`), so `verify()` finds an edited,
removed or reordered entry. Against someone who can rewrite the whole table, keep the
head (`head()`) somewhere they cannot reach (publish it, log it) and pass it back as an
anchor: a cut-short or re-hashed chain then fails too.

The log lives in the service's own database (`audit_store`), never on the bus: the
entries name whose data was read, which is itself personal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from services.kit.groupcommit import GroupCommitter
from services.kit.privacy.audit_chain import (
    AccessRecord,
    Entry,
    Head,
    Outcome,
    Verification,
    verify_entries,
)
from services.kit.privacy.audit_store import AuditStore, PostgresAuditStore, SqliteAuditStore
from services.kit.privacy.database import SqliteDatabase, postgres_pool, sqlite_path
from services.kit.settings import Settings

__all__ = ["AccessLog", "AccessRecord", "Entry", "Head", "Outcome", "Verification"]

VERIFY_BATCH = 1000


class AccessLog:
    """A service's access log; thread-safe, and safe with several processes appending."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        # Each append waits for its commit (a read is logged before it is answered); the
        # appends of concurrent requests share one transaction and one commit, so the
        # log's write lock and fsync are not paid once per request under load. A
        # request's records are never split across transactions.
        self._committer = GroupCommitter(self._append_group)

    def _append_group(self, records: Sequence[AccessRecord]) -> list[Entry]:
        return self.store.append(records)

    @classmethod
    def open(cls, settings: Settings, service: str) -> AccessLog:
        store: AuditStore
        if settings.store == "postgres":
            store = PostgresAuditStore(postgres_pool(settings, service, max_size=2))
        else:
            store = SqliteAuditStore(SqliteDatabase(sqlite_path(settings, service)))
        return cls(store)

    def close(self) -> None:
        self.store.close()

    def record(
        self,
        *,
        subject: str,
        role: str,
        department: str | None,
        person_ids: Sequence[str],
        fields: Sequence[str],
        purpose: str,
        outcome: Outcome,
    ) -> list[Entry]:
        """One entry per person read, in one transaction (a page of names is one append)."""
        return self.append(
            [
                AccessRecord(subject, role, department, person_id, tuple(fields), purpose, outcome)
                for person_id in person_ids
            ]
        )

    def append(self, records: Sequence[AccessRecord]) -> list[Entry]:
        if not records:
            return []
        return list(self._committer.save(records))

    def who_viewed(self, person_id: str) -> list[Entry]:
        """Every access to this person's data, oldest first, refused ones included."""
        return self.store.by_person(person_id)

    def who_viewed_newest(
        self, person_id: str, *, before: int | None = None, limit: int = 100
    ) -> list[Entry]:
        """A page of `who_viewed`, newest first: entries before position `before`, if given."""
        return self.store.by_person_newest(person_id, before, limit)

    def head(self) -> Head | None:
        return self.store.head()

    def entries(self) -> Iterator[Entry]:
        after = 0
        while batch := self.store.entries(after, VERIFY_BATCH):
            yield from batch
            after = batch[-1].seq

    def verify(self, anchors: Sequence[Head] = ()) -> Verification:
        """Walk the whole chain; the first broken link, if any."""
        return verify_entries(self.entries(), anchors)
