"""Reading the event store, the stream and the read model back, and checking them.

A command's *fingerprint* names the one event it produces (a volunteer's unique
display name, a shift's unique title, a volunteer/shift pair for a sign-up). With it:
- store: every acknowledged command has exactly one event with its fingerprint;
  no command's fingerprint appears twice; every event has a command that was sent;
- stream: every stored event is in the stream exactly once (by its log position,
  `ce-sequence`, and its `Nats-Msg-Id`), and every message is a stored event;
- read model: it has applied exactly the stream (its position is the stream's last
  sequence), its state equals the state the stored events give when each is
  applied once, every row comes from a stored event, and no command made two rows.
A command is *lost* when its event is missing from any of the three, *duplicated*
when it is found twice in any of them; a *phantom* is anything with no command.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.kit.privacy.datakeys import is_token
from services.volunteers.application import NAME_FIELD
from tests.chaos.load import Outcome
from tests.support.streams import StoredMessage

Fingerprint = tuple[str, ...]


@dataclass(frozen=True)
class StoredEvent:
    position: int
    kind: str  # e.g. "Volunteer.Registered"
    aggregate_id: str
    version: int
    fingerprint: Fingerprint | None  # None: not a published event (a command record)
    attributes: dict[str, Any]


def fingerprint_of(kind: str, aggregate_id: str, attributes: dict[str, Any]) -> Fingerprint | None:
    if kind == "Volunteer.Registered":
        return (kind, str(attributes["display_name"]))
    if kind == "Shift.Published":
        return (kind, str(attributes["title"]))
    if kind == "Volunteer.BackgroundCheckRequested":
        return (kind, aggregate_id)
    if kind in ("Shift.SignedUp", "Shift.SignUpCancelled"):
        return (kind, aggregate_id, str(attributes["volunteer_id"]))
    return None


def read_store(application: Any, batch: int = 5000) -> list[StoredEvent]:
    """Every event in the notification log, decoded (the application is a kit application)."""
    events: list[StoredEvent] = []
    recorder, mapper = application.recorder, application.mapper
    after = 0
    while True:
        notifications = recorder.select_notifications(after, batch, inclusive_of_start=False)
        if not notifications:
            return events
        for notification in notifications:
            event = mapper.to_domain_event(notification)
            kind = type(event).__qualname__
            attributes = dict(vars(event))
            aggregate_id = str(event.originator_id)
            if kind == "Volunteer.Registered":
                attributes["display_name"] = _name(application, aggregate_id, attributes)
            events.append(
                StoredEvent(
                    position=notification.id,
                    kind=kind,
                    aggregate_id=aggregate_id,
                    version=int(event.originator_version),
                    fingerprint=fingerprint_of(kind, aggregate_id, attributes),
                    attributes=attributes,
                )
            )
        after = notifications[-1].id


def _name(application: Any, volunteer_id: str, attributes: dict[str, Any]) -> str:
    """The registered name: stored as a data-key token that the service's keys open (or,
    in events written before names were encrypted, as itself)."""
    token = str(attributes["display_name"])
    if not is_token(token):
        return token
    name = application.privacy.keys.decrypt(token, field=NAME_FIELD, person_id=volunteer_id)
    return str(name)


@dataclass(frozen=True)
class ReadModel:
    position: int
    volunteers: dict[str, str | None]  # id -> check id (no names: see read_readmodel)
    shifts: dict[str, tuple[str, int]]  # id -> (title, places filled)
    sign_ups: dict[tuple[str, str], str]  # (shift, volunteer) -> status


def _open_readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def _position(conn: sqlite3.Connection, consumer: str) -> int:
    found = conn.execute("SELECT position FROM positions WHERE consumer = ?", (consumer,))
    row = found.fetchone()
    return int(row[0]) if row else 0


def readmodel_position(path: Path, consumer: str) -> int:
    conn = _open_readonly(path)
    try:
        return _position(conn, consumer)
    finally:
        conn.close()


def read_readmodel(path: Path, consumer: str) -> ReadModel:
    """The gateway's SQLite read model, read-only (the gateway may still be running)."""
    conn = _open_readonly(path)
    try:
        return ReadModel(
            position=_position(conn, consumer),
            # The read model keeps no names (they stay in the volunteers service).
            volunteers={r[0]: r[1] for r in conn.execute("SELECT id, check_id FROM volunteers")},
            shifts={
                r[0]: (r[1], int(r[2]))
                for r in conn.execute("SELECT id, title, places_filled FROM shifts")
            },
            sign_ups={
                (r[0], r[1]): r[2]
                for r in conn.execute("SELECT shift_id, volunteer_id, status FROM sign_ups")
            },
        )
    finally:
        conn.close()


