"""The volunteers application on a real SQLite store: idempotency, concurrency, versions."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from contracts.checks import BackgroundCheckCompleted
from services.kit.application import CommandKey, RequestDigests, is_keyed
from services.kit.errors import IdempotencyKeyReusedError, StaleVersionError
from services.kit.eventstore import build_application
from services.kit.privacy.personal import PersonalData
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from services.volunteers.domain import BackgroundCheckRequiredError
from services.volunteers.integration import translate

START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)

DIGESTS = RequestDigests(b"a service's own digest secret")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[VolunteersApplication]:
    settings = Settings(state_dir=tmp_path)
    application = build_application(VolunteersApplication, settings, "volunteers")
    application.personal = personal = PersonalData.open(settings, "volunteers")
    yield application
    application.close()
    personal.close()


def register(app: VolunteersApplication, key: CommandKey | None = None) -> UUID:
    response = app.register_volunteer(key, display_name="Chen Jing", kind="youth", school_id="s1")
    return UUID(response["volunteer_id"])


def police_result(volunteer_id: UUID, check_id: str, outcome: str = "passed") -> Any:
    return BackgroundCheckCompleted(
        check_id=check_id,
        volunteer_id=str(volunteer_id),
        outcome=outcome,  # type: ignore[arg-type]
        expires_on=date(2027, 12, 31) if outcome == "passed" else None,
        completed_at=START,
    )


def passed(app: VolunteersApplication, volunteer_id: UUID, position: int) -> None:
    check_id = app.request_background_check(None, volunteer_id)["check_id"]
    app.record_background_checks("police", position, [police_result(volunteer_id, check_id)])


def publish(app: VolunteersApplication, capacity: int, child_facing: bool = True) -> UUID:
    response = app.publish_shift(
        None,
        school_id="s1",
        post="after-school",
        title="After-school reading",
        starts_at=START,
        ends_at=START + timedelta(hours=2),
        capacity=capacity,
        child_facing=child_facing,
    )
    return UUID(response["shift_id"])


def head(app: VolunteersApplication) -> int:
    return app.recorder.max_notification_id() or 0


class TestIdempotency:
    def test_a_retried_command_returns_the_first_result_and_appends_nothing(
        self, app: VolunteersApplication
    ) -> None:
        key = CommandKey.of("coordinator-1", "k-1", "POST /volunteers", b"{}", DIGESTS)
        first = register(app, key)
        before = head(app)
        assert register(app, key) == first
        assert head(app) == before

    def test_a_key_reused_for_another_request_is_refused(self, app: VolunteersApplication) -> None:
        register(app, CommandKey.of("coordinator-1", "k-1", "POST /volunteers", b"{}", DIGESTS))
        with pytest.raises(IdempotencyKeyReusedError):
            register(
                app, CommandKey.of("coordinator-1", "k-1", "POST /volunteers", b"{1}", DIGESTS)
            )

    def test_keys_are_scoped_to_the_caller(self, app: VolunteersApplication) -> None:
        a = register(app, CommandKey.of("coordinator-1", "k-1", "POST /volunteers", b"{}", DIGESTS))
        b = register(app, CommandKey.of("coordinator-2", "k-1", "POST /volunteers", b"{}", DIGESTS))
        assert a != b


class TestRequestDigests:
    """A name in a command's body cannot be confirmed from its idempotency record."""

    BODY = b'{"display_name": "Qiao Wanting", "kind": "parent"}'

    def raw_states(self, app: VolunteersApplication) -> bytes:
        notifications = app.recorder.select_notifications(0, 1000)
        return b"".join(n.state for n in notifications)

    def test_the_record_keeps_a_keyed_digest_not_a_hash_of_the_body(
        self, app: VolunteersApplication
    ) -> None:
        # Register with a key; someone reading the store guesses the body.
        register(app, CommandKey.of("coordinator-1", "k-1", "POST /volunteers", self.BODY, DIGESTS))
        guessed = hashlib.sha256(b"POST /volunteers\0" + self.BODY).hexdigest()
        # Their guess is not in the store; the keyed digest is, and another secret's is not.
        states = self.raw_states(app)
        assert guessed.encode() not in states
        assert DIGESTS.rekey(guessed).encode() in states
        other = RequestDigests(b"another service's digest secret")
        assert other.rekey(guessed).encode() not in states

    def test_a_record_written_with_an_unkeyed_digest_still_compares(
        self, app: VolunteersApplication
    ) -> None:
        # A record as the service wrote it before digests were keyed: the bare SHA-256.
        unkeyed = hashlib.sha256(b"POST /volunteers\0" + self.BODY).hexdigest()
        first = register(app, CommandKey("coordinator-1", "k-1", unkeyed))
        before = head(app)
        # The same request retried now answers as the first time, and appends nothing.
        retry = CommandKey.of("coordinator-1", "k-1", "POST /volunteers", self.BODY, DIGESTS)
        assert register(app, retry) == first
        assert head(app) == before
        # Another request under the same key is refused.
        other = CommandKey.of("coordinator-1", "k-1", "POST /volunteers", b"{}", DIGESTS)
        with pytest.raises(IdempotencyKeyReusedError):
            register(app, other)
        assert head(app) == before

    def test_a_rekeyed_old_digest_equals_the_new_one(self) -> None:
        keyed, unkeyed = DIGESTS.of("POST /volunteers", self.BODY)
        assert DIGESTS.rekey(unkeyed) == keyed
        assert is_keyed(keyed) and not is_keyed(unkeyed)
        # Derived from the master key: the same key gives the same digests after a restart.
        master = b"k" * 32
        assert RequestDigests.from_master(master).of("POST /volunteers", self.BODY) == (
            RequestDigests.from_master(master).of("POST /volunteers", self.BODY)
        )
        assert RequestDigests.from_master(b"j" * 32).of("POST /volunteers", self.BODY) != (
            RequestDigests.from_master(master).of("POST /volunteers", self.BODY)
        )


