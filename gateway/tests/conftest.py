from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from gateway.tests.support import Stream
from gateway.volunteers.readmodel import VolunteersReadModel

TODAY = date(2026, 9, 1)


@pytest.fixture
def readmodel(tmp_path: Path) -> Iterator[VolunteersReadModel]:
    model = VolunteersReadModel(tmp_path / "rm.sqlite3", today=lambda: TODAY).open()
    yield model
    model.close()


@pytest.fixture
def stream() -> Stream:
    return Stream()


@pytest.fixture
def issuer(tmp_path: Path):
    from services.kit.auth import DevIssuer

    return DevIssuer(tmp_path / "keys")
