"""Progress notes are kept encrypted under the action item's own key: written so through
the service, and rewritten so in stores from before (v1 reports' notes dropped)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from services.committees.application import CommitteesApplication
from services.committees.domain import ActionItem
from services.committees.migration import encrypt_plain_notes
from services.kit.eventstore import build_application
from services.kit.privacy.datakeys import is_token
from services.kit.privacy.personal import PersonalData
from services.kit.settings import Settings

T0 = datetime(2026, 11, 30, 9, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[CommitteesApplication]:
    settings = Settings(store="sqlite", state_dir=tmp_path / "state")
    app = build_application(CommitteesApplication, settings, "committees")
    app.personal = PersonalData.open(settings, "committees")
    yield app
    app.close()
    app.personal.close()


def an_item() -> ActionItem:
    return ActionItem(
        joint_meeting_id=uuid4(),
        convened_by="city",
        district=None,
        title="每校每学期一次法治讲座",
        lead="jus",
        supporters=["edu"],
        due_at=T0 + timedelta(days=90),
        at=T0,
    )


def test_a_note_written_through_the_service_is_stored_encrypted(
    app: CommitteesApplication,
) -> None:
    item = an_item()
    app.save(item)
    app.report_progress(
        None,
        item.id,
        department="edu",
        percent=None,
        done=False,
        note="已联系王老师",
        status="delayed",
    )
    app.report_progress(None, item.id, department="jus", percent=30, done=False, note=None)
    kept = app.action_item(item.id)
    assert [(d, p, s) for d, p, s, _, _ in kept.notes] == [
        ("edu", 0, "delayed"),
        ("jus", 30, "on-track"),
    ]
    assert is_token(kept.notes[0][3]) and kept.notes[1][3] == ""
    assert app.progress_notes(kept) == ["已联系王老师", None]


def test_plain_notes_of_old_stores_are_encrypted_in_place(app: CommitteesApplication) -> None:
    item = an_item()
    # As the service stored reports before notes were encrypted.
    item.report("edu", 40, False, "已联系王老师", "service", T0)
    item.report("jus", 60, False, "张三家长已联系", "department-system", T0, report_id="r1")
    app.save(item)
    head = app.recorder.max_notification_id()  # type: ignore[attr-defined]

    assert encrypt_plain_notes(app) == 2
    assert encrypt_plain_notes(app) == 0, "idempotent"
    assert app.recorder.max_notification_id() == head  # type: ignore[attr-defined]
    kept = app.action_item(item.id)
    assert is_token(kept.notes[0][3])
    # A department system's note had no place to go but the bus: v2 has none, nor does this.
    assert app.progress_notes(kept) == ["已联系王老师", None]
