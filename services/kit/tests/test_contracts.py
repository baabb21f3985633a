"""The published language: ownership map, naming conventions, committed schemas."""

from __future__ import annotations

import re

import pytest

from contracts.departments import UnknownDepartmentError, load_ownership_map
from contracts.events import parse_event_type
from contracts.generate import SCHEMA_DIR, render_all
from contracts.registry import ALL_EVENTS, BY_TYPE


def test_the_ownership_map_has_13_departments_and_unique_boundaries() -> None:
    ownership = load_ownership_map()
    assert len(ownership.departments) == 13
    codes = [d.code for d in ownership.departments]
    names = [b.name for d in ownership.departments for b in d.boundaries]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)
    assert ownership.owner_of("volunteers").code == "cyl"


def test_may_publish_only_inside_own_boundaries() -> None:
    ownership = load_ownership_map()
    assert ownership.may_publish("cyl", "evt.cyl.volunteers.volunteer-registered")
    assert not ownership.may_publish("edu", "evt.cyl.volunteers.volunteer-registered")
    assert not ownership.may_publish("cyl", "evt.cyl.volunteersx.thing")
    assert not ownership.may_publish("cyl", "evt.cyl.volunteers")
    with pytest.raises(UnknownDepartmentError):
        ownership.may_publish("nope", "evt.cyl.volunteers.x")


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_event_naming_convention(cls: type) -> None:
    ownership = load_ownership_map()
    event_type = cls.event_type()
    boundary, name, major = parse_event_type(event_type)
    assert (boundary, name, major) == (cls.boundary, cls.event_name, cls.major)
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name)
    department = ownership.owner_of(boundary).code
    assert cls.department() == department
    assert cls.subject() == f"evt.{department}.{boundary}.{name}"
    assert ownership.may_publish(department, cls.subject())
    assert BY_TYPE[event_type] is cls


def test_committed_schemas_match_the_models() -> None:
    rendered = render_all()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    assert sorted(committed) == sorted(rendered), "run `python -m contracts.generate`"
    for name, content in rendered.items():
        assert committed[name] == content, f"{name} drifted: run `python -m contracts.generate`"
