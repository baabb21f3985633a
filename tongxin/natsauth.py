"""NATS server authorization generated from the ownership map, the platform manifest and the
partner list.

Every user may publish only what it owns and read only what it consumes:
- `svc-<name>` (a Tongxin service of the manifest): publishes into its boundary's subjects,
  manages its own stream, and runs durable pull consumers on the streams of the subjects its
  reactions consume (the manifest's `reactions`);
- `svc-<boundary>` for a service boundary of the ownership map not yet in the manifest: the
  same without consumers, so the service's department can provision its user (and the
  stream's subjects stay reserved) before its process exists;
- `svc-gateway`: consumes the streams its features project (the manifest's
  `features[].consumes`; it may recreate its durables to rebuild);
- `svc-ingest`: publishes for department systems into every system boundary and creates
  those streams;
- `dept-<code>`: a department's own system publishes into its system boundaries only, and
  consumes what `contracts/department_systems.json` lists (tongxin/connector);
- `partner-<id>`: subscribes to its own feed subjects and nothing else.

The $JS.API subjects are exactly those nats-py 2.16 requests for the kit's relay
(stream info/create/update, message get), consumer (stream info, consumer
info/create/delete, next-message requests, acks) and dead letters. Replies come back on a
per-user inbox prefix (`services.kit.bus.inbox_prefix`), so no user can read another's.
Passwords are referenced as environment variables of the nats-server process.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from contracts.departments import OwnershipMap, load_ownership_map
from contracts.partners import PartnerList, load_partners
from contracts.platform import Platform, Process, boundary_of, load_platform
from services.kit.bus import DEAD_LETTER_PREFIX, DEAD_LETTER_STREAM, inbox_prefix, stream_name

ROOT = Path(__file__).resolve().parents[1]
# The committed copies: docker-compose includes the first, the Helm chart reads the second.
COMMITTED = (
    ROOT / "deploy" / "nats" / "authorization.conf",
    ROOT / "deploy" / "helm" / "tongxin" / "charts" / "nats" / "files" / "authorization.conf",
)
DEPARTMENT_SYSTEMS = ROOT / "contracts" / "department_systems.json"
GATEWAY = "svc-gateway"
INGEST = "svc-ingest"
FEEDS_BOUNDARY = "feeds"
JS_API = "$JS.API"
NOTHING = ">"

Kind = Literal["service", "department", "partner"]


@dataclass(frozen=True)
class NatsUser:
    """One nats-server user and what it may publish and subscribe to."""

    name: str
    kind: Kind
    department: str | None
    password_env: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def password_env(name: str) -> str:
    """The environment variable holding a user's password, e.g. NATS_PASSWORD_SVC_VOLUNTEERS."""
    return "NATS_PASSWORD_" + name.upper().replace("-", "_")


def users(
    ownership: OwnershipMap | None = None,
    partners: PartnerList | None = None,
    platform: Platform | None = None,
) -> list[NatsUser]:
    """Every user of the platform's nats-server: services, department systems, partners."""
    ownership = ownership or load_ownership_map()
    partners = partners or load_partners()
    platform = platform or load_platform()
    by_boundary = {p.boundary: p for p in platform.services()}
    result: list[NatsUser] = []
    feed_subjects = tuple(p.feed_subjects() for p in partners.partners)
    for department in ownership.departments:
        for boundary in department.boundaries:
            if boundary.kind != "service":
                continue
            process = by_boundary.get(boundary.name)
            name = process.nats_user if process else f"svc-{boundary.name}"
            publish = [f"{department.subject_prefix(boundary.name)}.>"]
            if boundary.name == FEEDS_BOUNDARY:
                publish += feed_subjects
            publish += _manage_stream(stream_name(boundary.name), read_messages=True)
            if process is not None:
                publish += _consume(ownership, process.reactions)
            result.append(_service(name, department.code, publish))
    for process in platform.processes:
        if process.kind != "service":
            result.append(_platform_user(process, ownership))
    reads = department_reads()
    for department in ownership.departments:
        name = f"dept-{department.code}"
        own = tuple(
            f"{department.subject_prefix(b.name)}.>"
            for b in department.boundaries
            if b.kind == "system"
        )
        consumed = reads.get(department.code, ())
        may_publish = own + tuple(_department_consume(ownership, department.code, consumed))
        result.append(
            NatsUser(
                name=name,
                kind="department",
                department=department.code,
                password_env=password_env(name),
                publish=may_publish,
                # Publish acks and pulled messages come back on the inbox; with nothing to
                # publish or consume, nothing to read.
                subscribe=(f"{inbox_prefix(name)}.>",) if may_publish else (),
            )
        )
    for partner in partners.partners:
        name = f"partner-{partner.id}"
        result.append(
            NatsUser(
                name=name,
                kind="partner",
                department=None,
                password_env=password_env(name),
                publish=(),
                subscribe=(partner.feed_subjects(),),
            )
        )
    return result


def _platform_user(process: Process, ownership: OwnershipMap) -> NatsUser:
    """The gateway reads what its features project; the ingest writes for department systems."""
    if process.kind == "gateway":
        return _service(process.nats_user, None, _consume(ownership, process.consumed_subjects()))
    system = [
        (d, b.name) for d in ownership.departments for b in d.boundaries if b.kind == "system"
    ]
    publish: list[str] = [f"{d.subject_prefix(b)}.>" for d, b in system]
    for _, boundary_name in system:
        publish += _manage_stream(stream_name(boundary_name), read_messages=False)
    return _service(process.nats_user, None, publish)


