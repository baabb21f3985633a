"""Who may read the alliance feature's data through the gateway.

The data is the alliance service's: its owner (edu) and the departments it is granted to
(every other department, contracts/departments.json) read the plan, the figures and the
assessments; the city dashboard (viewers) reads them too, as they are about schools,
districts and departments, never about a person. The events behind a figure are for
staff: the alliance service checks that read itself, as the caller.
"""

from __future__ import annotations

from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator")
VIEWERS = ("viewer",)

READS = Policy(
    service="alliance",
    rules={
        "read-plan": Rule(staff=STAFF, open_to=VIEWERS),
        "read-figures": Rule(staff=STAFF, open_to=VIEWERS),
        "read-contributions": Rule(staff=STAFF),
    },
)
