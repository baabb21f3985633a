"""Who may do what in the courses service: the whole table, read in one place.

The Education Bureau (edu) owns the service. The Women's Federation (wf) guides community
parent schools, so its coordinators are granted the service (contracts/departments.json):
they register community parent schools, put evidence on file and inspect them; its
system's inspections arrive through the ingest instead (services.courses.reactions).
Parents act for themselves (role `parent`, their token's subject being their parent id).
"""

from __future__ import annotations

from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator", "school-staff")
SENIOR = ("admin", "coordinator")

POLICY = Policy(
    service="courses",
    rules={
        # Parent schools: school staff for their own school's; a district's or a
        # community's for the bureau's and the Federation's coordinators (city scope).
        "register-parent-school": Rule(staff=STAFF),
        "record-evidence": Rule(staff=STAFF),
        # The verdict is the inspector's: not the staff of the school inspected.
        "inspect-parent-school": Rule(staff=SENIOR),
        # The course supermarket is the bureau's own.
        "publish-course": Rule(staff=SENIOR, owner_only=True),
        "schedule-session": Rule(staff=STAFF),
        "read-session": Rule(staff=STAFF),
        "register": Rule(staff=STAFF, self_service=True, self_role="parent"),
        "cancel-registration": Rule(staff=STAFF, self_service=True, self_role="parent"),
        # Check-in is the host's; an online completion is reported by the platform's staff.
        "attend": Rule(staff=STAFF),
        "enrol-parent": Rule(staff=STAFF),
        "consent-to-ranking": Rule(staff=STAFF, self_service=True, self_role="parent"),
        "submit-homework": Rule(staff=STAFF, self_service=True, self_role="parent"),
        "read-parent": Rule(staff=STAFF, self_service=True, self_role="parent", owner_only=True),
        "erase-parent": Rule(staff=SENIOR, owner_only=True),
        "change-points-rules": Rule(staff=SENIOR, owner_only=True),
        # Teacher training is the bureau's; a school's staff enrol their own teachers.
        "schedule-training": Rule(staff=SENIOR, owner_only=True),
        "enrol-teachers": Rule(staff=STAFF),
        "record-training-attendance": Rule(staff=SENIOR, owner_only=True),
        "complete-training": Rule(staff=SENIOR, owner_only=True),
        "read-training": Rule(staff=STAFF),
        # The term's lecture quota is the bureau's decision.
        "set-lecture-quota": Rule(staff=SENIOR, owner_only=True),
        # Names beside ranks: staff of the bureau in scope see their parents' names;
        # anyone else sees the names of parents who opted in, and nothing else.
        "read-names": Rule(staff=STAFF, owner_only=True),
    },
)
