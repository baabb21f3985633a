"""Who may read the committees feature's data through the gateway.

The read model holds no personal data (no suggestion texts, no submitters, members as
ids), so committees, suggestions and figures are open to every role of the owner and of
the departments granted the service, and to viewers (the city dashboard); staff scoped to
schools list their own schools' suggestions, and a department the suggestions assigned
to it (gateway/committees/queries.py).
"""

from __future__ import annotations

from services.kit.auth import ROLES
from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator", "school-staff", "department-system")

READS = Policy(
    service="committees",
    rules={
        "read-committees": Rule(open_to=ROLES),
        "list-suggestions": Rule(staff=STAFF, open_to=("viewer",)),
        "read-figures": Rule(open_to=ROLES),
    },
)
