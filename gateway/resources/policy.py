"""Who may read the learning map's data through the gateway.

The data is the resources service's, so its departments decide (ownership map). Venues,
free places and utilisation are public facts about places: every authenticated caller
reads them, as the city dashboard and schools looking for a visit do. A school's bookings
are for the staff of the departments that own or are granted the service, whose scope
covers the school.
"""

from __future__ import annotations

from services.kit.auth import ROLES
from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator", "school-staff")

READS = Policy(
    service="resources",
    rules={
        "read-map": Rule(open_to=ROLES),
        "read-bookings": Rule(staff=STAFF),
    },
)
