"""The published form written with each event equals the relay's read-time conversion.

No NATS here: the relay's two paths are compared message by message on one store,
SQLite and PostgreSQL, also after a contract's minor version changed between the save
and the publish.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from opentelemetry import trace

from contracts import registry
from contracts import volunteers as published
from contracts.events import ContractEvent, classified
from services.kit.application import CommandKey, RequestDigests
from services.kit.eventstore import build_application
from services.kit.outbox import OutboxRecorder, PublishedForm, convert_at_write, is_current
from services.kit.relay import Message, OutboxRelay
from services.kit.settings import Settings
from services.volunteers.application import VolunteersApplication
from services.volunteers.domain import Shift, Volunteer
from services.volunteers.integration import translate

tracer = trace.get_tracer("tests.outbox")
SERVICE = "volunteers"
NOW = datetime(2026, 9, 1, 8, tzinfo=UTC)

DIGESTS = RequestDigests(b"the outbox test's digest secret")


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest) -> Settings:
    fixture = "sqlite_settings" if request.param == "sqlite" else "pg_settings"
    return request.getfixturevalue(fixture)


@pytest.fixture
def app(settings: Settings) -> Iterator[VolunteersApplication]:
    application = build_application(VolunteersApplication, settings, SERVICE)
    convert_at_write(application, SERVICE, translate)
    yield application
    application.close()


def save_some(app: VolunteersApplication) -> None:
    """Published events, a command record (never published) and a traceparent on some."""
    volunteers = [
        Volunteer(id=uuid4(), display_name="tok", kind="youth", school_id="s1", registered_at=NOW)
        for _ in range(3)
    ]
    shift = Shift.publish(
        school_id="s1",
        post="library",
        title="Reading corner",
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=2),
        capacity=5,
        child_facing=False,
    )
    # A root span made by the relay would start a new trace on each call: commands carry one.
    with tracer.start_as_current_span("POST /volunteers"):
        app.save(*volunteers, shift)
        for volunteer in volunteers:
            shift.sign_up(volunteer)
        key = CommandKey.of("tester", str(uuid4()), "/shifts/sign-ups", b"{}", DIGESTS)
        app.run_command(key, lambda: ([shift], {"ok": True}))


def both_paths(relay: OutboxRelay, recorder: Any) -> tuple[list[Message | None], list[Any]]:
    """Each log position as the relay publishes it, and as read-time conversion makes it."""
    assert isinstance(recorder, OutboxRecorder)
    entries = recorder.select_outbox(0, 1000)
    notifications = recorder.select_notifications(0, 1000, inclusive_of_start=False)
    assert [e.notification_id for e in entries] == [n.id for n in notifications]
    stored = [relay._stored_message(e) for e in entries]
    converted = [relay._message(n) for n in notifications]
    assert [_same_trace(m) for m in stored] == [_same_trace(m) for m in converted]
    return stored, entries


def _same_trace(message: Message | None) -> Message | None:
    """With spans recorded, each call makes a new producer span: its trace is what must match."""
    if message is None or "traceparent" not in message[2]:
        return message
    subject, body, headers = message
    return subject, body, headers | {"traceparent": headers["traceparent"].split("-")[1]}


def relay_of(app: VolunteersApplication, settings: Settings, translation: Any) -> OutboxRelay:
    return OutboxRelay(
        app, service=SERVICE, boundary="volunteers", translate=translation, settings=settings
    )


def test_written_forms_equal_read_time_conversion(
    app: VolunteersApplication, settings: Settings, span_exporter: object
) -> None:
    save_some(app)
    messages, entries = both_paths(relay_of(app, settings, translate), app.recorder)

    forms = [e.form for e in entries]
    assert all(isinstance(f, PublishedForm) for f in forms), "every event has its form"
    assert all(is_current(f) for f in forms if f is not None and f.subject is not None)
    published_count = sum(1 for m in messages if m is not None)
    assert published_count == 7  # 3 registrations, a shift, 3 sign-ups; the record is not
    assert any(m is not None and "traceparent" in m[2] for m in messages)


def test_events_saved_without_a_form_are_converted_by_the_relay(settings: Settings) -> None:
    application = build_application(VolunteersApplication, settings, SERVICE)
    try:
        save_some(application)
        assert isinstance(application.recorder, OutboxRecorder)
        assert all(e.form is None for e in application.recorder.select_outbox(0, 100))
        messages, _ = both_paths(relay_of(application, settings, translate), application.recorder)
        assert sum(1 for m in messages if m is not None) == 7
    finally:
        application.close()


class VolunteerRegisteredWithPost(published.VolunteerRegistered):
    """The same contract, one minor version later: an optional field was added."""

    event_name: ClassVar[str] = "volunteer-registered"
    preferred_post: str | None = classified("code", "The post they would like.", default=None)


def translate_after_change(domain_event: Any) -> ContractEvent | None:
    contract = translate(domain_event)
    if isinstance(contract, published.VolunteerRegistered):
        return VolunteerRegisteredWithPost(**contract.model_dump())
    return contract


def test_after_a_minor_version_change_the_relay_publishes_the_current_form(
    app: VolunteersApplication, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_some(app)  # Forms made with the contract as it was.
    event_type = published.VolunteerRegistered.event_type()
    monkeypatch.setitem(registry.BY_TYPE, event_type, VolunteerRegisteredWithPost)
    convert_at_write(app, SERVICE, translate_after_change)
    save_some(app)  # Forms made with the changed contract.

    messages, entries = both_paths(relay_of(app, settings, translate_after_change), app.recorder)

    registrations = [
        (e, m)
        for e, m in zip(entries, messages, strict=True)
        if m and m[2]["ce-type"] == event_type
    ]
    assert len(registrations) == 6
    stale = [e for e, _ in registrations if e.form is not None and not is_current(e.form)]
    assert len(stale) == 3, "the first three forms were made with the previous version"
    # Every registration is published as the changed contract writes it, old ones included.
    assert all(b'"preferred_post":null' in m[1] for _, m in registrations)
    assert all(b'"preferred_post"' not in (e.form.body or b"") for e in stale if e.form)
