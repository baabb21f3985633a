"""Who may do what in the resources service: the whole table, read in one place.

Culture, Tourism & Sports (cult) owns the learning map. Schools belong to the Education
Bureau: its school staff and coordinators are granted the service to book visits for the
schools in their scope. The Science Association (sci) is granted it for its coordinators,
who put their own science venues on the map; a venue's owner is checked in the API, so
that a granted department acts on its own venues only. Venue facts and slots carry no
personal data: every authenticated caller reads them.
"""

from __future__ import annotations

from services.kit.auth import ROLES
from services.kit.policy import Policy, Rule

VENUE_STAFF = ("admin", "coordinator")
# Departments granted the service for their own venues only: they do not book for schools.
VENUES_ONLY = frozenset({"sci"})
STAFF = ("admin", "coordinator", "school-staff")

POLICY = Policy(
    service="resources",
    rules={
        # City-wide acts on the map: a venue belongs to no school, so city scope only.
        "register-venue": Rule(staff=VENUE_STAFF),
        "close-venue": Rule(staff=VENUE_STAFF),
        "read-venue": Rule(open_to=ROLES),
        "read-slot": Rule(open_to=ROLES),
        # Staff act for the booking's school (the venue's city-wide staff too), except
        # those of VENUES_ONLY departments (api.py).
        "book-visit": Rule(staff=STAFF),
        "cancel-visit": Rule(staff=STAFF),
        "check-in": Rule(staff=STAFF),
        "complete-visit": Rule(staff=STAFF),
        # Approving or declining a provisional booking is the venue's act.
        "decide-booking": Rule(staff=VENUE_STAFF),
        # Releasing no-shows is the venue's act, for every school on the slot at once.
        "release-no-shows": Rule(staff=VENUE_STAFF),
    },
)
