"""The feeds service's whole authorization table, role by department by action."""

from __future__ import annotations

import itertools

import pytest

from contracts.departments import load_ownership_map
from services.feeds.policy import POLICY, authorize_partner
from services.kit.auth import ROLES, Principal
from services.kit.errors import ForbiddenError

DEPARTMENTS = [d.code for d in load_ownership_map().departments] + [None]
PROP_STAFF = {("admin", "prop"), ("coordinator", "prop")}


def allowed(role: str, department: str | None, action: str, partner: str = "city-museum") -> bool:
    caller = Principal(subject="city-museum", role=role, department=department, scope=("city",))
    try:
        authorize_partner(caller, action, partner)
    except ForbiddenError:
        return False
    return True


@pytest.mark.parametrize("action", sorted(POLICY.rules))
def test_the_table(action: str) -> None:
    for role, department in itertools.product(ROLES, DEPARTMENTS):
        staff = (role, department) in PROP_STAFF
        expected = {
            "set-agreement": staff,
            "manage-partners": staff,
            "read-partners": staff,
            "read-agreement": staff or role == "partner",
            "read-endpoints": staff or role == "partner",
            "manage-endpoints": role == "partner",
            "read-feed": role == "partner",
        }[action]
        assert allowed(role, department, action) == expected, (role, department, action)


def test_a_partner_acts_only_for_itself() -> None:
    for action in POLICY.rules:
        if action != "set-agreement":
            assert not allowed("partner", None, action, partner="childrens-hospital")
