"""The base projection: a busy file is a transient error; a renamed file is adopted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.core.feature import adopt_renamed_file
from gateway.core.projection import ReadModelBusyError, is_busy
from gateway.features import build_features, open_feature
from gateway.tests.support import CONSUMER, Stream, published, registered
from gateway.volunteers.readmodel import VolunteersReadModel
from services.kit.settings import Settings
from services.kit.transient import TransientError


def test_a_write_lock_held_elsewhere_is_a_transient_error(tmp_path: Path) -> None:
    path = tmp_path / "rm.sqlite3"
    readmodel = VolunteersReadModel(path, busy_timeout_s=0.05).open()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ReadModelBusyError) as raised:
            readmodel.apply(CONSUMER, Stream()(registered("v1")))
        # A TimeoutError raised from SQLite's own error: the kit's consumers retry both
        # for as long as it takes (tests/integration/test_gateway_project.py shows it).
        assert isinstance(raised.value, TimeoutError)
        assert isinstance(raised.value, TransientError)
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
        # Nothing half-done: reads go on, and the write goes through once the lock is gone.
        assert readmodel.position(CONSUMER) == 0
        locker.execute("COMMIT")
        readmodel.apply(CONSUMER, Stream()(registered("v1")))
        assert readmodel.volunteer("v1") is not None
    finally:
        locker.close()
        readmodel.close()


def test_a_broken_statement_is_not_called_busy(tmp_path: Path) -> None:
    """The read model claims only what it knows; how to retry the rest is the kit's call."""
    readmodel = VolunteersReadModel(tmp_path / "rm.sqlite3").open()
    try:
        with readmodel._locked() as conn:
            conn.execute("DROP TABLE shifts")
        with pytest.raises(sqlite3.OperationalError, match="no such table") as raised:
            readmodel.apply(CONSUMER, Stream()(published("sh1")))
        assert not isinstance(raised.value, ReadModelBusyError)
        assert not is_busy(raised.value)
    finally:
        readmodel.close()


def test_the_volunteers_file_of_an_older_state_folder_is_adopted(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    old = VolunteersReadModel(tmp_path / "data" / "gateway-readmodel.sqlite3").open()
    old.apply(CONSUMER, Stream()(registered("v1"), published("sh1")))
    old.close()

    live = build_features(settings)["volunteers"]
    open_feature(live)
    try:
        assert live.readmodel.position(CONSUMER) == 2
        assert live.readmodel.path == str(tmp_path / "data" / "gateway-volunteers.sqlite3")
    finally:
        live.readmodel.close()
    assert not (tmp_path / "data" / "gateway-readmodel.sqlite3").exists()


def test_a_file_already_under_the_new_name_is_kept(tmp_path: Path) -> None:
    new, former = tmp_path / "gateway-volunteers.sqlite3", tmp_path / "gateway-readmodel.sqlite3"
    new.write_bytes(b"new")
    former.write_bytes(b"former")
    adopt_renamed_file(new, former.name)
    assert new.read_bytes() == b"new" and former.exists()