class TestPoliceResults:
    def test_a_pass_recorded_with_its_position_opens_child_facing_shifts(
        self, app: VolunteersApplication
    ) -> None:
        person, post = register(app), publish(app, capacity=1)
        with pytest.raises(BackgroundCheckRequiredError):
            app.sign_up(None, post, person)
        passed(app, person, position=7)
        assert app.consumer_position("police") == 7
        assert app.sign_up(None, post, person)["places_filled"] == 1

    def test_only_the_answer_to_the_check_requested_counts(
        self, app: VolunteersApplication
    ) -> None:
        person = register(app)
        # A result nobody asked for changes nothing.
        app.record_background_checks("police", 1, [police_result(person, "chk-forged")])
        assert app.volunteer(person).check_status == "none"
        # A late pass for a superseded request does not override the newer request.
        old = app.request_background_check(None, person)["check_id"]
        new = app.request_background_check(None, person)["check_id"]
        app.record_background_checks("police", 2, [police_result(person, old)])
        assert app.volunteer(person).check_status == "requested"
        app.record_background_checks("police", 3, [police_result(person, new, "failed")])
        assert app.volunteer(person).check_status == "failed"
        assert app.consumer_position("police") == 3

    def test_a_result_for_an_unknown_volunteer_only_moves_the_position(
        self, app: VolunteersApplication
    ) -> None:
        before = head(app)
        app.record_background_checks("police", 3, [police_result(UUID(int=1), "chk-1")])
        assert head(app) == before
        assert app.consumer_position("police") == 3


class TestConcurrency:
    def test_concurrent_sign_ups_never_overbook(self, app: VolunteersApplication) -> None:
        post = publish(app, capacity=3, child_facing=False)
        people = [register(app) for _ in range(12)]
        outcomes: list[str] = []

        def try_sign_up(person: UUID) -> None:
            try:
                app.sign_up(None, post, person)
                outcomes.append("ok")
            except Exception as exc:
                outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=try_sign_up, args=(p,)) for p in people]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes.count("ok") == 3
        assert app.shift(post).places_filled == 3
        assert set(outcomes) <= {"ok", "ShiftFullError"}

    def test_a_stale_expected_version_is_a_conflict(self, app: VolunteersApplication) -> None:
        post = publish(app, capacity=5, child_facing=False)
        first, second = register(app), register(app)
        app.sign_up(None, post, first, expected_version=1)
        before = head(app)
        with pytest.raises(StaleVersionError):
            app.sign_up(None, post, second, expected_version=1)
        assert head(app) == before


class TestPublishedLanguage:
    def test_every_stored_event_of_a_journey_translates_or_is_private(
        self, app: VolunteersApplication
    ) -> None:
        person, post = register(app), publish(app, capacity=1)
        passed(app, person, position=1)
        app.sign_up(None, post, person)
        app.check_in(None, post, person, START)
        response = app.check_out(None, post, person, START + timedelta(hours=1))
        assert response["hours"] == 1.0
        types = []
        for notification in app.recorder.select_notifications(0, 100, inclusive_of_start=False):
            contract = translate(app.mapper.to_domain_event(notification))
            if contract is not None:
                types.append(type(contract).event_name)
        assert types == [
            "volunteer-registered",
            "shift-published",
            "background-check-requested",
            "background-check-recorded",
            "volunteer-signed-up",
            "volunteer-checked-in",
            "volunteer-checked-out",
        ]


def test_every_translation_names_a_real_domain_event() -> None:
    from services.volunteers.domain import Shift, Volunteer
    from services.volunteers.integration import TRANSLATIONS

    events = {
        cls.__qualname__
        for aggregate in (Shift, Volunteer)
        for cls in vars(aggregate).values()
        if isinstance(cls, type)
    }
    assert set(TRANSLATIONS) <= events
