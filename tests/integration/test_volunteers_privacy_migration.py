"""An installation from before names were encrypted, migrated: `tongxin privacy migrate`.

Its store holds names in plain text (and idempotency records with unkeyed digests of
bodies naming people); its stream holds `volunteer-registered.v1` messages carrying names.
After the migration neither holds a name, every name still reads (erased ones as erased),
retries still find their first answer, and a second run changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from contracts.volunteers import BackgroundCheckRequested, VolunteerRegisteredV1
from services.kit import bus
from services.kit.application import CommandKey, RequestDigests
from services.kit.errors import IdempotencyKeyReusedError
from services.kit.eventstore import build_application
from services.kit.privacy.datakeys import ERASED
from services.kit.privacy.personal import PersonalData, local_master_key
from services.kit.privacy.rewrite import rekey_request_digests
from services.kit.settings import Settings
from services.kit.wire import binary_message
from services.volunteers.application import VolunteersApplication
from services.volunteers.domain import Volunteer
from services.volunteers.migration import encrypt_plain_names
from tests.support.nats import NatsServer
from tests.support.streams import nats_client, read_stream
from tongxin.privacy_cli import privacy_app

pytestmark = pytest.mark.timeout(120)
SCHOOL = "yz-dongguan-primary"
BODY = b'{"display_name": "Encrypted Already", "kind": "parent"}'
PLAIN = ("Plain Kept", "Plain Renamed", "Plain Gone")


@dataclass(frozen=True)
class OldStore:
    kept: UUID
    gone: UUID
    registered_with_key: str


def open_app(settings: Settings) -> VolunteersApplication:
    app = build_application(VolunteersApplication, settings, "volunteers")
    app.personal = PersonalData.open(settings, "volunteers")
    return app


def close(app: VolunteersApplication) -> None:
    app.close()
    app.privacy.close()


def write_old_store(settings: Settings) -> OldStore:
    """The store as the service wrote it before names were encrypted."""
    app = open_app(settings)
    try:
        now = datetime.now(UTC)
        kept = Volunteer(
            id=uuid4(), display_name=PLAIN[0], kind="youth", school_id=SCHOOL, registered_at=now
        )
        kept.rename(PLAIN[1])
        gone = Volunteer(
            id=uuid4(), display_name=PLAIN[2], kind="parent", school_id=SCHOOL, registered_at=now
        )
        app.save(kept, gone)
        app.erase_volunteer(None, gone.id)  # its key is gone, its plain name is not
        unkeyed = hashlib.sha256(b"POST /volunteers\0" + BODY).hexdigest()
        answer = app.register_volunteer(
            CommandKey("coordinator-1", "k-1", unkeyed),
            display_name="Encrypted Already",
            kind="parent",
            school_id=SCHOOL,
        )
        return OldStore(kept.id, gone.id, answer["volunteer_id"])
    finally:
        close(app)


def stored_text(app: VolunteersApplication) -> str:
    """Every stored event's state as JSON, opened with the store's own cipher if it has one."""
    states = []
    for notification in app.recorder.select_notifications(0, 10_000):  # type: ignore[attr-defined]
        event = app.mapper.to_domain_event(notification)
        states.append({k: str(v) for k, v in vars(event).items()})
    return json.dumps(states, ensure_ascii=False)


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    base: Settings = request.getfixturevalue(
        "pg_settings" if request.param == "postgres" else "sqlite_settings"
    )
    if request.param == "postgres":
        # With a cipher key the whole store is encrypted too: the rewrite goes through it.
        key = SecretStr(base64.b64encode(os.urandom(32)).decode())
        base = base.model_copy(update={"cipher_key": key})
    yield base


def test_plain_names_and_unkeyed_digests_are_rewritten_in_place(settings: Settings) -> None:
    old = write_old_store(settings)
    app = open_app(settings)
    try:
        assert all(name in stored_text(app) for name in PLAIN)
        digests = RequestDigests.from_master(local_master_key(settings, "volunteers"))
        head = app.recorder.max_notification_id()

        # Migrate: two events of the kept volunteer and one of the erased one, one record.
        assert encrypt_plain_names(app) == 3
        assert rekey_request_digests(app, digests) == 1
        assert app.recorder.max_notification_id() == head, "rewritten in place, none added"
        assert not any(name in stored_text(app) for name in PLAIN)
    finally:
        close(app)

    # A service started afresh reads the names as before; the erased one stays erased.
    app = open_app(settings)
    try:
        kept, gone = app.volunteer(old.kept), app.volunteer(old.gone)
        assert app.display_name(kept) == "Plain Renamed"
        assert app.display_name(gone) is ERASED and gone.erased
        # The kept volunteer's name is now within erasure's reach.
        app.erase_volunteer(None, old.kept)
        assert app.display_name(app.volunteer(old.kept)) is ERASED

        # The old record, rekeyed, still tells a retry from another request.
        retry = CommandKey.of("coordinator-1", "k-1", "POST /volunteers", BODY, digests)
        again = app.register_volunteer(
            retry, display_name="Encrypted Already", kind="parent", school_id=SCHOOL
        )
        assert again["volunteer_id"] == old.registered_with_key
        other = CommandKey.of("coordinator-1", "k-1", "POST /volunteers", b"{}", digests)
        with pytest.raises(IdempotencyKeyReusedError):
            app.register_volunteer(other, display_name="X", kind="parent", school_id=SCHOOL)

        # Run again: nothing left to do.
        assert encrypt_plain_names(app) == 0
        assert rekey_request_digests(app, digests) == 0
    finally:
        close(app)


async def publish_old_stream(url: str, settings: Settings, old: OldStore) -> None:
    """The stream as the relay published it before v2: registrations carrying names."""
    async with nats_client(url) as nc:
        js = nc.jetstream(timeout=5)
        stream = await bus.ensure_stream(js, "volunteers", settings)
        at = datetime.now(UTC)
        messages = [
            VolunteerRegisteredV1(
                volunteer_id=str(old.kept),
                display_name=PLAIN[0],
                kind="youth",
                school_id=SCHOOL,
                registered_at=at,
            ),
            BackgroundCheckRequested(volunteer_id=str(old.kept), check_id="c-1", requested_at=at),
            VolunteerRegisteredV1(
                volunteer_id=str(old.gone),
                display_name=PLAIN[2],
                kind="parent",
                school_id=SCHOOL,
                registered_at=at,
            ),
        ]
        for position, data in enumerate(messages, start=1):
            subject, body, headers = binary_message(
                data,
                id=f"volunteers-{position}",
                source="/tongxin/volunteers",
                subject=str(getattr(data, "volunteer_id", "")),
                time=at,
                sequence=position,
            )
            await js.publish(subject, body, stream=stream, headers=headers)


def server_files(server: NatsServer) -> str:
    """Everything the NATS server keeps on disk (but its log), as text."""
    stored = b"".join(
        path.read_bytes()
        for path in server.store_dir.rglob("*")
        if path.is_file() and path != server.log_path
    )
    return stored.decode("utf-8", errors="replace")


def migrate(settings: Settings, url: str) -> dict[str, Any]:
    env = {
        "TONGXIN_STORE": "sqlite",
        "TONGXIN_STATE_DIR": str(settings.state_dir),
        "TONGXIN_NATS_URLS": url,
    }
    result = CliRunner().invoke(privacy_app, ["migrate", "volunteers"], env=env)
    assert result.exit_code == 0, result.output
    done: dict[str, Any] = json.loads(result.output)
    return done


@pytest.mark.nats
async def test_the_operator_command_migrates_store_and_stream(
    nats_url: str, nats_server: NatsServer, sqlite_settings: Settings
) -> None:
    settings = sqlite_settings.model_copy(update={"nats_urls": nats_url})
    old = write_old_store(settings)
    await publish_old_stream(nats_url, settings, old)
    assert PLAIN[0] in server_files(nats_server), "the old messages are on the server's disk"

    done = await asyncio.to_thread(migrate, settings, nats_url)
    assert done == {
        "names_encrypted": 3,
        "request_digests_keyed": 1,
        "stream_messages_replaced": 2,
    }

    # No name left in the stream; each registration is there as v2, the rest untouched.
    messages = await read_stream(nats_url, "VOLUNTEERS")
    for message in messages:
        for name in PLAIN:
            assert name.encode() not in message.data
            assert not any(name in value for value in message.headers.values())
    types = [
        (m.headers["ce-type"].rsplit(".", 2)[-2:], m.headers.get("ce-subject")) for m in messages
    ]
    assert sorted(types) == sorted(
        [
            (["background-check-requested", "v1"], str(old.kept)),
            (["volunteer-registered", "v2"], str(old.kept)),
            (["volunteer-registered", "v2"], str(old.gone)),
        ]
    )

    # The deleted messages were erased on the server's disk, not only unlinked.
    assert not any(name in server_files(nats_server) for name in PLAIN)

    # A second run finds nothing to do.
    again = await asyncio.to_thread(migrate, settings, nats_url)
    assert again == dict.fromkeys(done, 0)
    assert len(await read_stream(nats_url, "VOLUNTEERS")) == 3
