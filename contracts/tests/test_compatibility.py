"""Contract evolution: a breaking change to a committed major is caught, a compatible one is not."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from contracts.compatibility import breaking_changes
from contracts.generate import committed, incompatibilities, render_all


class Before(BaseModel):
    volunteer_id: str
    kind: Literal["parent", "youth"]
    school_id: str | None = None
    hours: float = Field(ge=0)
    at: datetime


class Renamed(BaseModel):
    volunteer: str
    kind: Literal["parent", "youth"]
    school_id: str | None = None
    hours: float = Field(ge=0)
    at: datetime


class NewlyRequired(BaseModel):
    volunteer_id: str
    kind: Literal["parent", "youth"]
    school_id: str | None = None
    hours: float = Field(ge=0)
    at: datetime
    note: str


class Narrowed(BaseModel):
    volunteer_id: str
    kind: Literal["parent", "youth"]
    school_id: str  # no longer nullable, and required
    hours: float = Field(ge=0)
    at: datetime


class EnumShrunk(BaseModel):
    volunteer_id: str
    kind: Literal["parent"]
    school_id: str | None = None
    hours: float = Field(ge=0)
    at: datetime


class Tightened(BaseModel):
    volunteer_id: str = Field(max_length=10)
    kind: Literal["parent", "youth"]
    school_id: str | None = None
    hours: float = Field(ge=1)
    at: datetime


class Retyped(BaseModel):
    volunteer_id: str
    kind: Literal["parent", "youth"]
    school_id: str | None = None
    hours: int = Field(ge=0)
    at: datetime


class Compatible(BaseModel):
    """An optional field, an enum value and a looser bound added; descriptions changed."""

    volunteer_id: str = Field(description="Now documented.")
    kind: Literal["parent", "youth", "teacher"]
    school_id: str | None = None
    hours: float = Field(ge=-1)
    at: datetime
    note: str | None = None


def changes(after: type[BaseModel]) -> list[str]:
    return breaking_changes(Before.model_json_schema(), after.model_json_schema())


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (Renamed, "'volunteer_id' was removed or renamed"),
        (NewlyRequired, "'note' is newly required"),
        (Narrowed, "'school_id': no longer accepts type null"),
        (EnumShrunk, "enum values removed: ['youth']"),
        (Tightened, "'hours': minimum tightened"),
        (Retyped, "'hours': no longer accepts type number"),
    ],
)
def test_a_breaking_change_is_named(after: type[BaseModel], expected: str) -> None:
    found = changes(after)
    assert any(expected in problem for problem in found), found


def test_a_length_limit_added_is_breaking() -> None:
    assert any("maxLength" in p for p in changes(Tightened))


def test_compatible_changes_pass() -> None:
    assert changes(Compatible) == []
    assert changes(Before) == []


def test_every_registered_model_keeps_the_promise_of_its_committed_schema() -> None:
    broken = incompatibilities(committed(), render_all())
    assert not broken, (
        f"breaking changes without a new major: {broken}; add a class with `major` one "
        "higher (keep the old one registered, `published = False`, with an upcast)"
    )


def test_a_dropped_major_is_breaking() -> None:
    rendered = render_all()
    name = "org.tongxin.volunteers.volunteer-registered.v1.json"
    assert name in rendered
    without = {k: v for k, v in rendered.items() if k != name}
    assert name in incompatibilities(rendered, without)


def test_removing_a_field_from_a_real_contract_is_caught() -> None:
    rendered = render_all()
    name = "org.tongxin.volunteers.volunteer-checked-out.v1.json"
    schema = json.loads(rendered[name])
    del schema["properties"]["hours"]
    schema["required"].remove("hours")
    broken = incompatibilities(rendered, {**rendered, name: json.dumps(schema)})
    assert broken == {name: ["field 'hours' was removed or renamed"]}
