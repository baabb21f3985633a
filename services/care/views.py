"""A care file as one relation may see it: only the fields of its row in `policy.FIELDS`."""

from __future__ import annotations

from typing import Any

from services.care.application import CareApplication
from services.care.domain import CareFile
from services.care.policy import FIELDS
from services.kit.privacy.datakeys import ERASED, Decrypted


def _text(value: Decrypted | None) -> str | None:
    if value is None or value is ERASED:
        return None
    return str(value)


def file_view(app: CareApplication, care_file: CareFile, relation: str) -> dict[str, Any]:
    """The file's fields this relation may read; personal ones decrypted (null once erased)."""
    allowed = set(FIELDS[relation])
    fid = care_file.id
    view: dict[str, Any] = {
        "file_id": str(fid),
        "school_id": care_file.school_id,
        "relation": relation,
        "fields": sorted(allowed),
        "erased": care_file.erased,
        "version": care_file.version,
    }
    if "name" in allowed:
        view["name"] = _text(app.open_field(fid, "name", care_file.child_token))
    if "class" in allowed:
        view["class_id"] = care_file.class_id
    if "status" in allowed:
        view["status"] = care_file.status
        view["source"] = care_file.source
        view["opened_at"] = care_file.opened_at.isoformat()
    if "categories" in allowed:
        view["categories"] = [
            {
                "category": category,
                "review_on": item["review_on"],
                "evidence": _text(app.open_field(fid, "evidence", item["evidence"]))
                if "evidence" in allowed
                else None,
            }
            for category, item in sorted(care_file.categories.items())
        ]
    if "screenings" in allowed:
        view["screenings"] = list(care_file.screenings)
    if "team" in allowed:
        view["team"] = [
            {"account": account, "role": m["role"], "kind": m["kind"]}
            for account, m in sorted(care_file.team.items())
        ]
    if "visits" in allowed:
        view["visits"] = [
            {
                "visit_id": v["visit_id"],
                "visited_on": v["visited_on"],
                "mode": v["mode"],
                "visitors": v["visitors"],
                "next_visit_on": v["next_visit_on"],
                "notes": _text(app.open_field(fid, "visit_notes", v["notes"]))
                if "visit_notes" in allowed
                else None,
            }
            for v in care_file.visits
        ]
    if "next_visit" in allowed:
        next_visit = care_file.next_visit()
        view["next_visit_on"] = next_visit.isoformat() if next_visit else None
    if "next_review" in allowed:
        next_review = care_file.next_review()
        view["next_review_on"] = next_review.isoformat() if next_review else None
    if "plan" in allowed:
        view["plan"] = [
            {
                "goal_id": goal_id,
                "goal": _text(app.open_field(fid, "goal", g["text"])),
                "review_on": g["review_on"],
                "status": g["status"],
            }
            for goal_id, g in care_file.goals.items()
        ]
        view["review_overdue_on"] = care_file.review_overdue_on
    if "follow_ups" in allowed:
        view["follow_ups"] = [
            {
                "follow_up_id": f["follow_up_id"],
                "on": f["on"],
                "mode": f["mode"],
                "goal_id": f["goal_id"],
                "notes": _text(app.open_field(fid, "follow_up_notes", f["notes"])),
            }
            for f in care_file.follow_ups
        ]
    if "home_teaching" in allowed:
        plan = care_file.home_teaching
        view["home_teaching"] = (
            None
            if plan is None
            else {
                "teacher": plan["teacher"],
                "sessions_per_week": plan["sessions_per_week"],
                "starts_on": plan["starts_on"],
                "ends_on": plan["ends_on"],
                "reason": _text(app.open_field(fid, "home_teaching_reason", plan["reason"])),
                "sessions": [
                    {
                        "session_id": x["session_id"],
                        "delivered_on": x["delivered_on"],
                        "hours": x["hours"],
                        "subject": x["subject"],
                        "teacher": x["teacher"],
                        "notes": _text(app.open_field(fid, "session_notes", x["notes"])),
                    }
                    for x in care_file.sessions
                ],
            }
        )
    return view
