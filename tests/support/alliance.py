"""Department reports as their systems send them, and the alliance's edu admin, for tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

from contracts import reports
from contracts.events import ContractEvent
from services.kit.auth import DevIssuer

SCHOOL = "yz-dongguan-primary"
DISTRICT = "321002"  # Guangling (contracts/city.json)

# One valid report of each department system, on a given day (data without the day field).
SAMPLES: dict[type[ContractEvent], tuple[str, dict[str, Any]]] = {
    reports.LegalLectureGiven: ("held_on", {"school_id": SCHOOL, "district_id": DISTRICT,
                                "audience": "families", "attendance": 80}),
    reports.VicePrincipalVisited: ("visited_on", {"school_id": SCHOOL, "district_id": DISTRICT}),
    reports.GuidanceSessionHeld: ("held_on", {"community_id": "wanfu", "district_id": DISTRICT,
                                  "kind": "consultation", "families": 12}),
    reports.FundGrantMade: ("granted_on", {"school_id": SCHOOL, "district_id": DISTRICT,
                            "purpose": "parent-school", "amount_yuan": 5000.0}),
    reports.SafetyDrillSupervised: ("held_on", {"school_id": SCHOOL, "district_id": DISTRICT,
                                    "kind": "fire"}),
    reports.RegisterReviewed: ("reviewed_on", {"community_id": "wanfu", "district_id": DISTRICT,
                               "children": 9}),
    reports.HealthTalkGiven: ("held_on", {"school_id": SCHOOL, "district_id": DISTRICT,
                              "topic": "eyesight"}),
    reports.ProtectionLectureGiven: ("held_on", {"school_id": SCHOOL, "district_id": DISTRICT}),
    reports.EldersActivityHeld: ("held_on", {"team_id": "elders-wanfu", "district_id": DISTRICT,
                                 "elders": 5}),
}  # fmt: skip


def report(cls: type[ContractEvent], on: date, **changes: Any) -> dict[str, Any]:
    """A structured CloudEvent of `cls` that took place on `on`."""
    day_field, data = SAMPLES[cls]
    event_id = str(uuid4())
    body = {"report_id": event_id, **data, day_field: on.isoformat(), **changes}
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": f"/{cls.department()}/{cls.boundary}",
        "type": cls.event_type(),
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": body,
    }


def edu_admin(issuer: DevIssuer) -> str:
    return issuer.token(role="admin", department="edu", subject="edu-admin", scope="city")
