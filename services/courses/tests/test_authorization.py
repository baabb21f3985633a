"""Who may do what in courses, written from the intent and checked against the policy table.

The Education Bureau (edu) owns the service; the Women's Federation's coordinators are
granted it (community parent schools); staff act only for the schools in their scope; a
parent acts for themself. The course supermarket, the points rules, erasure and reading a
parent's record are the bureau's own; inspections are for supervisors, not school staff.
Teacher training and the term's lecture quota are the bureau's; a school's staff enrol
their own teachers.
"""

from __future__ import annotations

import itertools

import pytest

from contracts.departments import load_ownership_map
from services.courses.policy import POLICY
from services.kit.auth import ROLES, Principal
from services.kit.errors import ForbiddenError

SCHOOL = "yz-dongguan-primary"
STAFF = {"admin", "coordinator", "school-staff"}
SUPERVISORS = {"admin", "coordinator"}
SELF_SERVICE = {
    "register",
    "cancel-registration",
    "consent-to-ranking",
    "submit-homework",
    "read-parent",
}
BUREAU_DECISIONS = {
    "schedule-training",
    "record-training-attendance",
    "complete-training",
    "set-lecture-quota",
}
OWNER_ONLY = {
    "publish-course",
    "change-points-rules",
    "erase-parent",
    "read-parent",
    "read-names",
    *BUREAU_DECISIONS,
}
FOR_SUPERVISORS = {
    "inspect-parent-school",
    "publish-course",
    "change-points-rules",
    "erase-parent",
    *BUREAU_DECISIONS,
}
DEPARTMENTS = (None, *(d.code for d in load_ownership_map().departments))


def intended(
    role: str, department: str | None, action: str, *, is_self: bool, covers: bool
) -> bool:
    if role == "parent":
        return is_self and action in SELF_SERVICE
    if role not in STAFF:
        return False
    if action in FOR_SUPERVISORS and role not in SUPERVISORS:
        return False
    owner = department == "edu"
    granted = department == "wf" and role == "coordinator" and action not in OWNER_ONLY
    return (owner or granted) and covers


def allowed(caller: Principal, action: str, parent_id: str) -> bool:
    try:
        POLICY.authorize(caller, action, school=SCHOOL, volunteer_id=parent_id)
    except ForbiddenError:
        return False
    return True


@pytest.mark.parametrize("action", sorted(POLICY.rules))
def test_every_role_and_department_gets_what_the_intent_says(action: str) -> None:
    wrong = []
    for role, department in itertools.product(ROLES, DEPARTMENTS):
        for scope, covers in (("city", True), ("school:elsewhere", False)):
            for subject, is_self in (("p-1", True), ("someone-else", False)):
                caller = Principal(
                    subject=subject, role=role, department=department, scope=(scope,), token=""
                )
                expected = intended(role, department, action, is_self=is_self, covers=covers)
                if allowed(caller, action, "p-1") != expected:
                    wrong.append((role, department, scope, is_self))
    assert wrong == []