@dataclass
class LayerResult:
    lost: set[Fingerprint] = field(default_factory=set)
    duplicated: set[Fingerprint] = field(default_factory=set)
    phantom: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        return (
            f"{name}: lost={len(self.lost)} duplicated={len(self.duplicated)} "
            f"phantom={self.phantom}"
        )


@dataclass
class Verdict:
    acknowledged: int
    store: LayerResult
    stream: LayerResult
    readmodel: LayerResult
    lost: int
    duplicated: int
    phantom: int

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.phantom == 0


def check(
    outcomes: list[Outcome],
    store: list[StoredEvent],
    stream: list[StoredMessage],
    readmodel: ReadModel,
) -> Verdict:
    acked = [o for o in outcomes if o.acknowledged]
    sent = {o.command.fingerprint for o in outcomes}
    published = [e for e in store if e.fingerprint is not None]
    store_result = _check_store(acked, sent, published)
    stream_result = _check_stream(published, stream)
    readmodel_result = _check_readmodel(published, stream, readmodel)
    acked_prints = {o.command.fingerprint for o in acked}
    sent_prints = sent
    layers = (store_result, stream_result, readmodel_result)
    lost = set().union(*(layer.lost for layer in layers)) & acked_prints
    duplicated = set().union(*(layer.duplicated for layer in layers)) & sent_prints
    return Verdict(
        acknowledged=len(acked),
        store=store_result,
        stream=stream_result,
        readmodel=readmodel_result,
        lost=len(lost),
        duplicated=len(duplicated),
        phantom=sum(layer.phantom for layer in layers),
    )


def _check_store(
    acked: list[Outcome], sent: set[Fingerprint], published: list[StoredEvent]
) -> LayerResult:
    result = LayerResult()
    counts = Counter(e.fingerprint for e in published)
    by_print = {e.fingerprint: e for e in published}
    for outcome in acked:
        fingerprint = outcome.command.fingerprint
        event = by_print.get(fingerprint)
        if counts[fingerprint] == 0 or event is None or not _answers(outcome, event):
            result.lost.add(fingerprint)
    result.duplicated = {p for p, n in counts.items() if n > 1 and p is not None}
    phantoms = [e for e in published if e.fingerprint not in sent]
    result.phantom = len(phantoms)
    result.notes += [f"store phantom: {e.kind} {e.aggregate_id}" for e in phantoms[:5]]
    return result


def _answers(outcome: Outcome, event: StoredEvent) -> bool:
    """The acknowledged response names the stored event (its aggregate and version)."""
    response = outcome.response or {}
    aggregate = response.get("volunteer_id") if event.kind.startswith("Volunteer.") else None
    aggregate = aggregate or response.get("shift_id")
    return str(aggregate) == event.aggregate_id and response.get("version") == event.version


def _check_stream(published: list[StoredEvent], stream: list[StoredMessage]) -> LayerResult:
    result = LayerResult()
    positions = Counter(int(m.headers.get("ce-sequence", "0")) for m in stream)
    message_ids = Counter(m.headers.get("Nats-Msg-Id") for m in stream)
    by_position = {e.position: e for e in published}
    for event in published:
        assert event.fingerprint is not None
        count = positions[event.position]
        if count == 0:
            result.lost.add(event.fingerprint)
        elif count > 1 or message_ids[f"volunteers-{event.position}"] > 1:
            result.duplicated.add(event.fingerprint)
    for message in stream:
        stored = by_position.get(int(message.headers.get("ce-sequence", "0")))
        if stored is None or message.headers.get("ce-subject") != stored.aggregate_id:
            result.phantom += 1
            result.notes.append(f"stream phantom: seq {message.seq} {message.headers}")
    return result