def _service(name: str, department: str | None, publish: Iterable[str]) -> NatsUser:
    return NatsUser(
        name=name,
        kind="service",
        department=department,
        password_env=password_env(name),
        publish=tuple(dict.fromkeys(publish)),
        subscribe=(f"{inbox_prefix(name)}.>",),
    )


def _manage_stream(stream: str, *, read_messages: bool) -> list[str]:
    """bus.ensure_stream on a stream of one's own; the relay also reads its last message."""
    subjects = [f"{JS_API}.STREAM.{action}.{stream}" for action in ("INFO", "CREATE", "UPDATE")]
    if read_messages:
        subjects.append(f"{JS_API}.STREAM.MSG.GET.{stream}")
    return subjects


def department_reads(path: Path = DEPARTMENT_SYSTEMS) -> dict[str, tuple[str, ...]]:
    """Subjects each department's system consumes (contracts/department_systems.json)."""
    listed = json.loads(path.read_text(encoding="utf-8"))["consumes"]
    return {code: tuple(subjects) for code, subjects in listed.items()}


def department_durable(department: str, subject: str) -> str:
    """The one durable a department system may use on a subject: `pol-<event>`."""
    return f"{department}-{subject.split('.')[-1]}"


def _department_consume(
    ownership: OwnershipMap, department: str, subjects: Iterable[str]
) -> list[str]:
    """A durable pull consumer of its own per subject, and nothing of anyone else's: the
    department may not read, pull from or delete the platform's durables."""
    allowed: list[str] = []
    for subject in subjects:
        stream = stream_name(boundary_of(ownership, subject))
        durable = department_durable(department, subject)
        allowed += [
            f"{JS_API}.STREAM.INFO.{stream}",
            f"{JS_API}.CONSUMER.INFO.{stream}.{durable}",
            f"{JS_API}.CONSUMER.CREATE.{stream}.{durable}.{subject}",
            f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    return allowed


def _consume(ownership: OwnershipMap, patterns: Iterable[str]) -> list[str]:
    """services.kit.consumer.Consumer on the streams holding `patterns`, plus dead letters.

    A durable may be created only with a filter inside the consumed subjects: nats-py puts
    the filter into the create subject ($JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>).
    """
    subjects: list[str] = []
    for pattern in patterns:
        stream = stream_name(boundary_of(ownership, pattern))
        subjects += [
            f"{JS_API}.STREAM.INFO.{stream}",
            f"{JS_API}.CONSUMER.INFO.{stream}.*",
            f"{JS_API}.CONSUMER.CREATE.{stream}.*.{pattern}",
            f"{JS_API}.CONSUMER.DELETE.{stream}.*",
            f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.*",
            f"$JS.ACK.{stream}.>",
        ]
    if subjects:
        subjects += [
            f"{DEAD_LETTER_PREFIX}.>",
            f"{JS_API}.STREAM.INFO.{DEAD_LETTER_STREAM}",
            f"{JS_API}.STREAM.CREATE.{DEAD_LETTER_STREAM}",
        ]
    return subjects


def render_authorization(all_users: Iterable[NatsUser]) -> str:
    """The nats-server `authorization` block; passwords are `$NATS_PASSWORD_…` references."""
    lines = [
        "# Generated from contracts/departments.json, contracts/platform.json and",
        "# contracts/partners.json by `tongxin nats-auth --write`; edit those, not this file.",
        "# Each password is read from the nats-server's environment variable named after the",
        "# user.",
        "authorization {",
        "  users = [",
    ]
    for user in all_users:
        lines += [
            f"    # {_LABEL[user.kind]}" + (f" ({user.department})" if user.department else ""),
            "    {",
            f"      user: {_quote(user.name)}",
            f"      password: ${user.password_env}",
            "      permissions: {",
            *_permission("publish", user.publish),
            *_permission("subscribe", user.subscribe),
            "      }",
            "    }",
        ]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


_LABEL = {"service": "service", "department": "department system", "partner": "partner"}


def _permission(direction: str, subjects: tuple[str, ...]) -> list[str]:
    # An absent or empty allow list means "anything" to nats-server: deny all instead.
    if not subjects:
        return [f"        {direction}: {{ deny: [{_quote(NOTHING)}] }}"]
    listed = [f"            {_quote(subject)}" for subject in subjects]
    return [f"        {direction}: {{", "          allow: [", *listed, "          ]", "        }"]


def _quote(value: str) -> str:
    return json.dumps(value)


def write_committed(text: str, paths: Iterable[Path] = COMMITTED) -> list[Path]:
    written = []
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# nats-server parses an environment variable's value as a config value: "1234" becomes a
# number and "a b" a syntax error, so a password must read as a bare word.
_SAFE_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{15,}$")


def is_config_safe(password: str) -> bool:
    return bool(_SAFE_PASSWORD.match(password))


def new_password() -> str:
    return "tx" + secrets.token_hex(24)


def ensure_passwords(path: Path, all_users: Iterable[NatsUser]) -> dict[str, str]:
    """Passwords by environment variable name, kept in a 0600 JSON file; new users get one."""
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    wanted = {u.password_env: stored.get(u.password_env, "") for u in all_users}
    changed = False
    for env, password in wanted.items():
        if not is_config_safe(password):
            wanted[env] = new_password()
            changed = True
    if changed or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)
            json.dump(wanted, file, indent=2)
            file.write("\n")
        partial.replace(path)
    return wanted


def find_user(all_users: Iterable[NatsUser], name: str) -> NatsUser:
    for user in all_users:
        if user.name == name:
            return user
    raise LookupError(f"no NATS user named {name!r}")
