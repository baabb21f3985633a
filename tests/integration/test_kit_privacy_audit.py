"""The access log on SQLite and on the embedded PostgreSQL: concurrency and tampering."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from services.kit.privacy.audit import AccessLog
from services.kit.settings import Settings

pytestmark = pytest.mark.timeout(120)
SERVICE = "volunteers"


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest) -> Settings:
    return request.getfixturevalue(
        "pg_settings" if request.param == "postgres" else "sqlite_settings"
    )


@pytest.fixture
def log(store_settings: Settings) -> Iterator[AccessLog]:
    access_log = AccessLog.open(store_settings, SERVICE)
    yield access_log
    access_log.close()


def read(log: AccessLog, person: str, outcome: str = "allowed") -> None:
    log.record(
        subject="coord-1",
        role="coordinator",
        department="cyl",
        person_ids=[person],
        fields=["display_name"],
        purpose="school:yz-dongguan-primary",
        outcome=outcome,  # type: ignore[arg-type]
    )


def test_concurrent_appenders_in_several_processes_keep_one_chain(
    store_settings: Settings,
) -> None:
    logs = [AccessLog.open(store_settings, SERVICE) for _ in range(4)]
    barrier = threading.Barrier(len(logs))

    def write(log: AccessLog) -> None:
        barrier.wait()
        for i in range(30):
            read(log, f"v-{i}")

    threads = [threading.Thread(target=write, args=(log,)) for log in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        result = logs[0].verify()
        assert result.ok and result.checked == 120
        assert len(logs[1].who_viewed("v-7")) == 4
    finally:
        for log in logs:
            log.close()


def test_postgres_tampering_is_found(pg_settings: Settings) -> None:
    log = AccessLog.open(pg_settings, SERVICE)
    try:
        for i in range(5):
            read(log, f"v-{i}", "denied" if i == 2 else "allowed")
        assert log.verify().ok
        with psycopg.connect(
            host=pg_settings.postgres_host,
            port=pg_settings.postgres_port,
            user=pg_settings.postgres_user,
            dbname=pg_settings.postgres_dbname,
            autocommit=True,
        ) as raw:
            raw.execute("UPDATE access_log SET outcome = 'allowed' WHERE seq = 3")
            result = log.verify()
            assert (result.ok, result.broken_at) == (False, 3)
            raw.execute("UPDATE access_log SET outcome = 'denied' WHERE seq = 3")
            assert log.verify().ok
            raw.execute("DELETE FROM access_log WHERE seq = 2")
            result = log.verify()
            assert (result.ok, result.broken_at) == (False, 2)
    finally:
        log.close()


def test_append_rate(log: AccessLog, store_settings: Settings) -> None:
    """Prints appends per second, one record per transaction and 20 per transaction."""
    n = 300
    started = time.perf_counter()
    for i in range(n):
        read(log, f"v-{i}")
    single = n / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(n // 20):
        log.record(
            subject="coord-1",
            role="coordinator",
            department="cyl",
            person_ids=[f"p-{i}-{j}" for j in range(20)],
            fields=["display_name"],
            purpose="page",
            outcome="allowed",
        )
    paged = n / (time.perf_counter() - started)
    started = time.perf_counter()
    result = log.verify()
    verify_rate = result.checked / (time.perf_counter() - started)
    assert result.ok and result.checked == 2 * n
    print(
        f"\n{store_settings.store}: {single:.0f} appends/s one per transaction, "
        f"{paged:.0f} records/s in pages of 20, verify {verify_rate:.0f} entries/s"
    )


def test_postgres_schema_per_service(pg_settings: Settings) -> None:
    settings = pg_settings.model_copy(update={"postgres_schema": "volunteers"})
    log = AccessLog.open(settings, SERVICE)
    try:
        read(log, "v-1")
        assert log.verify().ok
    finally:
        log.close()
    with psycopg.connect(
        host=pg_settings.postgres_host,
        port=pg_settings.postgres_port,
        user=pg_settings.postgres_user,
        dbname=pg_settings.postgres_dbname,
    ) as raw:
        schemas = raw.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'access_log'"
        ).fetchall()
    assert schemas == [("volunteers",)]


def test_who_viewed_newest_pages_one_persons_entries_back_from_the_newest(log: AccessLog) -> None:
    for i in range(5):
        read(log, "v-1", "denied" if i == 2 else "allowed")
        read(log, "v-2")
    everything = log.who_viewed("v-1")
    assert [e.person_id for e in everything] == ["v-1"] * 5

    newest = log.who_viewed_newest("v-1", limit=2)
    assert newest == everything[::-1][:2]
    older = log.who_viewed_newest("v-1", before=newest[-1].seq, limit=10)
    assert older == everything[::-1][2:]
    assert log.who_viewed_newest("v-1", before=everything[0].seq) == []
    assert log.who_viewed_newest("nobody") == []
