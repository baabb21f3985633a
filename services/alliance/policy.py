"""Who may do what in the alliance service: the whole table, read in one place.

The Education Bureau (edu) runs the service for the city's leading group: its admins and
coordinators keep the plan (tasks, milestones, targets, campaigns) and close the
assessments. Every other department is granted the service (contracts/departments.json)
to report its own milestones and to read its tasks, figures and the events behind them.
Figures are about schools, districts and departments, never about a person: the city
dashboard (viewers) reads them too.
"""

from __future__ import annotations

from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator")

POLICY = Policy(
    service="alliance",
    rules={
        "keep-plan": Rule(staff=STAFF, owner_only=True),
        # A department reports its own milestones (checked in the route); edu any.
        "reach-milestone": Rule(staff=STAFF),
        "close-assessment": Rule(staff=("admin",), owner_only=True),
        "correct-assessment": Rule(staff=("admin",), owner_only=True),
        "read-plan": Rule(staff=STAFF, open_to=("viewer",)),
        "read-figures": Rule(staff=STAFF, open_to=("viewer",)),
        # The events behind a figure (ids, days, schools): staff only, not the dashboard.
        "read-contributions": Rule(staff=STAFF),
    },
)
