"""Installations from before names were encrypted: their names encrypted where they lie.

Until names were encrypted per person, `Volunteer.Registered` and `Volunteer.Renamed` held
the name in plain text, which erasure (deleting the person's key) cannot reach. Rather
than tolerate such events as legacy and encrypt on first load (the plain text would stay
in the old rows, and in every backup taken later), the migration rewrites them in place:
each plain name becomes a token under its person's key, and the name of a person already
erased becomes empty, as nothing of them is to be kept. Idempotent: tokens are left alone.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from services.kit.privacy.datakeys import PersonErasedError, is_token
from services.kit.privacy.rewrite import rewrite_events
from services.volunteers.application import NAME_FIELD, VolunteersApplication
from services.volunteers.domain import Volunteer

# The event field keeps its first name (see `Volunteer`).
NAMED_EVENTS = (Volunteer.Registered, Volunteer.Renamed)  # type: ignore[attr-defined]
EVENT_FIELD = "display_name"


def encrypt_plain_names(app: VolunteersApplication) -> int:
    """Encrypt every plain-text name in the store in place; how many events were rewritten."""
    keys = app.privacy.keys

    def change(volunteer_id: UUID, state: dict[str, Any]) -> dict[str, Any] | None:
        name = state.get(EVENT_FIELD)
        if not isinstance(name, str) or is_token(name) or name == "":
            return None
        try:
            token = keys.encrypt(str(volunteer_id), NAME_FIELD, name)
        except PersonErasedError:
            token = ""
        return state | {EVENT_FIELD: token}

    return rewrite_events(app, [get_topic(e) for e in NAMED_EVENTS], change)
