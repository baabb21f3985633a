"""Per-person data keys on SQLite and on the embedded PostgreSQL."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator

import psycopg
import pytest
from pydantic import SecretStr

from services.kit.privacy.datakeys import ERASED, DataKeyError, DataKeys, PersonErasedError
from services.kit.settings import Settings

pytestmark = pytest.mark.timeout(120)
SERVICE = "volunteers"


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest) -> Settings:
    base: Settings = request.getfixturevalue(
        "pg_settings" if request.param == "postgres" else "sqlite_settings"
    )
    key = SecretStr(base64.b64encode(os.urandom(32)).decode())
    return base.model_copy(update={"cipher_key": key})


@pytest.fixture
def keys(store_settings: Settings) -> Iterator[DataKeys]:
    data_keys = DataKeys.open(store_settings, SERVICE)
    yield data_keys
    data_keys.close()


def test_round_trip_erasure_and_refusal(keys: DataKeys, store_settings: Settings) -> None:
    token = keys.encrypt("v-1", "display_name", "Zhou Jiu")
    other = keys.encrypt("v-2", "display_name", "Wu Shi")
    assert keys.decrypt(token, field="display_name") == "Zhou Jiu"
    with pytest.raises(DataKeyError):
        keys.decrypt(token, field="phone")

    assert keys.erase("v-1") is True
    assert keys.erase("v-1") is False
    assert keys.decrypt(token, field="display_name") is ERASED
    assert keys.decrypt(other, field="display_name") == "Wu Shi"
    with pytest.raises(PersonErasedError):
        keys.encrypt("v-1", "display_name", "Zhou Jiu")

    fresh = DataKeys.open(store_settings, SERVICE)
    try:
        assert fresh.is_erased("v-1") and not fresh.is_erased("v-2")
        assert fresh.decrypt(token, field="display_name") is ERASED
    finally:
        fresh.close()


def test_a_page_of_tokens_is_prefetched_in_one_query(
    keys: DataKeys, store_settings: Settings
) -> None:
    tokens = {f"v-{n}": keys.encrypt(f"v-{n}", "display_name", f"Name {n}") for n in range(3)}
    keys.erase("v-2")
    fresh = DataKeys.open(store_settings, SERVICE)
    try:
        records = fresh.store.by_kids([t.split(":")[1] for t in tokens.values()] + ["nope"])
        assert {r.person_id: r.wrapped is None for r in records} == {
            "v-0": False,
            "v-1": False,
            "v-2": True,
        }
        fresh.prefetch(tokens.values())
        opened = [fresh.decrypt(t, field="display_name") for t in tokens.values()]
        assert opened == ["Name 0", "Name 1", ERASED]
    finally:
        fresh.close()


def test_postgres_raw_table_after_erasure_holds_nothing_that_decrypts(
    pg_settings: Settings,
) -> None:
    settings = pg_settings.model_copy(
        update={"cipher_key": SecretStr(base64.b64encode(os.urandom(32)).decode())}
    )
    keys = DataKeys.open(settings, SERVICE)
    try:
        tokens = [keys.encrypt("v-1", "display_name", f"name {i}") for i in range(3)]
        keys.erase("v-1")
        with psycopg.connect(
            host=settings.postgres_host,
            port=settings.postgres_port,
            user=settings.postgres_user,
            dbname=settings.postgres_dbname,
        ) as raw:
            rows = raw.execute(
                "SELECT person_id, kid, wrapped_key, erased_at FROM person_data_keys"
            ).fetchall()
        assert len(rows) == 1
        person_id, kid, wrapped, erased_at = rows[0]
        assert (person_id, wrapped) == ("v-1", None) and erased_at is not None
        assert all(token.split(":")[1] == kid for token in tokens)
        for token in tokens:
            assert keys.decrypt(token, field="display_name") is ERASED
    finally:
        keys.close()


def test_concurrent_first_encryptions_agree_on_one_key(store_settings: Settings) -> None:
    processes = [DataKeys.open(store_settings, SERVICE) for _ in range(3)]
    tokens: list[str] = []
    barrier = threading.Barrier(len(processes))

    def write(keys: DataKeys) -> None:
        barrier.wait()
        tokens.append(keys.encrypt("v-race", "display_name", "Zheng"))

    threads = [threading.Thread(target=write, args=(k,)) for k in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(tokens) == 3 and len({t.split(":")[1] for t in tokens}) == 1
        assert {processes[2].decrypt(t, field="display_name") for t in tokens} == {"Zheng"}
    finally:
        for keys in processes:
            keys.close()
