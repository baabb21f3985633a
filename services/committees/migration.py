"""Installations from before progress notes were encrypted: their notes encrypted where
they lie.

`ActionItem.Progressed` held a department's note in plain text, and v1 of the departments'
reports carried one onto the bus. Notes are now kept encrypted under the item's own key
(`notes_owner`), so they are erased with it whatever they mention; the migration rewrites
the stored events in place rather than encrypting on load, which would leave the plain
text in the old rows. A note that came from a department system's report is dropped, as
its v2 has none. Idempotent: tokens and empty notes are left alone.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from services.committees.application import NOTE_FIELD, CommitteesApplication, notes_owner
from services.committees.domain import ActionItem
from services.kit.privacy.datakeys import PersonErasedError, is_token
from services.kit.privacy.rewrite import rewrite_events

PROGRESSED = ActionItem.Progressed  # type: ignore[attr-defined]


def encrypt_plain_notes(app: CommitteesApplication) -> int:
    """Encrypt every plain-text progress note in place; how many events were rewritten."""
    keys = app.privacy().keys

    def change(action_item_id: UUID, state: dict[str, Any]) -> dict[str, Any] | None:
        note = state.get("note")
        if not isinstance(note, str) or note == "" or is_token(note):
            return None
        if state.get("via") == "department-system":
            return state | {"note": ""}
        try:
            token = keys.encrypt(notes_owner(action_item_id), NOTE_FIELD, note)
        except PersonErasedError:
            token = ""
        return state | {"note": token}

    return rewrite_events(app, [get_topic(PROGRESSED)], change)
