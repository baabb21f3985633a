"""Who may read the courses feature's data through the gateway.

The data is the courses service's (owned by edu, granted to wf's coordinators in the
ownership map). Parent schools, the catalogue, sessions, rankings and participation
figures carry no personal data: every authenticated caller reads them. A parent's own
points and rank are for the parent themself and for staff covering their school. In a
ranking, a parent's id is shown only to staff covering the school; the name only when
the courses service gives it (the bureau's staff in scope, or a parent who opted in).
"""

from __future__ import annotations

from services.kit.auth import ROLES
from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator", "school-staff")

READS = Policy(
    service="courses",
    rules={
        "read-catalogue": Rule(open_to=ROLES),
        "read-figures": Rule(open_to=ROLES),
        "read-points": Rule(staff=STAFF, self_service=True, self_role="parent"),
        "read-ranking-ids": Rule(staff=STAFF),
    },
)
