"""The delivery log by endpoint gives what the scan of the event log gave: the log page
by page, the figures, and a redrive that picks exactly the failed range. SQLite and
PostgreSQL, on a mixed history (delivered, retried, timed out, given up, 410, disabled)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from services.feeds.application import DELIVERY_STARTS, FeedsApplication, Outcome, iso
from services.feeds.domain import Delivery, DeliveryDelivered, DeliveryDeliveredAtOnce
from services.feeds.integration import translate
from services.feeds.pending import KWARG, Changes
from services.kit.clock import ManualClock
from services.kit.eventstore import store_env
from services.kit.settings import Settings

PARTNER = "city-museum"
SHIFT = "org.tongxin.volunteers.shift-published.v1"
T0 = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest) -> Iterator[FeedsApplication]:
    settings: Settings = request.getfixturevalue(
        "pg_settings" if request.param == "postgres" else "sqlite_settings"
    )
    application = FeedsApplication(env=store_env(settings, "feeds"))
    application.clock = ManualClock(T0 + 100)
    application.allow_local_targets = True
    try:
        yield application
    finally:
        application.close()


def entries(app: FeedsApplication, numbers: range) -> None:
    app.record_entries(
        "test",
        numbers.stop,
        [
            (
                PARTNER,
                f"msg_{n:02d}",
                {
                    "type": SHIFT,
                    "subject": f"shift-{n % 3}",
                    "time": datetime.fromtimestamp(T0 + n, UTC).isoformat(),
                    "data": {"shift_id": f"shift-{n}"},
                },
            )
            for n in numbers
        ],
    )


def attempt(
    app: FeedsApplication, endpoint_id: UUID, at: float, answers: dict[str, tuple[Any, ...]]
) -> None:
    """Outcomes for the endpoint's due rows named in `answers`: (status, error, retry)."""
    due = app.pending.due_deliveries(endpoint_id, at, 100)
    outcomes = [
        Outcome(
            pending=row,
            at=at,
            status=answers[row.message_id][0],
            latency_ms=float(int(row.message_id[-2:]) * 10 + len(row.message_id)),
            error=answers[row.message_id][1],
            next_at=answers[row.message_id][2],
        )
        for row in due
        if row.message_id in answers
    ]
    app.record_outcomes(outcomes)


def scanned(app: FeedsApplication, endpoint_id: UUID) -> list[Delivery]:
    """The deliveries as the log scan found them (before the read model): oldest first."""
    ids = [
        e.originator_id
        for _, e in app.scan(DELIVERY_STARTS)
        if getattr(e, "endpoint_id", None) == endpoint_id
    ]
    return [app.get(i, Delivery) for i in ids]


def old_log(app: FeedsApplication, endpoint_id: UUID) -> list[tuple[Any, ...]]:
    waiting = [p for p in reversed(app.pending.pending_of(endpoint_id)) if not p.recorded]
    return [(p.message_id, "pending", p.event_time, []) for p in waiting] + [
        (
            d.message_id,
            d.state,
            d.event_time,
            [(iso(a["at"]), a["status"], a["latency_ms"], a["error"]) for a in d.attempts],
        )
        for d in reversed(scanned(app, endpoint_id))
    ]


def new_log(
    app: FeedsApplication, endpoint_id: UUID, size: int, state: str | None = None
) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    start: str | None = None
    while True:
        page = app.delivery_page(endpoint_id, state, start, size)
        assert len(page.waiting) + len(page.logged) <= size
        found += [(p.message_id, "pending", p.event_time, []) for p in page.waiting]
        found += [
            (
                d.message_id,
                d.state,
                d.event_time,
                [
                    (iso(a.at), a.status, a.latency_ms, a.error)
                    for a in page.attempts[d.delivery_id]
                ],
            )
            for d in page.logged
        ]
        if page.next is None:
            return found
        start = page.next


