"""Access records and the hash chain that makes editing them detectable.

Each entry's hash is SHA-256 over a canonical JSON encoding (sorted keys, no spaces,
UTF-8) of its position, the previous entry's hash and the record itself. Changing,
removing or reordering any stored entry breaks the chain at that point. Removing the
newest entries, or rewriting the whole chain with fresh hashes, leaves a chain that
checks out on its own: only a head kept elsewhere (an anchor: `Head`) shows that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

GENESIS = "0" * 64
"""The previous hash of the first entry."""

Outcome = Literal["allowed", "denied"]


@dataclass(frozen=True)
class AccessRecord:
    """One read (or refused read) of a person's personal data."""

    subject: str
    role: str
    department: str | None
    person_id: str
    fields: tuple[str, ...]
    purpose: str
    """Why it was allowed: the assignment, scope or legal basis (or what was claimed)."""
    outcome: Outcome
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if not self.fields:
            raise ValueError("an access record names the fields read")
        if self.outcome not in ("allowed", "denied"):
            raise ValueError(f"outcome must be allowed or denied, not {self.outcome!r}")
        if self.at.tzinfo is None:
            raise ValueError("an access record's time must carry its time zone")
        # One spelling per set of fields, so equal reads hash alike.
        object.__setattr__(self, "fields", tuple(sorted(set(self.fields))))


@dataclass(frozen=True)
class Head:
    """The newest entry's position and hash: what an anchor records."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Entry:
    """A stored access record with its place in the chain."""

    seq: int
    at: str
    """ISO 8601, UTC, microseconds: stored and hashed as this exact text."""
    subject: str
    role: str
    department: str | None
    person_id: str
    fields: tuple[str, ...]
    purpose: str
    outcome: str
    prev_hash: str
    hash: str

    @property
    def head(self) -> Head:
        return Head(self.seq, self.hash)


def canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(
    seq: int,
    prev_hash: str,
    at: str,
    subject: str,
    role: str,
    department: str | None,
    person_id: str,
    fields: Sequence[str],
    purpose: str,
    outcome: str,
) -> str:
    document = {
        "seq": seq,
        "prev": prev_hash,
        "at": at,
        "subject": subject,
        "role": role,
        "department": department,
        "person_id": person_id,
        "fields": list(fields),
        "purpose": purpose,
        "outcome": outcome,
    }
    return hashlib.sha256(canonical(document)).hexdigest()


def chain(head: Head | None, records: Iterable[AccessRecord]) -> list[Entry]:
    """The entries that follow `head` (None: an empty log) for these records."""
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    entries = []
    for record in records:
        seq += 1
        at = record.at.astimezone(UTC).isoformat(timespec="microseconds")
        digest = entry_hash(
            seq,
            prev,
            at,
            record.subject,
            record.role,
            record.department,
            record.person_id,
            record.fields,
            record.purpose,
            record.outcome,
        )
        entries.append(
            Entry(
                seq,
                at,
                record.subject,
                record.role,
                record.department,
                record.person_id,
                record.fields,
                record.purpose,
                record.outcome,
                prev,
                digest,
            )
        )
        prev = digest
    return entries


@dataclass(frozen=True)
class Verification:
    """What `verify` found: how far the chain holds, and the first place it does not."""

    checked: int
    head: Head | None
    broken_at: int | None = None
    """The position of the first entry that does not follow from the ones before it."""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_entries(entries: Iterable[Entry], anchors: Sequence[Head] = ()) -> Verification:
    """Walk the chain in stored order; stop at the first broken link."""
    expected_seq, prev = 1, GENESIS
    wanted = {anchor.seq: anchor.hash for anchor in anchors}
    checked = 0
    last: Head | None = None
    for entry in entries:
        if entry.seq != expected_seq:
            return Verification(
                checked, last, expected_seq, f"entry {expected_seq} is missing (found {entry.seq})"
            )
        if entry.prev_hash != prev:
            return Verification(
                checked, last, entry.seq, "its previous hash is not the hash of the entry before"
            )
        recomputed = entry_hash(
            entry.seq,
            entry.prev_hash,
            entry.at,
            entry.subject,
            entry.role,
            entry.department,
            entry.person_id,
            entry.fields,
            entry.purpose,
            entry.outcome,
        )
        if recomputed != entry.hash:
            return Verification(checked, last, entry.seq, "its content does not match its hash")
        if entry.seq in wanted and wanted.pop(entry.seq) != entry.hash:
            return Verification(
                checked,
                last,
                entry.seq,
                "it differs from the anchored hash: the chain was rewritten",
            )
        checked += 1
        last = entry.head
        expected_seq, prev = entry.seq + 1, entry.hash
    if wanted:
        missing = min(wanted)
        return Verification(
            checked, last, missing, f"anchored entry {missing} is gone: the log was cut short"
        )
    return Verification(checked, last)
