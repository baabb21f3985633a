"""One settings object per process, read only from environment variables (TONGXIN_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.platform import load_platform


class Settings(BaseSettings):
    """Configuration shared by services, relays, projectors and the gateway."""

    model_config = SettingsConfigDict(env_prefix="TONGXIN_", extra="ignore")

    # Where the state of the embedded default lives (SQLite files, keys, NATS data).
    state_dir: Path = Field(default=Path(".tongxin"), description="Local state folder.")

    # Event store.
    store: Literal["sqlite", "postgres"] = Field(default="sqlite", description="Event store.")
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "tongxin"
    postgres_password: SecretStr = SecretStr("")
    postgres_dbname: str = Field(default="", description="Defaults to the service name.")
    postgres_schema: str = ""
    postgres_pool_size: int = Field(default=5, ge=1)
    postgres_max_overflow: int = Field(default=10, ge=0)
    cipher_key: SecretStr = Field(
        default=SecretStr(""), description="AES key (base64) encrypting stored events."
    )

    # NATS JetStream.
    nats_urls: str = Field(default="nats://127.0.0.1:4222", description="Comma-separated.")
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    nats_creds: str = Field(default="", description="Path of a NATS credentials file.")
    nats_inbox_prefix: str = Field(
        default="", description="Reply subjects' prefix; defaults to _INBOX.<nats_user>."
    )
    nats_tls_ca: str = Field(
        default="", description="CA file (PEM) the NATS servers' TLS certificates must chain to."
    )
    stream_replicas: int = Field(default=1, ge=1, le=5)
    duplicate_window_s: float = Field(default=120.0, gt=0)

    # Outbox relay.
    relay_in_process: bool = Field(default=True, description="Run the relay inside the API.")
    relay_batch: int = Field(default=500, ge=1, le=10_000)
    relay_idle_s: float = Field(default=0.05, gt=0)
    relay_http_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Where a relay process serves /healthz, /readyz, /metrics (0: nowhere).",
    )

    # Consumers.
    consumer_batch: int = Field(default=500, ge=1, le=10_000)
    consumer_max_deliver: int = Field(default=5, ge=2)
    consumer_ack_wait_s: float = Field(default=30.0, gt=0)
    consumer_idle_wait_s: float = Field(
        default=30.0,
        ge=1.0,
        description=(
            "How long a consumer's pull request stays open on the server; a message is "
            "handed on as it arrives, so this only sets how often an idle consumer asks."
        ),
    )
    consumer_heartbeat_s: float = Field(
        default=1.0,
        gt=0,
        description=(
            "The server's heartbeat on an idle pull request; three missed mean the "
            "request was lost (with a NATS node) and is sent again."
        ),
    )
    consumer_inactive_s: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description=(
            "JetStream deletes a durable consumer idle this long (e.g. a replaced gateway "
            "pod's); safe, since a consumer resumes from its projection's stored position."
        ),
    )

    # HTTP.
    http_host: str = "127.0.0.1"
    http_port: int = 8001
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    # Auth: a JWKS URL (http(s)://…) or file path, the expected issuer and audience.
    auth_jwks_url: str = ""
    auth_dev: bool = Field(
        default=False, description="Trust the dev issuer's JWKS in the state folder."
    )
    auth_issuer: str = "tongxin-dev"
    auth_audience: str = "tongxin"

    # Gateway: where it forwards commands; introspection and GraphiQL (off in production).
    service_urls: str = Field(
        default="",
        description="Comma-separated name=url of the services the gateway forwards commands "
        "to; a service not listed is at its embedded-default port (contracts/platform.json).",
    )
    gateway_introspection: bool = True
    gateway_instance: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_-]*$",
        description="Names this gateway's durable consumer (e.g. the pod name).",
    )
    gateway_projector: bool = Field(
        default=True,
        description="Run the projector inside the gateway; false when `python -m gateway "
        "project` keeps the read model the gateway reads.",
    )

    log_level: str = "INFO"

    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_urls.split(",") if url.strip()]

    def service_url(self, name: str) -> str:
        """Where the service `name` answers HTTP: TONGXIN_SERVICE_URLS, else the manifest's port."""
        for entry in self.service_urls.split(","):
            key, sep, url = entry.strip().partition("=")
            if sep and key.strip() == name:
                return url.strip()
        return load_platform().default_urls()[name]

    def jwks_location(self) -> str:
        """Where token keys come from: never silently the dev issuer's outside dev mode."""
        if self.auth_jwks_url:
            return self.auth_jwks_url
        if self.auth_dev:
            return str(self.state_dir / "keys" / "jwks.json")
        raise ValueError(
            "set TONGXIN_AUTH_JWKS_URL (the identity provider's JWKS), "
            "or TONGXIN_AUTH_DEV=true to trust the dev issuer of the embedded default"
        )
