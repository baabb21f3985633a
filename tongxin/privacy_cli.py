"""`tongxin privacy`: erase a person, verify an access log, list who viewed a person, and
migrate an installation from before personal data was kept apart.

Operators run these on the host of a service's store, with the service's settings
(`TONGXIN_STORE`, `TONGXIN_STATE_DIR`, `TONGXIN_POSTGRES_*`, `TONGXIN_CIPHER_KEY`). On
the embedded default the store's key is found in the state folder, as `tongxin run`
gives it to the service. Each command acts on the store directly, so it works while the
service is down; a running service's relay publishes the erasure it finds there.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import nats.errors
import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from contracts.events import ContractEvent
from services.kit import bus
from services.kit.application import RequestDigests
from services.kit.errors import NotFoundError
from services.kit.eventstore import build_application
from services.kit.privacy.audit import AccessLog, Head
from services.kit.privacy.personal import PersonalData, local_master_key
from services.kit.privacy.rewrite import rekey_request_digests
from services.kit.privacy.stream_rewrite import Replaced, replace_retired_major
from services.kit.settings import Settings

privacy_app = typer.Typer(
    help="Personal data: erase a person, verify an access log, who viewed a person, migrate.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)


def _erase_volunteer(settings: Settings, person_id: str, reason: str) -> dict[str, Any]:
    from services.volunteers.application import VolunteersApplication

    try:
        volunteer_id = UUID(person_id)
    except ValueError:
        raise typer.BadParameter(f"{person_id!r} is not a volunteer id (a UUID)") from None
    with _personal(settings, "volunteers") as personal:
        app = build_application(VolunteersApplication, settings, "volunteers")
        try:
            app.personal = personal
            response = app.erase_volunteer(None, volunteer_id)
        finally:
            app.close()
        personal.log.record(
            subject=f"operator:{getpass.getuser()}",
            role="operator",
            department=None,
            person_ids=[person_id],
            fields=["display_name"],
            purpose=reason,
            outcome="allowed",
        )
    return response


def _migrate_volunteers(settings: Settings, *, stream: bool) -> dict[str, Any]:
    from contracts.volunteers import VolunteerRegisteredV1
    from services.volunteers.application import VolunteersApplication
    from services.volunteers.migration import encrypt_plain_names

    done: dict[str, Any] = {}
    master = local_master_key(settings, "volunteers")
    with _personal(settings, "volunteers") as personal:
        app = build_application(VolunteersApplication, settings, "volunteers")
        try:
            app.personal = personal
            done["names_encrypted"] = encrypt_plain_names(app)
            digests = RequestDigests.from_master(master)
            done["request_digests_keyed"] = rekey_request_digests(app, digests)
        finally:
            app.close()
    if stream:
        replaced = asyncio.run(_replace_on_stream(settings, "volunteers", VolunteerRegisteredV1))
        done["stream_messages_replaced"] = replaced.replaced
    return done


async def _replace_on_stream(
    settings: Settings, boundary: str, retired: type[ContractEvent]
) -> Replaced:
    # The bus client retries for ever; an operator's command should rather say so.
    nc = await asyncio.wait_for(bus.connect(settings, f"{boundary}-privacy-migrate"), 30)
    try:
        js = nc.jetstream(timeout=10.0)
        return await replace_retired_major(js, bus.stream_name(boundary), retired)
    finally:
        await nc.drain()


def _migrate_committees(settings: Settings, *, stream: bool) -> dict[str, Any]:
    # The departments' v1 reports are in the departments' own streams, not committees'.
    from services.committees.application import CommitteesApplication
    from services.committees.migration import encrypt_plain_notes

    done: dict[str, Any] = {}
    with _personal(settings, "committees") as personal:
        app = build_application(CommitteesApplication, settings, "committees")
        try:
            app.personal = personal
            done["notes_encrypted"] = encrypt_plain_notes(app)
        finally:
            app.close()
    return done


# How each service that keeps personal data is migrated from before it was kept apart.
MIGRATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "volunteers": _migrate_volunteers,
    "committees": _migrate_committees,
}


# The services that keep personal data, and how a person of theirs is erased.
ERASERS: dict[str, Callable[[Settings, str, str], dict[str, Any]]] = {
    "volunteers": _erase_volunteer,
}


def _settings(service: str) -> Settings:
    """The service's settings from the environment, with its embedded key if none is set."""
    if service not in ERASERS and service not in MIGRATIONS:
        known = sorted({*ERASERS, *MIGRATIONS})
        raise typer.BadParameter(f"{service!r} keeps no personal data; one of {known}")
    settings = Settings()
    if not settings.cipher_key.get_secret_value():
        from tongxin.cli import cipher_key_path

        embedded = cipher_key_path(Path(settings.state_dir) / "keys", service)
        if embedded.exists():
            key = SecretStr(embedded.read_text(encoding="ascii").strip())
            settings = settings.model_copy(update={"cipher_key": key})
    return settings


