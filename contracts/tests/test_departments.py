"""The ownership map's grants: only of services, to real departments, never to the owner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts.departments import DATA, UnknownDepartmentError, load_ownership_map


def with_grant(tmp_path: Path, boundary: str, department: str) -> Path:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    for owner in data["departments"]:
        for entry in owner["boundaries"]:
            if entry["name"] == boundary:
                entry["grants"] = [{"department": department, "roles": ["admin"], "why": "t"}]
    path = tmp_path / "departments.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_volunteers_service_is_granted_to_schools_and_elders() -> None:
    grants = load_ownership_map().boundary("volunteers").grants
    assert {(g.department, g.roles) for g in grants} == {
        ("edu", ("school-staff",)),
        ("ccng", ("coordinator",)),
    }


@pytest.mark.parametrize(
    ("boundary", "department", "error"),
    [
        ("volunteers", "xyz", UnknownDepartmentError),
        ("volunteers", "cyl", ValueError),  # the owner needs no grant
        ("checks", "cyl", ValueError),  # a department's own system is not granted
    ],
)
def test_a_wrong_grant_is_refused(
    tmp_path: Path, boundary: str, department: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        load_ownership_map(with_grant(tmp_path, boundary, department))
