"""The platform manifest: valid as committed, and refused when it contradicts itself."""

from __future__ import annotations

import copy

import pytest

from contracts.platform import ManifestError, load_data, load_platform, parse_platform
from services.kit.settings import Settings


def test_the_committed_manifest_is_valid() -> None:
    platform = load_platform()
    assert "volunteers" in {p.name for p in platform.services()}
    assert platform.gateway().name == "gateway"
    assert platform.process("volunteers").nats_user == "svc-volunteers"
    assert platform.process("volunteers").port_env == "TONGXIN_VOLUNTEERS_PORT"


def _with(change: dict) -> dict:
    data = copy.deepcopy(load_data())
    data["processes"].append(change)
    return data


SPARE = {
    "name": "spare",
    "kind": "service",
    "module": "services.spare",
    "port": 8099,
    "title": "spare API",
    "boundary": "courses",
    "database": "spare",
}


def test_a_new_service_is_accepted() -> None:
    assert parse_platform(_with(SPARE)).process("spare").database == "spare"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"port": 8001}, "share a port"),
        ({"name": "volunteers"}, "duplicate process names"),
        ({"boundary": "nowhere"}, "no department owns"),
        ({"boundary": "checks"}, "department system"),
        ({"database": "volunteers"}, "share a database"),
        ({"reactions": ["evt.xx.nothing.>"]}, "no single boundary"),
    ],
)
def test_contradictions_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_platform(_with(SPARE | change))


def test_the_gateway_finds_each_service_by_name() -> None:
    assert Settings().service_url("volunteers") == "http://127.0.0.1:8001"
    settings = Settings(service_urls="volunteers=http://volunteers:8001, courses=http://c:1")
    assert settings.service_url("volunteers") == "http://volunteers:8001"
    assert settings.service_url("courses") == "http://c:1"
