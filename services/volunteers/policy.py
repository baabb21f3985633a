"""Who may do what in the volunteers service: the whole table, read in one place.

The Youth League (cyl) owns the service; schools belong to the Education Bureau, so its
school staff are granted the service for their own schools, and the Committee for the
Care of the Next Generation runs the five-elders teams, so its coordinators are granted
it too. Ownership and grants are in contracts/departments.json, where the gateway reads
them as well. No other department acts here, whatever the role.
"""

from __future__ import annotations

from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator", "school-staff")

POLICY = Policy(
    service="volunteers",
    rules={
        # Staff act for the volunteer's home school (a volunteer with none: city scope only).
        "register-volunteer": Rule(staff=STAFF),
        # A name is personal data: every read of one, allowed or not, is logged (api.py).
        "read-volunteer": Rule(staff=STAFF, self_service=True),
        # A school's volunteers by name: the names are read (and logged), and even their
        # order says something about them, so staff of the school only, never viewers.
        "list-volunteers-by-name": Rule(staff=STAFF),
        "rename-volunteer": Rule(staff=STAFF, self_service=True),
        # Erasure destroys the person's key for good: the owner's senior staff decide it.
        "erase-volunteer": Rule(staff=("admin", "coordinator"), owner_only=True),
        # Who viewed a volunteer's data: for the owner's supervisors, and for the volunteer
        # themself (their right to know who read about them), not for granted departments.
        "read-access-log": Rule(staff=("admin", "coordinator"), self_service=True, owner_only=True),
        "request-background-check": Rule(staff=STAFF),
        # Staff act for the shift's school.
        "publish-shift": Rule(staff=STAFF),
        # A shift's public facts are for volunteers looking for one; who holds the places
        # is personal data, shown to staff only (services.volunteers.api).
        "read-shift": Rule(staff=STAFF, open_to=("volunteer",)),
        "sign-up": Rule(staff=STAFF, self_service=True),
        "cancel-sign-up": Rule(staff=STAFF, self_service=True),
        "check-in": Rule(staff=STAFF),
        "check-out": Rule(staff=STAFF),
    },
)
