"""The volunteers read model, fed the way the consumer feeds it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from contracts.checks import BackgroundCheckCompleted
from gateway.core.pagination import InvalidCursorError, encode_cursor
from gateway.tests.conftest import TODAY
from gateway.tests.support import (
    CONSUMER,
    T0,
    Stream,
    cancelled,
    check_recorded,
    check_requested,
    checked_in,
    checked_out,
    erased,
    published,
    registered,
    registered_v1,
    signed_up,
)
from gateway.volunteers.readmodel import VolunteersReadModel


def journey(stream: Stream):
    return stream(
        registered("v1"),
        registered("v2", school="s2"),
        published("sh1", capacity=2),
        signed_up("sh1", "v1", 1),
        signed_up("sh1", "v2", 2),
        cancelled("sh1", "v2", 1),
        checked_in("sh1", "v1"),
        checked_out("sh1", "v1", 2.0),
    )


class TestApply:
    def test_a_journey_builds_the_model(self, readmodel, stream):
        # Register, publish, sign up twice, cancel one, check the other in and out.
        readmodel.apply(CONSUMER, journey(stream))

        shift = readmodel.shift("sh1")
        assert shift is not None and shift.places_filled == 1 and shift.places_left == 1
        assert readmodel.volunteer("v1").hours == 2.0
        statuses = {s.volunteer_id: s.status for s in readmodel.sign_ups_for_shifts(["sh1"])["sh1"]}
        assert statuses == {"v1": "checked-out", "v2": "cancelled"}
        assert readmodel.position(CONSUMER) == 8
        assert readmodel.position("another-consumer") == 0

    def test_a_batch_ends_where_its_events_one_by_one_end(self, readmodel, stream, tmp_path):
        # Runs of one kind are written a statement at a time: a term's sign-ups, check-ins
        # and check-outs, with replays out of order (a check-out before its sign-up, a check
        # and hours before the registration, a volunteer signing up and cancelling in one run).
        events = stream(
            published("sh1", capacity=4),
            published("sh2", school="s2"),
            check_recorded("v3"),
            checked_out("sh2", "v3", 1.5, school="s2"),
            registered("v1"),
            registered("v2", school="s2"),
            registered("v3", school="s2"),
            registered("v1"),
            signed_up("sh1", "v1", 1),
            signed_up("sh1", "v2", 2),
            cancelled("sh1", "v2", 1),
            signed_up("sh1", "v2", 2),
            checked_in("sh1", "v1"),
            signed_up("sh2", "v3", 1),
            checked_out("sh1", "v1", 2.0),
            checked_out("sh1", "v2", 1.25),
            checked_out("sh2", "v3", 0.5, school="s2"),
            erased("v2"),
            registered_v1("v4", "name"),
            signed_up("sh2", "v4", 2),
        )
        readmodel.apply(CONSUMER, events)
        one_by_one = VolunteersReadModel(tmp_path / "one-by-one.sqlite3", today=lambda: TODAY)
        one_by_one.open()
        try:
            for delivered in events:
                one_by_one.apply(CONSUMER, [delivered])
            assert readmodel.canonical_dump() == one_by_one.canonical_dump()
        finally:
            one_by_one.close()
        assert readmodel.volunteer("v3").hours == 2.0
        assert readmodel.volunteer("v3").check_status == "passed"
        assert readmodel.shift("sh1").places_filled == 2

    def test_redelivery_changes_nothing(self, readmodel, stream):
        events = journey(stream)
        readmodel.apply(CONSUMER, events)
        before = readmodel.canonical_dump()

        # The same sequence numbers again, whole and in part.
        readmodel.apply(CONSUMER, events)
        readmodel.apply(CONSUMER, events[-1:])

        assert readmodel.canonical_dump() == before
        assert readmodel.volunteer("v1").hours == 2.0

    def test_a_failing_event_rolls_the_whole_batch_back(self, readmodel, stream, monkeypatch):
        readmodel.apply(CONSUMER, stream(registered("v1")))
        before = readmodel.canonical_dump()
        batch = stream(published("sh1"), signed_up("sh1", "v1", 1))

        # Signing up blows up half-way through the batch.
        def boom(*_: object) -> None:
            raise RuntimeError("poison")

        monkeypatch.setattr(readmodel, "_write_run", boom)
        with pytest.raises(RuntimeError):
            readmodel.apply(CONSUMER, batch)

        # Nothing of the batch is left, not even the shift; the position did not move.
        assert readmodel.canonical_dump() == before
        assert readmodel.position(CONSUMER) == 1
        monkeypatch.undo()
        readmodel.apply(CONSUMER, batch)
        assert readmodel.shift("sh1").places_filled == 1

    def test_unknown_types_and_unknown_ids_are_tolerated(self, readmodel, stream):
        # Another boundary's event, and events about things never seen.
        other = BackgroundCheckCompleted.model_construct()
        readmodel.apply(CONSUMER, stream(other))
        readmodel.apply(
            CONSUMER,
            stream(
                signed_up("ghost-shift", "ghost", 1),
                checked_out("ghost-shift", "ghost", 1.5, school="s9"),
                check_recorded("ghost", expires=date(2030, 1, 1)),
            ),
        )
        assert readmodel.position(CONSUMER) == 4

        # When they do show up, what came before is folded in.
        readmodel.apply(CONSUMER, stream(published("ghost-shift", "s9"), registered("ghost")))
        assert readmodel.shift("ghost-shift").places_filled == 1
        ghost = readmodel.volunteer("ghost")
        assert ghost.hours == 1.5 and ghost.check_status == "passed"

    def test_change_callbacks_get_the_shifts_touched(self, readmodel, stream):
        seen: list[frozenset[str]] = []
        remove = readmodel.on_change(seen.append)
        readmodel.apply(CONSUMER, stream(registered("v1")))
        readmodel.apply(
            CONSUMER, stream(published("sh1"), published("sh2"), signed_up("sh1", "v1", 1))
        )
        remove()
        readmodel.apply(CONSUMER, stream(published("sh3")))
        assert seen == [frozenset({"sh1", "sh2"})]


class TestChecks:
    def test_status_follows_requests_and_results(self, readmodel, stream):
        readmodel.apply(CONSUMER, stream(registered("v1"), check_requested("v1")))
        assert readmodel.volunteer("v1").check_status == "requested"
        readmodel.apply(CONSUMER, stream(check_recorded("v1", "failed")))
        assert readmodel.volunteer("v1").check_status == "failed"

    def test_a_pass_past_its_date_reads_as_expired(self, readmodel, stream):
        readmodel.apply(
            CONSUMER,
            stream(
                registered("v1"),
                registered("v2"),
                check_recorded("v1", expires=date(2026, 8, 31)),
                check_recorded("v2", expires=TODAY),
            ),
        )
        assert readmodel.volunteer("v1").check_status == "expired"
        assert readmodel.volunteer("v2").check_status == "passed"
        # Expiry is computed on read, never stored.
        assert '"expired"' not in readmodel.canonical_dump()


class TestSchoolHours:
    def test_hours_and_distinct_volunteers_per_school(self, readmodel, stream):
        readmodel.apply(
            CONSUMER,
            stream(
                published("a", "s1"),
                published("b", "s1", day=1),
                published("c", "s2"),
                checked_out("a", "v1", 2.0),
                checked_out("b", "v1", 1.5),
                checked_out("a", "v2", 1.0),
                checked_out("c", "v1", 3.0, school="s2"),
            ),
        )
        page = readmodel.school_hours(first=10)
        assert [(s.school_id, s.hours, s.volunteers) for s in page.rows] == [
            ("s1", 4.5, 2),
            ("s2", 3.0, 1),
        ]


class TestChildFacingChecks:
    def test_places_held_by_volunteers_checked_for_the_shifts_day(self, readmodel, stream):
        # Three volunteers on a child-facing shift at s1 in ten days: one checked until after
        # it, one whose pass lapses the day before, one with a failed check since sign-up.
        readmodel.apply(
            CONSUMER,
            stream(
                published("gate", "s1", day=10),
                published("past", "s2", day=-3),
                signed_up("gate", "v1", 1),
                signed_up("gate", "v2", 2),
                signed_up("gate", "v3", 3),
                signed_up("past", "v1", 1),
                check_recorded("v1", expires=date(2030, 1, 1)),
                check_recorded("v2", expires=(T0 + timedelta(days=9)).date()),
                check_recorded("v3", "failed"),
            ),
        )
        rows = readmodel.child_facing_checks(T0)
        # The shift already over at s2 is not counted.
        assert [(r.school_id, r.places_held, r.checked) for r in rows] == [("s1", 3, 1)]
        # A place given back no longer counts.
        readmodel.apply(CONSUMER, stream(cancelled("gate", "v3", 2)))
        assert [(r.places_held, r.checked) for r in readmodel.child_facing_checks(T0)] == [(2, 1)]


class TestPagination:
    def test_volunteers_page_by_registration_time_with_cursors(self, readmodel, stream):
        # Registered out of id order, two in the same minute (then the id decides).
        minutes = {"v4": 0, "v1": 1, "v0": 2, "v2": 2, "v3": 3}
        readmodel.apply(
            CONSUMER,
            stream(
                *(
                    registered(vid, school="s2" if vid == "v2" else "s1", minute=minute)
                    for vid, minute in minutes.items()
                )
            ),
        )
        first = readmodel.volunteers(first=2)
        assert [v.id for v in first.rows] == ["v4", "v1"] and first.has_next
        second = readmodel.volunteers(first=2, after=first.end_cursor)
        assert [v.id for v in second.rows] == ["v0", "v2"] and second.has_next
        last = readmodel.volunteers(first=2, after=second.end_cursor)
        assert [v.id for v in last.rows] == ["v3"] and not last.has_next
        at_s1 = readmodel.volunteers(first=10, school_id="s1")
        assert [v.id for v in at_s1.rows] == ["v4", "v1", "v0", "v3"]

    def test_a_cursor_of_the_former_order_by_name_is_refused(self, readmodel, stream):
        readmodel.apply(CONSUMER, stream(registered("v1")))
        with pytest.raises(InvalidCursorError):
            readmodel.volunteers(first=1, after=encode_cursor("volunteer", "Li Wei", "v1"))

    def test_shifts_page_by_start(self, readmodel, stream):
        readmodel.apply(CONSUMER, stream(*(published(f"sh{d}", day=5 - d) for d in range(5))))
        page = readmodel.shifts(first=3)
        assert [s.id for s in page.rows] == ["sh4", "sh3", "sh2"]
        rest = readmodel.shifts(first=3, after=page.end_cursor)
        assert [s.id for s in rest.rows] == ["sh1", "sh0"] and not rest.has_next

    def test_school_hours_page(self, readmodel, stream):
        readmodel.apply(
            CONSUMER,
            stream(*(checked_out(f"x{i}", "v", float(i % 2), school=f"s{i}") for i in range(1, 5))),
        )
        page = readmodel.school_hours(first=2)
        rest = readmodel.school_hours(first=2, after=page.end_cursor)
        ids = [s.school_id for s in page.rows + rest.rows]
        assert ids == ["s1", "s3", "s2", "s4"] and not rest.has_next

    @pytest.mark.parametrize("cursor", ["garbage!!", "", "WyJ4Il0"])
    def test_foreign_cursors_are_refused(self, readmodel, cursor):
        with pytest.raises(InvalidCursorError):
            readmodel.volunteers(first=1, after=cursor)
        shift_cursor = readmodel.shifts(first=1).end_cursor
        assert shift_cursor is None


class TestRebuild:
    def test_dump_is_stable_across_rebuild_and_reset(self, readmodel, stream, tmp_path: Path):
        readmodel.apply(CONSUMER, journey(stream))
        dump = readmodel.canonical_dump()

        # Replaying one event at a time into a fresh model gives the same state.
        other = VolunteersReadModel(":memory:", today=lambda: TODAY).open()
        for delivered in stream:
            other.apply(CONSUMER, [delivered])
        assert other.canonical_dump() == dump

        readmodel.reset()
        assert readmodel.position(CONSUMER) == 0
        readmodel.apply(CONSUMER, list(stream))
        assert readmodel.canonical_dump() == dump


def file_bytes(path: Path) -> bytes:
    """The read model's file and its WAL, as they are on disk."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


