"""The feeds service's small parts: agreements, signatures, targets, the schedule, the bucket."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import jsonschema
import pytest
from standardwebhooks import Webhook

from contracts.events import PARTNER_CLASSES, privacy_of
from contracts.registry import ALL_EVENTS
from services.feeds.agreements import AgreementRefusedError, checked_fields, partner_events
from services.feeds.application import FeedsApplication, Outcome
from services.feeds.asyncapi import document
from services.feeds.dispatcher import EndpointWorker, OutcomeRecorder, RateBucket
from services.feeds.domain import RETRY_WAITS_S, Endpoint
from services.feeds.pending import KWARG, Changes, PendingDelivery
from services.feeds.schedule import JITTER, next_wait, retry_after
from services.feeds.signing import WebhookVerificationError, new_secret, signed_headers, verify
from services.feeds.targets import TargetRefusedError, check_url
from services.kit.clock import ManualClock
from services.kit.eventstore import store_env
from services.kit.settings import Settings
from tests.support.waiting import eventually

SHIFT = "org.tongxin.volunteers.shift-published.v1"


class TestAgreements:
    def test_no_partner_schema_holds_a_personal_or_sealed_field(self) -> None:
        # Every partner-facing schema, as the published language defines it.
        assert partner_events(), "some event is for partners"
        for cls in ALL_EVENTS:
            for name in cls.partner_fields():
                assert privacy_of(cls.model_fields[name]) in PARTNER_CLASSES, (cls, name)

    def test_a_personal_field_or_an_event_not_for_partners_is_refused(self) -> None:
        with pytest.raises(AgreementRefusedError):
            checked_fields({"org.tongxin.volunteers.volunteer-registered.v1": ["display_name"]})
        with pytest.raises(AgreementRefusedError):
            checked_fields({"org.tongxin.volunteers.volunteer-registered.v2": None})
        with pytest.raises(AgreementRefusedError):
            checked_fields({SHIFT: ["title", "display_name"]})

    def test_null_means_every_public_field_in_contract_order(self) -> None:
        fields = checked_fields({SHIFT: None})[SHIFT]
        assert fields[0] == "shift_id" and "title" in fields
        assert checked_fields({SHIFT: ["title", "shift_id"]})[SHIFT] == ["shift_id", "title"]


class TestSignatures:
    def test_both_secrets_sign_during_a_rotation_and_either_verifies(self) -> None:
        old, new = new_secret(), new_secret()
        body = '{"a":1}'
        headers = signed_headers("msg_1", body, [old, new])
        assert len(headers["webhook-signature"].split(" ")) == 2
        assert Webhook(old).verify(body, headers) == {"a": 1}
        assert Webhook(new).verify(body, headers) == {"a": 1}
        assert verify(body, headers, [new_secret(), new]) == {"a": 1}

    def test_a_changed_body_or_another_secret_fails(self) -> None:
        secret = new_secret()
        headers = signed_headers("msg_1", '{"a":1}', [secret])
        with pytest.raises(WebhookVerificationError):
            verify('{"a":2}', headers, [secret])
        with pytest.raises(WebhookVerificationError):
            verify('{"a":1}', headers, [new_secret()])


class TestTargets:
    @pytest.mark.parametrize(
        "url",
        [
            "http://example.org/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.1/hook",
            "https://169.254.169.254/latest",
            "https://[::1]/hook",
            "https://user:pw@example.org/hook",
            "ftp://example.org/hook",
        ],
    )
    def test_production_refuses(self, url: str) -> None:
        with pytest.raises(TargetRefusedError):
            check_url(url, allow_local=False)

    def test_public_https_passes_and_the_demo_may_use_localhost(self) -> None:
        check_url("https://93.184.216.34/hook", allow_local=False)
        check_url("http://127.0.0.1:8108/hook", allow_local=True)
        with pytest.raises(TargetRefusedError):
            check_url("http://10.0.0.1/hook", allow_local=True)


class TestSchedule:
    def test_each_step_within_its_jitter_then_give_up(self) -> None:
        rng = random.Random(7)
        for n, base in enumerate(RETRY_WAITS_S, start=1):
            wait = next_wait(n, rng=rng)
            assert wait is not None and base * (1 - JITTER) <= wait <= base * (1 + JITTER)
        assert next_wait(len(RETRY_WAITS_S) + 1) is None

    def test_retry_after_is_honoured_but_capped(self) -> None:
        assert (next_wait(1, 600.0) or 0) >= 600
        assert (next_wait(1, 10**9) or 0) <= max(RETRY_WAITS_S) * (1 + JITTER)
        assert retry_after("120", 0) == 120
        assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0) == 0
        assert retry_after("soon", 0) is None


class TestRateBucket:
    def test_no_more_than_the_rate_per_second(self) -> None:
        bucket = RateBucket(rate=2.0)
        assert [bucket.wait(100.0) for _ in range(3)] == [0.0, 0.0, 0.5]
        assert bucket.wait(100.5) == 0.0
        assert bucket.wait(100.5) > 0


class TestPendingTable:
    def test_due_rows_by_endpoint_and_time_and_only_each_subjects_oldest_when_ordered(
        self, tmp_path: Path
    ) -> None:
        app = FeedsApplication(env=store_env(Settings(state_dir=tmp_path), "feeds"))
        ordered, loose = uuid4(), uuid4()

        def row(endpoint_id: UUID, n: int, subject: str, due_at: float) -> PendingDelivery:
            return PendingDelivery(
                delivery_id=uuid4(),
                endpoint_id=endpoint_id,
                partner_id="city-museum",
                entry_id=uuid4(),
                message_id=f"msg_{n}",
                subject=subject,
                ordered=endpoint_id == ordered,
                event_time=0.0,
                due_at=due_at,
            )

        rows = [row(ordered, n, s, 10.0) for n, s in enumerate(["a", "a", "b", "a"])]
        later = row(loose, 4, "a", 20.0)
        app.save(**{KWARG: Changes(add=[*rows, row(loose, 5, "a", 10.0), later])})
        due = app.pending.due_deliveries(ordered, now=10.0, limit=10)
        assert [d.message_id for d in due] == ["msg_0", "msg_2"]
        assert [d.message_id for d in app.pending.due_deliveries(loose, 10.0, 10)] == ["msg_5"]
        assert app.pending.next_due(loose, 10.0) == 20.0
        # Once a's first is delivered (or dead), its second goes; a retry waits its time.
        retry = {rows[2].delivery_id: (15.0, 1)}
        app.save(**{KWARG: Changes(remove=[rows[0].delivery_id], retry=retry)})
        assert [d.message_id for d in app.pending.due_deliveries(ordered, 10.0, 10)] == ["msg_1"]
        assert [d.rounds for d in app.pending.due_deliveries(ordered, 15.0, 10)] == [0, 1]
        assert {b.pending for b in app.pending.backlogs()} == {3, 2}
        # The table is the store's: opened again (a restart), the same rows are there.
        app.close()
        again = FeedsApplication(env=store_env(Settings(state_dir=tmp_path), "feeds"))
        assert [d.rounds for d in again.pending.due_deliveries(ordered, 15.0, 10)] == [0, 1]
        again.close()


class TestAsyncAPI:
    SPEC = Path(__file__).parents[3] / "node_modules/@asyncapi/specs/schemas/3.0.0.json"

    def validator(self) -> Any:
        assert self.SPEC.exists(), "make bootstrap installs @asyncapi/specs (package.json)"
        schema = json.loads(self.SPEC.read_text(encoding="utf-8"))
        return jsonschema.validators.validator_for(schema)(schema)

    def test_the_document_is_valid_asyncapi_3_with_a_channel_per_partner_event(self) -> None:
        validator = self.validator()
        made = document()
        assert list(validator.iter_errors(made)) == []
        assert len(made["channels"]) == len(partner_events())
        message = made["components"]["messages"]["volunteers.shift-published.v1"]
        data = message["payload"]["properties"]["data"]["properties"]
        assert set(data) == set(partner_events()[SHIFT].partner_fields())
        assert "webhook-signature" in message["headers"]["required"]
        # HTTP is every partner's path (no NATS credential for API-registered partners).
        assert "no NATS credential" in made["info"]["description"]
        assert {s["protocol"] for s in made["servers"].values()} == {"https"}
        # The same validator refuses a document that breaks the specification.
        broken = copy.deepcopy(made)
        next(iter(broken["operations"].values()))["action"] = "push"
        assert list(validator.iter_errors(broken))


class _Store:
    """Records outcomes; refuses the health notes of one endpoint until told otherwise."""

    def __init__(self, refused: UUID) -> None:
        self.refused = refused
        self.recorded: list[str] = []
        self.outcomes: list[Outcome] = []
        self.gone: list[UUID] = []
        self.clock: Any = None
        self.allow_local_targets = True
        self.delivery_timeout_s = 5.0
        self.pending: Any = None

    def record_outcomes(self, outcomes: list[Any]) -> None:
        self.recorded.extend(o.pending.message_id for o in outcomes)
        self.outcomes.extend(outcomes)

    def disable_gone(self, endpoint_id: UUID, at: float) -> None:
        if endpoint_id == self.refused:
            raise RuntimeError("the store refuses this note")
        self.gone.append(endpoint_id)

    def note_endpoint_health(self, endpoint_id: UUID, *, ok: bool, at: float) -> None:
        raise AssertionError("a healthy endpoint answering 2xx needs no note")


class TestOutcomeRecorder:
    async def test_a_refused_health_note_holds_up_no_other_endpoints_outcomes(self) -> None:
        def endpoint() -> Endpoint:
            return Endpoint(
                partner_id="city-museum",
                url="https://museum.example/hook",
                secret=new_secret(),
                event_types=[],
                ordered=False,
                rate_per_s=5,
                at=0.0,
            )

        gone, fine = endpoint(), endpoint()
        store = _Store(refused=gone.id)
        recorder = OutcomeRecorder(store)  # type: ignore[arg-type]
        workers = [EndpointWorker(store, e, recorder) for e in (gone, fine)]  # type: ignore[arg-type]

        def outcome(worker: EndpointWorker, n: int, status: int) -> Outcome:
            row = _pending_row(worker.endpoint.id, n, due_at=0.0)
            worker.held[row.delivery_id] = row
            return Outcome(
                pending=row, at=float(n), status=status, latency_ms=1.0, error=None, next_at=None
            )

        recorder.add(workers[0], outcome(workers[0], 1, 410))
        recorder.add(workers[1], outcome(workers[1], 2, 204))
        await recorder.drain()
        # The gone endpoint's note is refused and tried again; the other's outcomes go on.
        recorder.add(workers[1], outcome(workers[1], 3, 204))
        await recorder.drain()
        assert store.recorded == ["msg_1", "msg_2", "msg_3"]
        assert not workers[0].held and not workers[1].held
        assert workers[0].noting is not None and store.gone == []
        # Once the store takes it, the endpoint is disabled for the 410.
        store.refused = uuid4()
        # (A bound against hanging, far beyond the second between two tries.)
        await asyncio.wait_for(workers[0].noting, 120)
        assert store.gone == [gone.id]
        for worker in workers:
            await worker.pool.aclose()


def _pending_row(endpoint_id: UUID, n: int, *, due_at: float) -> PendingDelivery:
    """The city museum's `n`th pending delivery to `endpoint_id` (message `msg_<n>`)."""
    return PendingDelivery(
        delivery_id=uuid4(),
        endpoint_id=endpoint_id,
        partner_id="city-museum",
        entry_id=uuid4(),
        message_id=f"msg_{n}",
        subject="",
        ordered=False,
        event_time=0.0,
        due_at=due_at,
    )


