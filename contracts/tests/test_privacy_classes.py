"""Every contract field says what it is, and no published event carries personal data."""

from __future__ import annotations

import pytest
from pydantic import Field

from contracts import volunteers
from contracts.departments import load_ownership_map
from contracts.events import PRIVACY_CLASSES, ContractEvent, classified, privacy_of
from contracts.registry import ALL_EVENTS

PUBLISHED = [cls for cls in ALL_EVENTS if cls.published]
LEGACY = [cls for cls in ALL_EVENTS if not cls.published]


def unclassified(cls: type[ContractEvent]) -> list[str]:
    return [
        name for name, info in cls.model_fields.items() if privacy_of(info) not in PRIVACY_CLASSES
    ]


def personal(cls: type[ContractEvent]) -> list[str]:
    return [name for name, info in cls.model_fields.items() if privacy_of(info) == "personal"]


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.event_type())
def test_every_field_of_every_contract_is_classified(cls: type[ContractEvent]) -> None:
    assert not unclassified(cls), f"classify with contracts.events.classified: {unclassified(cls)}"


@pytest.mark.parametrize("cls", PUBLISHED, ids=lambda c: c.event_type())
def test_no_published_event_carries_personal_data(cls: type[ContractEvent]) -> None:
    assert not personal(cls), (
        f"{cls.event_type()} would put personal data on the bus ({personal(cls)}): keep it in "
        "the owning service, or seal it to the one service that needs it"
    )


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.event_type())
def test_a_sealed_field_is_sealed_to_a_tongxin_service(cls: type[ContractEvent]) -> None:
    ownership = load_ownership_map()
    for field, service in cls.sealed_fields().items():
        assert ownership.boundary(service).kind == "service", f"{field} sealed to {service}"
        assert cls.model_fields[field].annotation is str, f"{field}: a JWE compact string"


def test_each_legacy_major_has_a_published_successor_it_upcasts_to() -> None:
    assert volunteers.VolunteerRegisteredV1 in LEGACY
    published = {(c.boundary, c.event_name): c for c in PUBLISHED}
    for cls in LEGACY:
        successor = published.get((cls.boundary, cls.event_name))
        assert successor is not None, f"{cls.event_type()} has no published major"
        assert successor.major > cls.major
        assert cls.upcast is not ContractEvent.upcast, f"{cls.__name__} needs an upcast"


def test_the_v1_registration_reads_and_upcasts_without_the_name() -> None:
    old = volunteers.VolunteerRegisteredV1(
        volunteer_id="v-1",
        display_name="Chen Jing",
        kind="youth",
        school_id="s1",
        registered_at="2026-01-05T08:00:00+00:00",  # type: ignore[arg-type]
    )
    current = old.upcast()
    assert isinstance(current, volunteers.VolunteerRegistered)
    assert "Chen Jing" not in current.model_dump_json()
    assert (current.volunteer_id, current.kind, current.school_id) == ("v-1", "youth", "s1")


def test_the_check_catches_an_unclassified_and_a_personal_field() -> None:
    class Careless(ContractEvent):
        boundary = "volunteers"
        event_name = "careless"
        volunteer_id: str = classified("id", "Volunteer id.")
        phone: str = classified("personal", "Phone number.")
        note: str = Field(description="Anything.")

    assert unclassified(Careless) == ["note"]
    assert personal(Careless) == ["phone"]


def test_a_sealed_field_must_name_its_receiver() -> None:
    with pytest.raises(ValueError, match="sealed"):
        classified("sealed", "A referral.")
    with pytest.raises(ValueError, match="sealed"):
        classified("personal", "A name.", sealed_to="care")