def _check_readmodel(
    published: list[StoredEvent], stream: list[StoredMessage], readmodel: ReadModel
) -> LayerResult:
    result = LayerResult()
    last_seq = max((m.seq for m in stream), default=0)
    if readmodel.position != last_seq:
        result.notes.append(f"read model at {readmodel.position}, stream at {last_seq}")
    expected = _state_from(published)
    prints: dict[Any, Fingerprint] = {}
    for event in published:
        assert event.fingerprint is not None
        prints[_row_key(event)] = event.fingerprint
    for volunteer, (_, check_id) in expected.volunteers.items():
        if volunteer not in readmodel.volunteers:
            result.lost.add(prints[("volunteer", volunteer)])
        elif readmodel.volunteers[volunteer] != check_id:
            result.lost.add(prints.get(("check", volunteer), prints[("volunteer", volunteer)]))
    for shift, (title, places) in expected.shifts.items():
        found_shift = readmodel.shifts.get(shift)
        if found_shift is None or found_shift[0] != title:
            result.lost.add(prints[("shift", shift)])
        elif found_shift[1] != places:
            result.notes.append(f"shift {shift}: places {found_shift[1]}, store says {places}")
            result.lost.update(p for k, p in prints.items() if k[0] == "pair" and k[1][0] == shift)
    for pair, status in expected.sign_ups.items():
        if readmodel.sign_ups.get(pair) != status:
            result.lost.add(prints[("pair", pair, status)])
    result.phantom = (
        len(readmodel.volunteers.keys() - expected.volunteers.keys())
        + len(readmodel.shifts.keys() - expected.shifts.keys())
        + len(readmodel.sign_ups.keys() - expected.sign_ups.keys())
    )
    # A volunteer registered twice is two ids in the store too (found there); the read
    # model has no name to tell them apart by.
    result.duplicated = {
        ("Shift.Published", title)
        for title, n in Counter(s[0] for s in readmodel.shifts.values()).items()
        if n > 1
    }
    return result


def _row_key(event: StoredEvent) -> tuple[Any, ...]:
    if event.kind == "Volunteer.Registered":
        return ("volunteer", event.aggregate_id)
    if event.kind == "Volunteer.BackgroundCheckRequested":
        return ("check", event.aggregate_id)
    if event.kind == "Shift.Published":
        return ("shift", event.aggregate_id)
    status = "signed-up" if event.kind == "Shift.SignedUp" else "cancelled"
    return ("pair", (event.aggregate_id, str(event.attributes["volunteer_id"])), status)


@dataclass
class _State:
    volunteers: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    shifts: dict[str, tuple[str, int]] = field(default_factory=dict)
    sign_ups: dict[tuple[str, str], str] = field(default_factory=dict)


def _state_from(events: Iterable[StoredEvent]) -> _State:
    """What the read model must hold: every stored event applied once, in log order."""
    state = _State()
    checks: dict[str, str] = {}
    for event in sorted(events, key=lambda e: e.position):
        a = event.attributes
        if event.kind == "Volunteer.Registered":
            state.volunteers[event.aggregate_id] = (str(a["display_name"]), None)
        elif event.kind == "Volunteer.BackgroundCheckRequested":
            checks[event.aggregate_id] = str(a["check_id"])
        elif event.kind == "Shift.Published":
            state.shifts[event.aggregate_id] = (str(a["title"]), 0)
        else:
            pair = (event.aggregate_id, str(a["volunteer_id"]))
            state.sign_ups[pair] = "signed-up" if event.kind == "Shift.SignedUp" else "cancelled"
            if event.aggregate_id in state.shifts:  # Else the store lost it: reported there.
                title = state.shifts[event.aggregate_id][0]
                state.shifts[event.aggregate_id] = (title, int(a["places_filled"]))
    for volunteer, check_id in checks.items():
        if volunteer in state.volunteers:
            state.volunteers[volunteer] = (state.volunteers[volunteer][0], check_id)
    return state