class TestPersonalData:
    def test_a_name_of_an_old_stream_is_dropped_on_read(self, readmodel, stream, tmp_path):
        readmodel.apply(CONSUMER, stream(registered_v1("v1", "Qiu Xiaoyun 邱晓云", kind="youth")))
        v1 = readmodel.volunteer("v1")
        assert (v1.kind, v1.school_id, v1.erased) == ("youth", "s1", False)
        assert "Qiu" not in readmodel.canonical_dump()
        assert b"Qiu Xiaoyun" not in file_bytes(tmp_path / "rm.sqlite3")
        assert "邱晓云".encode() not in file_bytes(tmp_path / "rm.sqlite3")

    def test_erasure_drops_the_check_id_and_keeps_the_figures(self, readmodel, stream):
        readmodel.apply(CONSUMER, journey(stream))
        readmodel.apply(CONSUMER, stream(check_requested("v1", "pol-check-7781")))
        readmodel.apply(CONSUMER, stream(check_recorded("v1", expires=date(2030, 1, 1))))
        hours_before = readmodel.school_hours(first=10).rows
        shift_before = readmodel.shift("sh1")

        readmodel.apply(CONSUMER, stream(erased("v1")))
        v1 = readmodel.volunteer("v1")
        assert v1.erased and v1.check_id is None
        assert v1.hours == 2.0 and v1.check_status == "passed"
        assert readmodel.school_hours(first=10).rows == hours_before
        assert readmodel.shift("sh1") == shift_before
        assert "pol-check-7781" not in readmodel.canonical_dump()
        # Others are untouched.
        assert not readmodel.volunteer("v2").erased

    def test_erasure_is_idempotent_and_holds_whatever_the_order(self, readmodel, stream):
        # Erased before the registration and the check arrive (a tolerant replay).
        readmodel.apply(CONSUMER, stream(erased("v1"), erased("v1")))
        readmodel.apply(
            CONSUMER,
            stream(registered("v1"), check_requested("v1", "pol-check-9"), erased("v1")),
        )
        v1 = readmodel.volunteer("v1")
        assert v1.erased and v1.check_id is None and v1.check_status == "requested"
        assert "pol-check-9" not in readmodel.canonical_dump()
        # Registered again (a redelivered registration): still erased.
        readmodel.apply(CONSUMER, stream(registered("v1", kind="teacher")))
        assert readmodel.volunteer("v1").erased


