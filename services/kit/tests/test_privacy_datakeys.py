"""Per-person data keys on SQLite: tokens open only as written, erasure is final."""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.kit.privacy.datakey_store import KeyRecord
from services.kit.privacy.datakeys import (
    ERASED,
    DataKeyError,
    DataKeys,
    PersonErasedError,
    is_token,
    master_key,
)
from services.kit.settings import Settings

SERVICE = "volunteers"


def settings_for(tmp_path: Path, key: bytes | None = None) -> Settings:
    key = key if key is not None else os.urandom(32)
    return Settings(
        store="sqlite",
        state_dir=tmp_path / "state",
        cipher_key=SecretStr(base64.b64encode(key).decode()),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def keys(settings: Settings) -> Iterator[DataKeys]:
    data_keys = DataKeys.open(settings, SERVICE)
    yield data_keys
    data_keys.close()


def test_a_field_round_trips_and_reads_nothing_in_clear(keys: DataKeys) -> None:
    token = keys.encrypt("v-1", "display_name", "王小明")
    assert is_token(token)
    assert "王小明" not in token and "v-1" not in token
    assert keys.decrypt(token, field="display_name") == "王小明"
    # Same value twice: different tokens (random nonces), so equal names are not linkable.
    assert keys.encrypt("v-1", "display_name", "王小明") != token


def test_a_token_opens_only_as_its_own_field_and_person(keys: DataKeys) -> None:
    token = keys.encrypt("v-1", "display_name", "Li Lei")
    with pytest.raises(DataKeyError, match="moved or altered"):
        keys.decrypt(token, field="phone")
    assert keys.decrypt(token, field="display_name", person_id="v-1") == "Li Lei"
    with pytest.raises(DataKeyError, match="another person"):
        keys.decrypt(token, field="display_name", person_id="v-2")
    # Another person's kid on this ciphertext: another key, no opening.
    other = keys.encrypt("v-2", "display_name", "Han Meimei")
    prefix, _, nonce, sealed = token.split(":")
    with pytest.raises(DataKeyError):
        keys.decrypt(":".join([prefix, other.split(":")[1], nonce, sealed]), field="display_name")
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(DataKeyError):
        keys.decrypt(tampered, field="display_name")
    for garbage in ("", "pd1:x", "pd1:kid:!!:!!", "hello"):
        with pytest.raises(DataKeyError):
            keys.decrypt(garbage, field="display_name")


def test_erasure_makes_history_read_as_erased_and_refuses_new_data(
    keys: DataKeys, settings: Settings
) -> None:
    name = keys.encrypt("v-1", "display_name", "Zhang San")
    phone = keys.encrypt("v-1", "phone", "13800000000")
    kept = keys.encrypt("v-2", "display_name", "Li Si")

    assert keys.erase("v-1") is True
    assert keys.is_erased("v-1") and not keys.is_erased("v-2")
    assert keys.decrypt(name, field="display_name") is ERASED
    assert keys.decrypt(phone, field="phone") is ERASED
    assert str(ERASED) == "[erased]"
    assert keys.decrypt(kept, field="display_name") == "Li Si"
    with pytest.raises(PersonErasedError, match="erased"):
        keys.encrypt("v-1", "display_name", "Zhang San")

    assert keys.erase("v-1") is False  # idempotent

    # A fresh process (empty cache) agrees.
    again = DataKeys.open(settings, SERVICE)
    try:
        assert again.decrypt(name, field="display_name") is ERASED
        with pytest.raises(PersonErasedError):
            again.encrypt("v-1", "phone", "1")
    finally:
        again.close()


def test_a_person_erased_before_any_data_stays_erased(keys: DataKeys) -> None:
    assert keys.erase("never-seen") is False
    assert keys.is_erased("never-seen")
    with pytest.raises(PersonErasedError):
        keys.encrypt("never-seen", "display_name", "x")


def test_after_erasure_the_raw_file_holds_no_key_and_nothing_decrypts(
    keys: DataKeys, settings: Settings
) -> None:
    tokens = [keys.encrypt("v-1", "display_name", "Zhao Liu") for _ in range(3)]
    path = settings.state_dir / "data" / f"{SERVICE}.sqlite3"
    with sqlite3.connect(path) as raw:
        (wrapped,) = raw.execute(
            "SELECT wrapped_key FROM person_data_keys WHERE person_id = 'v-1'"
        ).fetchone()
    assert wrapped and len(wrapped) == 12 + 32 + 16

    keys.erase("v-1")

    with sqlite3.connect(path) as raw:
        rows = raw.execute(
            "SELECT person_id, wrapped_key, erased_at FROM person_data_keys"
        ).fetchall()
    assert [(p, w) for p, w, _ in rows] == [("v-1", None)] and rows[0][2]
    # Not in the database file nor its write-ahead log either (secure_delete, checkpoint).
    for file in path.parent.glob(f"{SERVICE}.sqlite3*"):
        assert wrapped not in file.read_bytes(), file
    # Even someone holding the master key and the tokens gets nothing: no key is left,
    # and no other person's key opens them.
    for token in tokens:
        assert keys.decrypt(token, field="display_name") is ERASED


def test_another_master_key_opens_nothing(tmp_path: Path) -> None:
    first = DataKeys.open(settings_for(tmp_path), SERVICE)
    token = first.encrypt("v-1", "display_name", "Sun Qi")
    first.close()
    second = DataKeys.open(settings_for(tmp_path), SERVICE)  # same file, new master key
    try:
        with pytest.raises(DataKeyError, match="does not unwrap"):
            second.decrypt(token, field="display_name")
    finally:
        second.close()


def test_the_cache_is_bounded_and_erasure_drops_the_entry(settings: Settings) -> None:
    keys = DataKeys.open(settings, SERVICE)
    keys._cache_size = 3
    try:
        tokens = {f"p{i}": keys.encrypt(f"p{i}", "name", f"n{i}") for i in range(10)}
        assert len(keys._cache) == 3 and len(keys._kid_of) == 3
        assert all(keys.decrypt(t, field="name") == f"n{p[1:]}" for p, t in tokens.items())
        keys.decrypt(tokens["p9"], field="name")
        kid = tokens["p9"].split(":")[1]
        assert kid in keys._cache
        keys.erase("p9")
        assert kid not in keys._cache and "p9" not in keys._kid_of
    finally:
        keys.close()


def test_concurrent_first_encryptions_agree_on_one_key(settings: Settings) -> None:
    processes = [DataKeys.open(settings, SERVICE) for _ in range(4)]
    tokens: list[str] = []
    barrier = threading.Barrier(len(processes))

    def write(keys: DataKeys) -> None:
        barrier.wait()
        tokens.append(keys.encrypt("v-race", "display_name", "Qian Ba"))

    threads = [threading.Thread(target=write, args=(k,)) for k in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len({t.split(":")[1] for t in tokens}) == 1
        assert all(processes[0].decrypt(t, field="display_name") == "Qian Ba" for t in tokens)
    finally:
        for keys in processes:
            keys.close()


def test_the_master_key_must_be_set_and_sound(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TONGXIN_CIPHER_KEY"):
        master_key(Settings(state_dir=tmp_path))
    with pytest.raises(ValueError, match="not base64"):
        master_key(Settings(state_dir=tmp_path, cipher_key=SecretStr("***")))
    with pytest.raises(ValueError, match="shorter"):
        master_key(settings_for(tmp_path, b"short"))


def test_an_erasure_by_another_process_reaches_this_one_within_the_cache_ttl(
    settings: Settings,
) -> None:
    here = DataKeys.open(settings, SERVICE, cache_ttl_s=0.0)
    there = DataKeys.open(settings, SERVICE)
    try:
        token = here.encrypt("v-1", "display_name", "Feng")
        assert here.decrypt(token, field="display_name") == "Feng"
        there.erase("v-1")
        assert here.decrypt(token, field="display_name") is ERASED
        with pytest.raises(PersonErasedError):
            here.encrypt("v-1", "display_name", "Feng")
    finally:
        here.close()
        there.close()


def test_a_key_read_before_an_erasure_is_not_cached_after_it(keys: DataKeys) -> None:
    token = keys.encrypt("v-1", "display_name", "Chu")
    keys.erase("v-2")  # any erasure meanwhile
    record = keys.store.by_person("v-1")
    assert record is not None
    keys._cache.clear()
    keys._kid_of.clear()
    keys._remember(record, erasures=keys._erasures - 1)
    assert not keys._cache
    assert keys.decrypt(token, field="display_name") == "Chu"


def test_a_page_of_tokens_has_its_keys_read_in_one_query(
    settings: Settings, keys: DataKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = {f"p-{n}": keys.encrypt(f"p-{n}", "name", f"Name {n}") for n in range(5)}
    keys.erase("p-4")
    fresh = DataKeys.open(settings, SERVICE)  # another process: nothing cached
    try:
        batches: list[list[str]] = []
        by_kids = fresh.store.by_kids

        def counted(kids: list[str]) -> list[KeyRecord]:
            batches.append(kids)
            return by_kids(kids)

        def refused(kid: str) -> None:
            raise AssertionError("a prefetched key is read again")

        monkeypatch.setattr(fresh.store, "by_kids", counted)
        monkeypatch.setattr(fresh.store, "by_kid", refused)
        fresh.prefetch([*tokens.values(), "not a token"])
        assert len(batches) == 1 and len(batches[0]) == 5
        opened = {p: fresh.decrypt(t, field="name", person_id=p) for p, t in tokens.items()}
        assert opened == {f"p-{n}": f"Name {n}" for n in range(4)} | {"p-4": ERASED}
        fresh.prefetch(tokens.values())
        assert len(batches) == 1, "cached keys are not read again"
    finally:
        fresh.close()