class _NotingStore(_Store):
    """Takes every health note, and says when `expected` outcomes are recorded."""

    def __init__(self, refused: UUID, expected: int) -> None:
        super().__init__(refused)
        self.expected = expected
        self.loop = asyncio.get_running_loop()
        self.all_recorded = asyncio.Event()

    def record_outcomes(self, outcomes: list[Any]) -> None:
        super().record_outcomes(outcomes)
        if len(self.outcomes) >= self.expected:
            self.loop.call_soon_threadsafe(self.all_recorded.set)

    def note_endpoint_health(self, endpoint_id: UUID, *, ok: bool, at: float) -> None:
        pass


class TestSenders:
    async def test_an_unexpected_error_is_a_failed_attempt_and_the_sender_goes_on(self) -> None:
        store = _NotingStore(refused=uuid4(), expected=2)
        store.clock = ManualClock(1000.0)
        endpoint = Endpoint(
            partner_id="city-museum",
            url="https://museum.example/hook",
            secret=new_secret(),
            event_types=[],
            ordered=False,
            rate_per_s=5,
            at=0.0,
        )
        worker = EndpointWorker(store, endpoint, OutcomeRecorder(store))  # type: ignore[arg-type]
        worker.checked, worker.checked_at = (endpoint.url, True), time.monotonic()
        answers: list[Any] = [RuntimeError("a bug, not the receiver"), (204, None)]

        async def post(item: PendingDelivery, secrets: list[str]) -> tuple[int, str | None]:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer  # type: ignore[no-any-return]

        worker._post = post  # type: ignore[method-assign]
        for n in (1, 2):
            row = _pending_row(endpoint.id, n, due_at=1000.0)
            worker.held[row.delivery_id] = row
            worker.ready.append(row)
        worker.readied.set()
        sender = asyncio.create_task(worker._send())
        try:
            # (A bound against hanging, far beyond what two attempts take.)
            await asyncio.wait_for(store.all_recorded.wait(), 60)
            # The worker lets a row go once the recorder is back from the store's thread.
            await eventually(lambda: not worker.held, timeout=30, message="rows let go")
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            if worker.noting is not None:
                await worker.noting
            await worker.pool.aclose()
        failed, delivered = store.outcomes
        # Recorded as a failed attempt, due again on the schedule: nothing taken is stranded.
        assert failed.pending.message_id == "msg_1" and failed.status is None
        assert failed.error == "RuntimeError"
        assert failed.next_at is not None and failed.next_at > 1000.0
        assert delivered.pending.message_id == "msg_2" and delivered.ok