def old_figures(app: FeedsApplication, endpoint_id: UUID) -> dict[str, Any]:
    deliveries = scanned(app, endpoint_id)
    attempts = [a for d in deliveries for a in d.attempts]
    latencies = sorted(a["latency_ms"] for a in attempts if a["status"] is not None)

    def rank(point: float) -> float | None:
        if not latencies:
            return None
        return float(latencies[min(len(latencies) - 1, int(point * len(latencies)))])

    return {
        "delivered": sum(d.state == "delivered" for d in deliveries),
        "dead": sum(d.state == "dead" for d in deliveries),
        "attempts": len(attempts),
        "failed": sum(a["status"] is None or not 200 <= a["status"] < 300 for a in attempts),
        "p50": rank(0.5),
        "p95": rank(0.95),
    }


def new_figures(app: FeedsApplication, endpoint_id: UUID) -> dict[str, Any]:
    figures = app.figures(endpoint_id)
    return {
        "delivered": figures.totals.states.get("delivered", 0),
        "dead": figures.totals.states.get("dead", 0),
        "attempts": figures.totals.attempts,
        "failed": figures.totals.failed_attempts,
        "p50": figures.latency_ms_p50,
        "p95": figures.latency_ms_p95,
    }


def compare(app: FeedsApplication, endpoint_ids: list[UUID]) -> None:
    for endpoint_id in endpoint_ids:
        before = old_log(app, endpoint_id)
        assert before, "the history has deliveries"
        for size in (1, 3, 500):
            assert new_log(app, endpoint_id, size) == before
        for state in ("pending", "delivered", "dead"):
            assert new_log(app, endpoint_id, 2, state) == [d for d in before if d[1] == state]
        assert new_figures(app, endpoint_id) == old_figures(app, endpoint_id)


def test_log_figures_and_redrive_match_the_scan_of_the_event_log(app: FeedsApplication) -> None:
    app.set_agreement(None, PARTNER, {SHIFT: None})
    made = [
        app.add_endpoint(
            None,
            PARTNER,
            url=f"http://127.0.0.1:9/{n}",
            event_types=[],
            ordered=False,
            rate_per_s=5,
        )
        for n in range(2)
    ]
    a, b = (UUID(e["id"]) for e in made)
    entries(app, range(12))
    later = T0 + 1000
    first = {f"msg_{n:02d}": (200, None, None) for n in range(4)}
    first |= {f"msg_{n:02d}": (500, None, later) for n in range(4, 8)}
    first |= {f"msg_{n:02d}": (None, "timeout", later) for n in (8, 9)}
    first |= {f"msg_{n:02d}": (503, None, None) for n in (10, 11)}
    attempt(app, a, T0 + 100, first)
    attempt(app, b, T0 + 100, {f"msg_{n:02d}": (200, None, None) for n in range(12) if n != 5})
    attempt(app, b, T0 + 100, {"msg_05": (410, None, None)})
    second = {"msg_04": (200, None, None), "msg_05": (204, None, None)}
    second |= {f"msg_{n:02d}": (500, None, None) for n in range(6, 10)}
    attempt(app, a, later, second)
    # B switched off with 12..14 waiting (dead-lettered then), and 15..16 coming after it
    # (dead-lettered at once); A has them all waiting.
    entries(app, range(12, 15))
    app.set_enabled(None, PARTNER, b, False)
    entries(app, range(15, 17))
    compare(app, [a, b])

    # A redrive of [6, 10) sends again exactly 6..9 (10 and 11 are dead, but outside).
    answer = app.redrive(None, PARTNER, a, T0 + 6, T0 + 10)
    assert answer["redriven"] == 4
    again = {p.message_id for p in app.pending.pending_of(a) if p.recorded}
    assert again == {f"msg_{n:02d}" for n in range(6, 10)}
    compare(app, [a, b])
    assert [d[0] for d in new_log(app, a, 10, "dead")] == ["msg_11", "msg_10"]
    # The rest of the dead letters (no range): 10 and 11, then nothing is left to redrive.
    assert app.redrive(None, PARTNER, a, None, None)["redriven"] == 2
    assert app.redrive(None, PARTNER, a, None, None)["redriven"] == 0