OLD_LAYOUT = """
CREATE TABLE volunteers (
    id TEXT PRIMARY KEY, display_name TEXT NOT NULL, kind TEXT NOT NULL, school_id TEXT,
    check_status TEXT NOT NULL DEFAULT 'none', check_id TEXT, check_expires_on TEXT,
    hours REAL NOT NULL DEFAULT 0, registered_at TEXT NOT NULL
);
CREATE INDEX volunteers_by_name ON volunteers (display_name, id);
CREATE TABLE positions (consumer TEXT PRIMARY KEY, position INTEGER NOT NULL);
"""


class TestMigration:
    def test_a_file_of_the_former_layout_is_emptied_and_replayed(self, tmp_path, stream):
        import sqlite3

        path = tmp_path / "gateway-volunteers.sqlite3"
        old = sqlite3.connect(path)
        old.execute("PRAGMA journal_mode=WAL")
        old.executescript(OLD_LAYOUT)
        old.execute(
            "INSERT INTO volunteers (id, display_name, kind, registered_at) "
            "VALUES ('v1', 'Gu Lanying 顾兰英', 'parent', '2026-09-01T07:00:00+00:00')"
        )
        old.execute("INSERT INTO positions VALUES (?, 41)", (CONSUMER,))
        old.commit()
        old.close()
        assert b"Gu Lanying" in file_bytes(path)

        model = VolunteersReadModel(path, today=lambda: TODAY).open()
        try:
            # Nothing of the former layout is left, on disk either: the stream is replayed.
            assert model.position(CONSUMER) == 0
            assert model.volunteer("v1") is None
            assert b"Gu Lanying" not in file_bytes(path)
            assert "顾兰英".encode() not in file_bytes(path)
            model.apply(CONSUMER, stream(registered("v1")))
            assert model.volunteer("v1") is not None
        finally:
            model.close()

        # Opening it again keeps what it has (the layout is current).
        again = VolunteersReadModel(path, today=lambda: TODAY).open()
        try:
            assert again.position(CONSUMER) == 1 and again.volunteer("v1") is not None
        finally:
            again.close()


