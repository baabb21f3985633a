"""Who may read the volunteers feature's data through the gateway.

The data is the volunteers service's, so the service's departments decide: its owner
and grants come from the ownership map (contracts/departments.json), where the service
reads them for its own checks. Personal data (volunteers, their sign-ups) is for those
departments' staff, whose scope says which schools, and for the volunteer themself.
A shift's public facts and the school totals carry no personal data: every
authenticated caller reads them, as dashboards and volunteers looking for a shift do.

The read model holds no names (the volunteers service answers those, by its own
rules), so the volunteer list is pseudonymous: ids, kinds, home schools and hours.
Viewers (the city dashboard) read it whole and see every name as null; the background
check stays with staff and the volunteer themself.
"""

from __future__ import annotations

from services.kit.auth import ROLES
from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator", "school-staff")
VIEWERS = ("viewer",)

READS = Policy(
    service="volunteers",
    rules={
        # Staff: the volunteers of the schools in their scope; viewers: all, without names.
        "list-volunteers": Rule(staff=STAFF, open_to=VIEWERS),
        # By name: the order says something about the names, so staff of the school only.
        "list-volunteers-by-name": Rule(staff=STAFF),
        # Staff covering the school the record is read through: the volunteer's home
        # school, or the school of a shift they signed up for. Viewers: without names.
        "read-volunteer": Rule(staff=STAFF, self_service=True, open_to=VIEWERS),
        # A volunteer's background check, once the volunteer was reached as staff.
        "read-check": Rule(staff=STAFF, self_service=True),
        # Staff: sign-ups at the schools in their scope.
        "read-sign-ups": Rule(staff=STAFF, self_service=True),
        "read-shift": Rule(open_to=ROLES),
        "read-school-hours": Rule(open_to=ROLES),
    },
)