def test_a_store_written_before_the_log_tables_is_filled_from_its_events(
    app: FeedsApplication,
) -> None:
    app.set_agreement(None, PARTNER, {SHIFT: None})
    endpoint = app.add_endpoint(
        None, PARTNER, url="http://127.0.0.1:9/x", event_types=[], ordered=False, rate_per_s=5
    )
    a = UUID(endpoint["id"])
    entries(app, range(4))
    attempt(app, a, T0 + 100, {"msg_00": (200, None, None), "msg_01": (500, None, T0 + 200)})
    before = new_log(app, a, 10), new_figures(app, a)
    # As an older version left it: the events, and empty log tables.
    recorder: Any = app.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        for table in recorder.history_tables:
            cursor.execute(f"DELETE FROM {table}")
    assert new_log(app, a, 10) != before[0]
    assert app.backfill_history() == 2
    assert (new_log(app, a, 10), new_figures(app, a)) == before
    assert app.backfill_history() == 0


def test_deliveries_stored_as_three_events_load_beside_those_stored_as_one(
    app: FeedsApplication,
) -> None:
    """A delivery answered at its first attempt is one event now (DeliveredAtOnce); one
    stored by an older version is Scheduled, Attempted, Delivered: both load, are logged
    and published alike."""
    app.set_agreement(None, PARTNER, {SHIFT: None})
    endpoint = app.add_endpoint(
        None, PARTNER, url="http://127.0.0.1:9/x", event_types=[], ordered=False, rate_per_s=5
    )
    a = UUID(endpoint["id"])
    entries(app, range(3))
    rows = {r.message_id: r for r in app.pending.due_deliveries(a, T0 + 100, 10)}
    # msg_00 as an older version recorded it: three events, its row removed.
    old = rows["msg_00"]
    delivery = Delivery(
        endpoint_id=old.endpoint_id,
        partner_id=old.partner_id,
        entry_id=old.entry_id,
        message_id=old.message_id,
        subject=old.subject,
        event_time=old.event_time,
        due_at=old.due_at,
    )
    delivery.attempt(at=T0 + 100, status=200, latency_ms=12.0, error=None, next_at=None)
    app.save(delivery, **{KWARG: Changes(remove=[old.delivery_id])})
    attempt(app, a, T0 + 100, {"msg_01": (200, None, None), "msg_02": (500, None, T0 + 200)})

    def stored(message_id: str) -> list[str]:
        events = app.recorder.select_events(rows[message_id].delivery_id)
        return [e.topic.rsplit(".", 1)[-1] for e in events]

    assert stored("msg_00") == ["Scheduled", "Attempted", "Delivered"]
    assert stored("msg_01") == ["DeliveredAtOnce"]
    assert stored("msg_02") == ["Scheduled", "Attempted"]
    loaded = {m: app.get(rows[m].delivery_id, Delivery) for m in rows}
    for message_id in ("msg_00", "msg_01"):
        d = loaded[message_id]
        assert (d.state, d.round, len(d.attempts), d.attempts[0]["status"]) == (
            "delivered",
            1,
            1,
            200,
        )
        assert (d.endpoint_id, d.entry_id, d.subject) == (
            a,
            rows[message_id].entry_id,
            rows[message_id].subject,
        )
    assert loaded["msg_02"].state == "pending"

    # Published alike: the dashboard sees a message delivered at its first attempt.
    published = {
        getattr(e, "message_id", None): translate(e)
        for _, e in app.scan([get_topic(DeliveryDelivered), get_topic(DeliveryDeliveredAtOnce)])
    }
    assert set(published) == {"msg_00", "msg_01"}
    for message_id, contract in published.items():
        assert contract is not None
        assert (contract.message_id, contract.attempts, str(contract.endpoint_id)) == (
            message_id,
            1,
            str(a),
        )

    # The log filled from the events (as for a store older than its tables) holds both
    # shapes, as the scan of the events gives them.
    recorder: Any = app.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        for table in recorder.history_tables:
            cursor.execute(f"DELETE FROM {table}")
    assert app.backfill_history() == 3
    compare(app, [a])
    assert [(d[0], d[1]) for d in new_log(app, a, 10)] == [
        ("msg_02", "pending"),
        ("msg_01", "delivered"),
        ("msg_00", "delivered"),
    ]