class TestRecentShifts:
    """What a push reads without the lock: the shift as the last batch that changed it left
    it, never an older row."""

    def test_a_changed_shift_is_kept_as_committed(self, readmodel, stream):
        assert readmodel.recent_shift("sh1") is None
        readmodel.apply(CONSUMER, stream(registered("v1"), published("sh1", capacity=2)))
        assert readmodel.recent_shift("sh1") == readmodel.shift("sh1")
        readmodel.apply(CONSUMER, stream(signed_up("sh1", "v1", 1)))
        kept = readmodel.recent_shift("sh1")
        assert kept is not None and kept.places_filled == 1
        assert kept == readmodel.shift("sh1")

    def test_it_is_kept_before_subscribers_hear_of_the_change(self, readmodel, stream):
        seen = []
        readmodel.on_change(lambda keys: seen.extend(readmodel.recent_shift(k) for k in keys))
        readmodel.apply(CONSUMER, stream(published("sh1", capacity=2)))
        readmodel.apply(CONSUMER, stream(registered("v1"), signed_up("sh1", "v1", 1)))
        assert [row.places_filled for row in seen] == [0, 1]

    def test_a_reset_forgets_them(self, readmodel, stream):
        readmodel.apply(CONSUMER, stream(published("sh1")))
        readmodel.reset()
        assert readmodel.recent_shift("sh1") is None
