"""The invariant checks find a lost, a duplicated and a phantom event in each layer."""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.chaos.invariants import ReadModel, StoredEvent, check, fingerprint_of
from tests.chaos.load import Command, Outcome
from tests.support.streams import StoredMessage

VOLUNTEER = "11111111-1111-1111-1111-111111111111"
SHIFT = "22222222-2222-2222-2222-222222222222"


def event(position: int, kind: str, aggregate: str, version: int, **attrs: Any) -> StoredEvent:
    return StoredEvent(
        position, kind, aggregate, version, fingerprint_of(kind, aggregate, attrs), attrs
    )


def acked(key: str, fingerprint: tuple[str, ...], response: dict[str, Any]) -> Outcome:
    return Outcome(Command(key, "x", "/", {}, fingerprint), status=201, response=response)


def message(seq: int, position: int, aggregate: str) -> StoredMessage:
    headers = {
        "ce-sequence": str(position),
        "ce-subject": aggregate,
        "Nats-Msg-Id": f"volunteers-{position}",
    }
    return StoredMessage(seq, "evt.cyl.volunteers.x", headers, b"{}")


def world() -> tuple[list[Outcome], list[StoredEvent], list[StoredMessage], ReadModel]:
    """Two commands, each stored, published and projected exactly once."""
    outcomes = [
        acked(
            "k1",
            ("Volunteer.Registered", "Ann"),
            {"volunteer_id": VOLUNTEER, "version": 1},
        ),
        acked("k2", ("Shift.Published", "Gate"), {"shift_id": SHIFT, "version": 1}),
        acked(
            "k3",
            ("Shift.SignedUp", SHIFT, VOLUNTEER),
            {"shift_id": SHIFT, "volunteer_id": VOLUNTEER, "version": 2},
        ),
    ]
    store = [
        event(1, "Volunteer.Registered", VOLUNTEER, 1, display_name="Ann"),
        event(2, "CommandRecord.Handled", "33333333-3333-3333-3333-333333333333", 1),
        event(3, "Shift.Published", SHIFT, 1, title="Gate"),
        event(4, "Shift.SignedUp", SHIFT, 2, volunteer_id=VOLUNTEER, places_filled=1),
    ]
    stream = [message(1, 1, VOLUNTEER), message(2, 3, SHIFT), message(3, 4, SHIFT)]
    readmodel = ReadModel(
        position=3,
        volunteers={VOLUNTEER: None},
        shifts={SHIFT: ("Gate", 1)},
        sign_ups={(SHIFT, VOLUNTEER): "signed-up"},
    )
    return outcomes, store, stream, readmodel


def test_a_clean_run_is_clean() -> None:
    verdict = check(*world())
    assert (verdict.acknowledged, verdict.lost, verdict.duplicated, verdict.phantom) == (3, 0, 0, 0)


def test_an_event_missing_from_the_store_is_lost() -> None:
    outcomes, store, stream, readmodel = world()
    verdict = check(outcomes, [e for e in store if e.position != 3], stream, readmodel)
    assert verdict.store.lost == {("Shift.Published", "Gate")}
    assert verdict.lost >= 1


def test_an_acknowledged_response_naming_another_aggregate_is_lost() -> None:
    outcomes, store, stream, readmodel = world()
    outcomes[0].response = {"volunteer_id": SHIFT, "version": 1}
    assert check(outcomes, store, stream, readmodel).store.lost == {("Volunteer.Registered", "Ann")}


def test_a_command_run_twice_is_duplicated() -> None:
    outcomes, store, stream, readmodel = world()
    store.append(event(5, "Volunteer.Registered", SHIFT, 1, display_name="Ann"))
    verdict = check(outcomes, store, stream, readmodel)
    assert verdict.store.duplicated == {("Volunteer.Registered", "Ann")}
    assert verdict.duplicated == 1


def test_an_event_no_command_asked_for_is_a_phantom() -> None:
    outcomes, store, stream, readmodel = world()
    store.append(event(5, "Volunteer.Registered", SHIFT, 1, display_name="Nobody"))
    assert check(outcomes, store, stream, readmodel).store.phantom == 1


def test_the_stream_must_hold_each_stored_event_once() -> None:
    outcomes, store, stream, readmodel = world()
    missing = check(outcomes, store, stream[:2], readmodel)
    assert missing.stream.lost == {("Shift.SignedUp", SHIFT, VOLUNTEER)}
    twice = check(outcomes, store, [*stream, message(4, 4, SHIFT)], readmodel)
    assert twice.stream.duplicated == {("Shift.SignedUp", SHIFT, VOLUNTEER)}
    stranger = check(outcomes, store, [*stream, message(4, 99, SHIFT)], readmodel)
    assert stranger.stream.phantom == 1


def test_the_read_model_must_equal_the_stored_events_applied_once() -> None:
    outcomes, store, stream, readmodel = world()
    no_sign_up = dataclasses.replace(readmodel, sign_ups={})
    assert check(outcomes, store, stream, no_sign_up).readmodel.lost == {
        ("Shift.SignedUp", SHIFT, VOLUNTEER)
    }
    wrong_places = dataclasses.replace(readmodel, shifts={SHIFT: ("Gate", 2)})
    assert check(outcomes, store, stream, wrong_places).lost == 1
    extra = dataclasses.replace(readmodel, volunteers={VOLUNTEER: None, "x": None})
    verdict = check(outcomes, store, stream, extra)
    assert verdict.readmodel.phantom == 1
    missing = dataclasses.replace(readmodel, volunteers={})
    assert check(outcomes, store, stream, missing).readmodel.lost == {
        ("Volunteer.Registered", "Ann")
    }
    wrong_check = dataclasses.replace(readmodel, volunteers={VOLUNTEER: "c-9"})
    assert check(outcomes, store, stream, wrong_check).readmodel.lost == {
        ("Volunteer.Registered", "Ann")
    }
