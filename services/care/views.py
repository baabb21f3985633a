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
    return view
