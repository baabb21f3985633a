"""NATS JetStream connection and the streams every boundary publishes into."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from contracts.departments import load_ownership_map
from services.kit.settings import Settings

log = logging.getLogger(__name__)

DEAD_LETTER_STREAM = "DEAD_LETTERS"
DEAD_LETTER_PREFIX = "dlq"


def stream_name(boundary: str) -> str:
    """One JetStream stream per boundary, e.g. VOLUNTEERS for evt.cyl.volunteers.>."""
    return boundary.upper().replace("-", "_")


def stream_subjects(boundary: str) -> list[str]:
    return [f"{load_ownership_map().subject_prefix(boundary)}.>"]


def inbox_prefix(user: str) -> str:
    """Replies to a user come under its own prefix, which NATS lets only that user read."""
    return f"_INBOX.{user}"


async def connect(
    settings: Settings,
    name: str,
    *,
    connect_timeout: float = 2.0,
    reconnected: Callable[[], None] | None = None,
) -> Client:
    """Connect with unlimited reconnects: a NATS outage pauses publishing, nothing else.

    `reconnected` is called after each reconnect (a consumer's pull request waiting on
    the server is gone with the old connection).
    """
    options: dict[str, object] = {
        "servers": settings.nats_servers(),
        "name": name,
        "connect_timeout": connect_timeout,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "allow_reconnect": True,
        "pending_size": 64 * 1024 * 1024,
    }
    if settings.nats_creds:
        options["user_credentials"] = settings.nats_creds
    elif settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value()
    if settings.nats_inbox_prefix or settings.nats_user:
        options["inbox_prefix"] = settings.nats_inbox_prefix or inbox_prefix(settings.nats_user)
    if settings.nats_tls_ca:
        options["tls"] = ssl.create_default_context(cafile=settings.nats_tls_ca)

    last_logged = 0.0

    async def on_error(exc: Exception) -> None:
        # While NATS is away the client retries several times a second: log it sparingly.
        nonlocal last_logged
        now = time.monotonic()
        if now - last_logged > 30:
            last_logged = now
            log.warning("nats %s: %s (retrying)", name, exc)

    options["error_cb"] = on_error
    if reconnected is not None:
        on_reconnected = reconnected

        async def reconnected_cb() -> None:
            on_reconnected()

        options["reconnected_cb"] = reconnected_cb
    return await nats.connect(**options)  # type: ignore[arg-type]


async def ensure_stream(js: JetStreamContext, boundary: str, settings: Settings) -> str:
    """Create or update the boundary's stream; returns its name."""
    config = StreamConfig(
        name=stream_name(boundary),
        subjects=stream_subjects(boundary),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.duplicate_window_s,
        discard=DiscardPolicy.OLD,
    )
    return await _upsert(js, config)


async def ensure_dead_letter_stream(js: JetStreamContext, settings: Settings) -> str:
    config = StreamConfig(
        name=DEAD_LETTER_STREAM,
        subjects=[f"{DEAD_LETTER_PREFIX}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
    )
    return await _upsert(js, config)


async def _upsert(js: JetStreamContext, config: StreamConfig) -> str:
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
        except BadRequestError as exc:
            # Another process created it between our look and our add.
            if exc.err_code != 10058:
                raise
        return config.name
    # Consumers ensure the streams they read, which NATS lets them look at but not change.
    if not _differs(config, info.config):
        return config.name
    await js.update_stream(config)
    return config.name


def _differs(wanted: StreamConfig, actual: StreamConfig) -> bool:
    """True when a setting asked for is not what the stream has.

    Unset settings (None, or 0 for nats-py's duplicate_window) are the server's to choose.
    """
    fields = ("subjects", "retention", "storage", "num_replicas", "duplicate_window", "discard")
    return any(
        getattr(wanted, f) not in (None, 0)
        and _plain(getattr(wanted, f)) != _plain(getattr(actual, f))
        for f in fields
    )


def _plain(value: object) -> object:
    # Stream info holds the enums' values ("limits"), a StreamConfig we build the enums.
    return getattr(value, "value", value)
