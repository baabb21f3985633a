"""Who may do what with a child's care file: the whole table, read in one place.

Two gates, both enforced here and audited by the API:

1. Role, department and scope (the kit's `Policy`): care is the Education Bureau's, and
   no other department's staff act in it. A credential acts for the schools in its scope,
   so a teacher who moved school loses the files of the old one with the old scope.
2. The caller's relation to the file: only people assigned to it read it. Relations, from
   the strongest:
   - `district-officer`: an edu coordinator or admin whose scope covers the file's school;
   - `care-lead`: the account named care lead of the file's school;
   - `lead`, `psychology`: the team's lead and psychology teacher;
   - `mentor`: a teacher or party member mentoring the child;
   - `volunteer-mentor`: a volunteer mentor (a volunteer's own token);
   - `break-glass`: someone not assigned who declared an emergency, until it runs out.
   Each relation sees its own fields (`FIELDS`): a volunteer mentor sees the child's
   name, class and next visit, never categories, screening or family circumstances.

Department systems (hlth, jus, proc) act only on referrals addressed to them, while the
consent or legal basis holds (`services.care.api`).

Supervision: a school's break-glass alerts (reasons included) and a file's access log
("who viewed this child") are for its supervisors only, the district's care officer and
the school's care lead; reading either is itself an access-log entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from services.care.domain import CareFile
from services.kit.auth import Principal
from services.kit.errors import ForbiddenError
from services.kit.policy import Policy, Rule
from services.kit.scope import covers_school

STAFF = ("admin", "coordinator", "school-staff")
SUPERVISORS = ("admin", "coordinator")

POLICY = Policy(
    service="care",
    rules={
        # A school's care lead is named by the district (edu supervisors in scope).
        "name-care-lead": Rule(staff=SUPERVISORS, owner_only=True),
        # Opening a file and acting on one: edu staff in scope, then the relation decides.
        "open-file": Rule(staff=STAFF, owner_only=True),
        "act-on-file": Rule(staff=STAFF, self_service=False, owner_only=True),
        "break-glass": Rule(staff=STAFF, owner_only=True),
        "erase-file": Rule(staff=SUPERVISORS, owner_only=True),
    },
)

Relation = Literal[
    "district-officer",
    "care-lead",
    "lead",
    "psychology",
    "mentor",
    "volunteer-mentor",
    "break-glass",
]

EVERYTHING = (
    "name",
    "class",
    "status",
    "categories",
    "evidence",
    "screenings",
    "team",
    "visits",
    "visit_notes",
    "next_visit",
    "next_review",
    "plan",
    "follow_ups",
    "home_teaching",
)
FIELDS: dict[str, tuple[str, ...]] = {
    "district-officer": EVERYTHING,
    "care-lead": EVERYTHING,
    "lead": EVERYTHING,
    "psychology": EVERYTHING,
    "break-glass": EVERYTHING,
    # A teacher mentor works with the family, not with health findings.
    "mentor": tuple(f for f in EVERYTHING if f != "screenings"),
    "volunteer-mentor": ("name", "class", "next_visit"),
}

# What each relation may do on a file beyond reading it.
# `plan`: goals and the home-teaching schedule; `teach`: a home-teaching session given;
# `audit`: the file's access log.
_LEADING = {"tag", "review", "assign", "visit", "status", "consent", "refer", "plan"}
_LEADING |= {"follow-up", "teach"}
ACTIONS: dict[str, frozenset[str]] = {
    "district-officer": frozenset(_LEADING | {"erase", "audit"}),
    "care-lead": frozenset(_LEADING | {"audit"}),
    "lead": frozenset(_LEADING),
    "psychology": frozenset({"review", "visit", "refer", "follow-up"}),
    "mentor": frozenset({"visit", "follow-up", "teach"}),
    "volunteer-mentor": frozenset(),
    "break-glass": frozenset(),
}


def relation(
    caller: Principal, care_file: CareFile, care_lead: str | None, now: datetime
) -> Relation:
    """The caller's strongest relation to the file; ForbiddenError (with why) if none."""
    if caller.role == "volunteer":
        member = care_file.member(caller.subject)
        if member is not None and member["kind"] == "volunteer":
            return "volunteer-mentor"
        raise ForbiddenError("only the volunteers mentoring this child read their file")
    POLICY.authorize(caller, "act-on-file", school=care_file.school_id)
    if caller.role in SUPERVISORS and covers_school(caller.scope, care_file.school_id):
        return "district-officer"
    if care_lead is not None and caller.subject == care_lead:
        return "care-lead"
    member = care_file.member(caller.subject)
    if member is not None:
        role = member["role"]
        if role in ("lead", "psychology"):
            return role  # type: ignore[return-value]
        return "mentor"
    until = care_file.break_glass_until(caller.subject)
    if until is not None:
        if now < until:
            return "break-glass"
        raise ForbiddenError("the emergency access to this file has expired")
    raise ForbiddenError("only the people assigned to this child's file read it")


def require(rel: Relation, action: str) -> None:
    if action not in ACTIONS[rel]:
        raise ForbiddenError(f"a {rel} may not {action} on this file")


def may_supervise(caller: Principal, school_id: str, care_lead: str | None) -> None:
    """A school's alerts are for the district's care officer and the school's care lead."""
    POLICY.authorize(caller, "act-on-file", school=school_id)
    if caller.role in SUPERVISORS and covers_school(caller.scope, school_id):
        return
    if care_lead is not None and caller.subject == care_lead:
        return
    raise ForbiddenError("a school's alerts are for its care lead and the district")


def may_open(caller: Principal, school_id: str, care_lead: str | None) -> None:
    """A file is opened by the school's care lead or a district officer."""
    POLICY.authorize(caller, "open-file", school=school_id)
    if caller.role in SUPERVISORS or caller.subject == care_lead:
        return
    raise ForbiddenError("files are opened by the school's care lead or the district")
