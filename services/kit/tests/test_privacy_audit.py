"""The access log on SQLite: chained entries, tamper detection, who viewed whom."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.kit.privacy.audit import AccessLog, AccessRecord
from services.kit.privacy.audit_chain import GENESIS, Entry
from services.kit.settings import Settings

SERVICE = "volunteers"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store="sqlite", state_dir=tmp_path / "state")


@pytest.fixture
def log(settings: Settings) -> Iterator[AccessLog]:
    access_log = AccessLog.open(settings, SERVICE)
    yield access_log
    access_log.close()


def raw(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.state_dir / "data" / f"{SERVICE}.sqlite3", isolation_level=None)


def fill(log: AccessLog, n: int = 6) -> None:
    for i in range(n):
        log.record(
            subject=f"staff-{i % 2}",
            role="coordinator",
            department="cyl",
            person_ids=[f"v-{i % 3}"],
            fields=["display_name"],
            purpose="school:yz-dongguan-primary",
            outcome="allowed" if i != 4 else "denied",
        )


def test_entries_chain_from_genesis_and_verify(log: AccessLog) -> None:
    fill(log)
    entries = list(log.entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    result = log.verify()
    assert result.ok and result.checked == 6 and result.head == entries[-1].head


def test_who_viewed_a_person_includes_refused_reads(log: AccessLog) -> None:
    fill(log)
    viewed = log.who_viewed("v-1")
    assert [(e.seq, e.subject, e.outcome) for e in viewed] == [
        (2, "staff-1", "allowed"),
        (5, "staff-0", "denied"),
    ]
    assert viewed[0].fields == ("display_name",) and viewed[0].department == "cyl"
    assert log.who_viewed("nobody") == []


def test_a_page_of_people_is_one_append_one_entry_each(log: AccessLog) -> None:
    entries = log.record(
        subject="s",
        role="coordinator",
        department=None,
        person_ids=["a", "b", "c"],
        fields=["phone", "display_name", "phone"],
        purpose="shift:42",
        outcome="allowed",
    )
    assert [e.person_id for e in entries] == ["a", "b", "c"]
    assert entries[0].fields == ("display_name", "phone")
    assert log.verify().ok


@pytest.mark.parametrize(
    ("tamper", "broken_at"),
    [
        ("UPDATE access_log SET subject = 'someone-else' WHERE seq = 3", 3),
        ("UPDATE access_log SET outcome = 'allowed' WHERE seq = 5", 5),
        ("UPDATE access_log SET fields = '[]' WHERE seq = 2", 2),
        ("DELETE FROM access_log WHERE seq = 3", 3),
        ("DELETE FROM access_log WHERE seq = 1", 1),
        # Reorder: rows 2 and 3 swap places, hashes and all.
        (
            "UPDATE access_log SET seq = CASE seq WHEN 2 THEN 3 WHEN 3 THEN 2 END + 100"
            " WHERE seq IN (2, 3); UPDATE access_log SET seq = seq - 100 WHERE seq > 100",
            2,
        ),
    ],
)
def test_tampering_with_a_stored_row_is_found(
    log: AccessLog, settings: Settings, tamper: str, broken_at: int
) -> None:
    fill(log)
    with raw(settings) as conn:
        conn.executescript(tamper)
    result = log.verify()
    assert not result.ok
    assert result.broken_at == broken_at, result
    assert result.checked == broken_at - 1


def test_a_cut_or_rewritten_chain_needs_an_anchor(log: AccessLog, settings: Settings) -> None:
    fill(log)
    anchor = log.head()
    assert anchor is not None
    with raw(settings) as conn:
        conn.execute("DELETE FROM access_log WHERE seq = 6")
    assert log.verify().ok  # a shorter chain is still a chain
    result = log.verify([anchor])
    assert not result.ok and "cut short" in result.reason

    # Rewriting from scratch with fresh hashes, minus the refused read at 5.
    entries = [e for e in log.entries() if e.seq != 5]
    with raw(settings) as conn:
        conn.execute("DELETE FROM access_log")
    log.append(
        [
            AccessRecord(
                e.subject,
                e.role,
                e.department,
                e.person_id,
                e.fields,
                e.purpose,
                "allowed",
                datetime.fromisoformat(e.at),
            )
            for e in entries
        ]
        + [
            AccessRecord("x", "viewer", None, f"v-{i}", ("display_name",), "p", "allowed")
            for i in (8, 9)
        ]
    )
    assert log.verify().ok and log.head().seq == anchor.seq  # type: ignore[union-attr]
    result = log.verify([anchor])
    assert not result.ok and "rewritten" in result.reason


def test_concurrent_appenders_never_fork_the_chain(settings: Settings) -> None:
    logs = [AccessLog.open(settings, SERVICE) for _ in range(4)]
    barrier = threading.Barrier(len(logs))

    def write(log: AccessLog) -> None:
        barrier.wait()
        for i in range(25):
            log.record(
                subject="s",
                role="coordinator",
                department="cyl",
                person_ids=[f"p{i}", f"q{i}"],
                fields=["display_name"],
                purpose="p",
                outcome="allowed",
            )

    threads = [threading.Thread(target=write, args=(log,)) for log in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        result = logs[0].verify()
        assert result.ok and result.checked == 4 * 25 * 2
    finally:
        for log in logs:
            log.close()


def test_concurrent_pages_share_commits_but_each_stays_whole(log: AccessLog) -> None:
    threads_n, pages, size = 4, 20, 5
    barrier = threading.Barrier(threads_n)
    appends: list[int] = []
    append = log.store.append

    def counted(records: list[AccessRecord]) -> list[Entry]:
        appends.append(len(records))
        return append(records)

    log.store.append = counted  # type: ignore[method-assign]
    returned: list[list[Entry]] = []

    def write(subject: str) -> None:
        barrier.wait()
        for page in range(pages):
            people = [f"{subject}-{page}-{n}" for n in range(size)]
            entries = log.record(
                subject=subject,
                role="coordinator",
                department="cyl",
                person_ids=people,
                fields=["display_name"],
                purpose="p",
                outcome="allowed",
            )
            assert [e.person_id for e in entries] == people
            returned.append(entries)

    threads = [threading.Thread(target=write, args=(f"s{n}",)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(returned) == threads_n * pages
    for entries in returned:  # a page's entries are consecutive: one transaction
        assert [e.seq for e in entries] == list(range(entries[0].seq, entries[0].seq + size))
    assert sum(appends) == threads_n * pages * size and all(n % size == 0 for n in appends)
    assert log.verify().ok


def test_records_are_validated() -> None:
    with pytest.raises(ValueError, match="fields"):
        AccessRecord("s", "r", None, "p", (), "why", "allowed")
    with pytest.raises(ValueError, match="outcome"):
        AccessRecord("s", "r", None, "p", ("f",), "why", "maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time zone"):
        AccessRecord("s", "r", None, "p", ("f",), "why", "allowed", datetime(2026, 1, 1))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert AccessRecord("s", "r", None, "p", ("b", "a"), "w", "denied", at).fields == ("a", "b")
