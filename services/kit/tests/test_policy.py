"""The kit's Policy: the owner comes from the ownership map; grants and roles are checked."""

from __future__ import annotations

import pytest

from contracts.departments import OwnershipMap, UnknownDepartmentError, load_ownership_map
from services.kit.auth import Principal
from services.kit.errors import ForbiddenError, NotFoundError
from services.kit.policy import Grant, Policy, Rule


def principal(role: str, department: str | None, scope: str = "city", sub: str = "x") -> Principal:
    return Principal(subject=sub, role=role, department=department, scope=tuple(scope.split()))


def moved(boundary: str, to: str) -> OwnershipMap:
    """The ownership map with `boundary` owned by department `to` instead."""
    data = load_ownership_map().model_dump()
    for department in data["departments"]:
        owned = [b for b in department["boundaries"] if b["name"] == boundary]
        department["boundaries"] = [b for b in department["boundaries"] if b["name"] != boundary]
        if owned:
            kept = owned[0]
    for department in data["departments"]:
        if department["code"] == to:
            department["boundaries"].append(kept)
    return OwnershipMap.model_validate(data)


RULES = {"act": Rule(staff=("coordinator",)), "look": Rule(open_to=("viewer",))}


def test_the_owner_is_whoever_the_ownership_map_says() -> None:
    policy = Policy(service="volunteers", rules=RULES, ownership=moved("volunteers", "wf"))
    assert policy.owner == "wf"
    policy.authorize(principal("coordinator", "wf"), "act")
    with pytest.raises(ForbiddenError, match="own or are granted"):
        policy.authorize(principal("coordinator", "cyl"), "act")


def test_a_grant_is_for_its_roles_only() -> None:
    policy = Policy(
        service="volunteers",
        rules={"act": Rule(staff=("coordinator", "admin"))},
        grants=(Grant("edu", roles=("coordinator",), why="test"),),
    )
    policy.authorize(principal("coordinator", "edu"), "act")
    with pytest.raises(ForbiddenError):
        policy.authorize(principal("admin", "edu"), "act")
    assert policy.departments("admin") == {"cyl"}


def test_grants_name_real_departments_and_roles_and_never_the_owner() -> None:
    with pytest.raises(UnknownDepartmentError):
        Policy(service="volunteers", rules=RULES, grants=(Grant("xyz", ("admin",), "?"),))
    with pytest.raises(ValueError, match="needs no grant"):
        Policy(service="volunteers", rules=RULES, grants=(Grant("cyl", ("admin",), "?"),))
    with pytest.raises(ValueError, match="unknown roles"):
        Policy(service="volunteers", rules={"act": Rule(staff=("mayor",))})


def test_the_school_is_looked_up_only_for_a_caller_who_may_act_at_all() -> None:
    policy = Policy(service="volunteers", rules=RULES)

    def lookup() -> str | None:
        raise NotFoundError("the shift does not exist")

    with pytest.raises(ForbiddenError):
        policy.authorize(principal("coordinator", "pol"), "act", school=lookup)
    with pytest.raises(NotFoundError):
        policy.authorize(principal("coordinator", "cyl"), "act", school=lookup)
    with pytest.raises(ForbiddenError, match="schools in its scope"):
        policy.authorize(principal("coordinator", "cyl", "school:a"), "act", school="b")
    policy.authorize(principal("viewer", None, ""), "look", school=lookup)


def test_grants_default_to_the_ownership_maps() -> None:
    # The gateway builds its read tables the same way, so both refuse the same departments.
    policy = Policy(service="volunteers", rules=RULES)
    assert policy.granted == load_ownership_map().boundary("volunteers").grants
    assert policy.departments("coordinator") == {"cyl", "ccng"}
    assert policy.departments("school-staff") == {"cyl", "edu"}
    assert policy.departments("admin") == {"cyl"}


def test_an_owner_only_rule_ignores_grants_but_not_scope() -> None:
    policy = Policy(
        service="volunteers",
        rules={"erase": Rule(staff=("coordinator",), owner_only=True)},
        grants=(Grant("edu", roles=("coordinator",), why="test"),),
    )
    policy.authorize(principal("coordinator", "cyl"), "erase", school="s1")
    with pytest.raises(ForbiddenError, match="owner 'cyl' only"):
        policy.authorize(principal("coordinator", "edu"), "erase", school="s1")
    with pytest.raises(ForbiddenError, match="scope"):
        policy.authorize(principal("coordinator", "cyl", scope="school:s2"), "erase", school="s1")
