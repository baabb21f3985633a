"""The departments' progress reports on action items: one type per department system,
made from the ownership map, and nothing in them a person could be written into."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import action_items, committees
from contracts.action_items import (
    LEGACY_REPORTS,
    PROGRESS_BY_BOUNDARY,
    PROGRESS_REPORTS,
    ActionItemProgress,
)
from contracts.departments import load_ownership_map
from contracts.events import privacy_of
from contracts.registry import ALL_EVENTS
from services.committees.reactions import REACTIONS

ITEM = "0b8e4f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
AT = datetime(2026, 11, 30, 9, tzinfo=UTC)
# What a field that takes text may be held to so that no sentence fits in it.
CLOSED = ("enum", "const", "pattern", "format")

PUBLISHED_PROGRESS = [
    cls
    for cls in ALL_EVENTS
    if cls.published
    and cls.event_name in (action_items.EVENT_NAME, committees.ActionItemProgressed.event_name)
]


def _open_text(schema: dict[str, Any], node: dict[str, Any], path: str) -> list[str]:
    """The paths under `node` that accept any string."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, ()):
            found += _open_text(schema, option, path)
    if node.get("type") == "string" and not any(k in node for k in CLOSED):
        found.append(path)
    if "items" in node:
        found += _open_text(schema, node["items"], f"{path}[]")
    for name, prop in node.get("properties", {}).items():
        found += _open_text(schema, prop, f"{path}.{name}" if path else name)
    return found


@pytest.mark.parametrize("cls", PUBLISHED_PROGRESS, ids=lambda c: c.event_type())
def test_no_published_progress_event_carries_free_text(cls: type[Any]) -> None:
    texts = [
        name
        for name, info in cls.model_fields.items()
        if privacy_of(info) in ("public-text", "personal", "sealed")
    ]
    assert not texts, f"{cls.event_type()} publishes free text in {texts}"


@pytest.mark.parametrize("cls", PROGRESS_REPORTS, ids=lambda c: c.event_type())
def test_a_department_system_cannot_write_a_sentence_into_a_report(cls: type[Any]) -> None:
    # The committees service fills its own events from its ids and codes; a department's
    # system writes its reports itself, so the schema alone must keep words out.
    schema = cls.model_json_schema()
    assert not _open_text(schema, schema, ""), f"{cls.event_type()}: unbounded text"


def test_every_department_system_and_only_they_report_progress() -> None:
    systems = [
        (department.code, boundary.name)
        for department in load_ownership_map().departments
        for boundary in department.boundaries
        if boundary.kind == "system"
    ]
    assert [(c.department(), c.boundary) for c in PROGRESS_REPORTS] == systems
    assert [c.boundary for c in LEGACY_REPORTS] == [b for _, b in systems]
    assert PROGRESS_BY_BOUNDARY["legal"].event_type() == (
        "org.tongxin.legal.action-item-progress-reported.v2"
    )
    assert PROGRESS_BY_BOUNDARY["legal"].__name__ == "LegalProgressReported"
    assert action_items.LegalProgressReported is PROGRESS_BY_BOUNDARY["legal"]  # type: ignore[attr-defined]
    # Committees reads every department system's reports, each from its own stream.
    assert sorted(r.subjects for r in REACTIONS) == sorted(c.subject() for c in PROGRESS_REPORTS)


@pytest.mark.parametrize("old", LEGACY_REPORTS, ids=lambda c: c.event_type())
def test_a_v1_report_reads_as_v2_without_its_note(old: type[Any]) -> None:
    report = old(
        report_id="r-1",
        action_item_id=ITEM,
        status="in-progress",
        percent=30,
        note="张三家长已联系",
        reported_at=AT,
    ).upcast()
    assert type(report) is PROGRESS_BY_BOUNDARY[old.boundary]
    assert report.model_dump() == {
        "report_id": "r-1",
        "action_item_id": ITEM,
        "status": "on-track",
        "percent": 30,
        "document_ref": None,
        "reported_at": AT,
    }
    assert "张三" not in report.model_dump_json()


@pytest.mark.parametrize(
    "field",
    [
        {"document_ref": "张三的谈话记录"},
        {"document_ref": "Zhang San"},
        {"report_id": "report about Zhang San"},
        {"note": "anything"},
    ],
)
def test_words_do_not_fit_in_a_report(field: dict[str, str]) -> None:
    fields: dict[str, Any] = {
        "report_id": "jus-2026-11-30-1",
        "action_item_id": ITEM,
        "status": "delayed",
        "reported_at": AT,
    }
    report: type[ActionItemProgress] = PROGRESS_BY_BOUNDARY["legal"]
    assert report(**fields, document_ref="JUS-2026-041").document_ref == "JUS-2026-041"
    with pytest.raises(ValidationError):
        report(**fields | field)