@contextmanager
def _personal(settings: Settings, service: str) -> Iterator[PersonalData]:
    personal = PersonalData.open(settings, service)
    try:
        yield personal
    finally:
        personal.close()


@privacy_app.command()
def erase(
    service: Annotated[str, typer.Argument(help="The service keeping the data, e.g. volunteers.")],
    person_id: Annotated[str, typer.Argument(help="The person's id in that service.")],
    reason: Annotated[
        str, typer.Option(help="Why (kept in the access log), e.g. the request's reference.")
    ],
) -> None:
    """Erase a person's personal data for good (idempotent); their figures stay."""
    if service not in ERASERS:
        raise typer.BadParameter(f"{service!r} has no eraser; one of {sorted(ERASERS)}")
    settings = _settings(service)
    try:
        response = ERASERS[service](settings, person_id, reason)
    except NotFoundError as exc:
        err.print(f"[red]tongxin:[/] {exc}")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(response))


@privacy_app.command()
def migrate(
    service: Annotated[str, typer.Argument(help="The service to migrate, e.g. volunteers.")],
    stream: Annotated[
        bool,
        typer.Option(help="Also replace the stream's messages of retired majors (needs NATS)."),
    ] = True,
) -> None:
    """Encrypt names and notes stored in plain text, key old request digests, purge old majors.

    For installations from before personal data was kept apart; idempotent, so safe to
    run again. Best with the service stopped: a running service keeps cached volunteers
    (with the old plain names) until it restarts, and its relay's chain of publishes is
    broken once by the replaced messages (it starts a new one by itself).
    """
    settings = _settings(service)
    try:
        done = MIGRATIONS[service](settings, stream=stream)
    except (OSError, nats.errors.Error) as exc:
        err.print(f"[red]tongxin:[/] {exc}")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(done))


@privacy_app.command()
def verify(
    service: Annotated[str, typer.Argument(help="The service whose access log to check.")],
    anchor: Annotated[
        list[str] | None,
        typer.Option(help="A head kept elsewhere, as SEQ:HASH (repeatable)."),
    ] = None,
) -> None:
    """Walk the service's access log; exit 1 at the first edited, removed or reordered entry."""
    anchors = [_anchor(text) for text in anchor or []]
    log = AccessLog.open(_settings(service), service)
    try:
        found = log.verify(anchors)
    finally:
        log.close()
    head = f"{found.head.seq}:{found.head.hash}" if found.head else "empty"
    if found.ok:
        console.print(f"{service}: {found.checked} entries, chain intact; head {head}")
        return
    err.print(
        f"[red]{service}: broken at entry {found.broken_at}[/]: {found.reason} "
        f"({found.checked} entries check out before it)"
    )
    raise typer.Exit(1)


def _anchor(text: str) -> Head:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise typer.BadParameter(f"an anchor is SEQ:HASH (64 hex digits), not {text!r}")
    return Head(int(seq), digest)


@privacy_app.command("who-viewed")
def who_viewed(
    service: Annotated[str, typer.Argument(help="The service keeping the data.")],
    person_id: Annotated[str, typer.Argument(help="The person's id in that service.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Every read of the person's data, allowed or refused, oldest first."""
    log = AccessLog.open(_settings(service), service)
    try:
        entries = log.who_viewed(person_id)
    finally:
        log.close()
    if as_json:
        for e in entries:
            print(
                json.dumps(
                    {
                        "at": e.at,
                        "subject": e.subject,
                        "role": e.role,
                        "department": e.department,
                        "fields": list(e.fields),
                        "purpose": e.purpose,
                        "outcome": e.outcome,
                    }
                )
            )
        return
    table = Table("at", "subject", "role", "department", "fields", "purpose", "outcome")
    for e in entries:
        table.add_row(
            e.at, e.subject, e.role, e.department or "", ", ".join(e.fields), e.purpose, e.outcome
        )
    console.print(table)
