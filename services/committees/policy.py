"""Who may do what in the committees service: the whole table, read in one place.

The Education Bureau (edu) owns the service. Its school staff act for the committees and
suggestions of the schools in their scope; its coordinators and admins with a city scope
act for districts and the city (escalated suggestions, community and village
committees). A suggestion assigned to another department is answered by that
department's staff or system: those grants are in contracts/departments.json, and the
service checks that the suggestion is assigned to the caller's department (api.py). The
same grants let a department report progress on the joint meetings' action items it leads
or supports, and no other.
"""

from __future__ import annotations

from services.kit.policy import Policy, Rule

STAFF = ("admin", "coordinator", "school-staff")
ANSWERING = ("admin", "coordinator", "school-staff", "department-system")
CONVENORS = ("admin", "coordinator")
REPORTING = ("admin", "coordinator", "department-system")

POLICY = Policy(
    service="committees",
    rules={
        "form-committee": Rule(staff=STAFF, owner_only=True),
        "change-members": Rule(staff=STAFF, owner_only=True),
        "read-committee": Rule(staff=STAFF, open_to=("viewer",)),
        # Members' names: the owner's staff whose scope covers one of the member's
        # committees' schools (city staff: all); api.py checks the scope per member.
        "read-member-names": Rule(staff=STAFF, owner_only=True),
        "schedule-meeting": Rule(staff=STAFF, owner_only=True),
        # Staff enter suggestions for the committee (from its meeting or its members).
        "submit-suggestion": Rule(staff=STAFF, owner_only=True),
        # Read with the submitter hidden unless staff of the owner (api.py).
        "read-suggestion": Rule(staff=ANSWERING, open_to=("viewer",)),
        "answer-suggestion": Rule(staff=ANSWERING),
        # The submitter's rating, entered by the school's staff for them.
        "rate-suggestion": Rule(staff=STAFF, owner_only=True),
        # The city (or a district) convenes joint meetings and adopts their action items:
        # the Education Bureau's coordinators with a city scope, for the alliance.
        "convene-joint-meeting": Rule(staff=CONVENORS, owner_only=True),
        # Read by the departments at the table (api.py checks lead or supporter).
        "read-action-item": Rule(staff=REPORTING, open_to=("viewer",)),
        # Progress from the lead or a supporting department (api.py checks which).
        "report-progress": Rule(staff=REPORTING),
        # A school's staff open and close its survey; parents answer for themselves (api.py).
        "run-survey": Rule(staff=STAFF, owner_only=True),
        # Results are aggregates with small cells suppressed: open to viewers.
        "read-survey-results": Rule(staff=STAFF, open_to=("viewer",)),
    },
)
