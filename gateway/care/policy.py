"""Who may read the care feature's data through the gateway.

Care is the Education Bureau's, and its files are for the people working them. The
gateway knows only the published facts (no child, no category), and still keeps them to
edu staff: an edu coordinator or admin reads the worklists and timelines of the schools
in their scope (the district's care officer); school staff read those of the schools
they are care lead of and of the files they lead, in their scope. Everyone else,
viewers and dashboards included, reads coverage only, as suppressed counts. Mentors and
psychology teachers read files in the care service itself, which knows the teams.
"""

from __future__ import annotations

from services.kit.auth import ROLES
from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator", "school-staff")
SUPERVISORS = ("admin", "coordinator")

READS = Policy(
    service="care",
    rules={
        "read-worklist": Rule(staff=STAFF, owner_only=True),
        "read-timeline": Rule(staff=STAFF, owner_only=True),
        # Counts with small cells suppressed: nothing singles a child out.
        "read-coverage": Rule(open_to=ROLES),
    },
)
