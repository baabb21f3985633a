"""What every demo part shares: the anchor time, idempotent HTTP calls, NATS as a department."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from services.kit import bus
from services.kit.settings import Settings
from services.kit.wire import from_structured

CST = timezone(timedelta(hours=8), "CST")  # China Standard Time: no daylight saving
ANCHOR = "demo-anchor"


class DemoError(RuntimeError):
    """The demo could not be loaded; the message says which request failed and why."""


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the running processes, by manifest name."""

    urls: dict[str, str]

    def of(self, name: str) -> str:
        try:
            return self.urls[name].rstrip("/")
        except KeyError:
            raise DemoError(f"no endpoint for {name!r} (known: {', '.join(self.urls)})") from None


@dataclass(frozen=True)
class NatsAccount:
    """A department system's own NATS credentials (it publishes without the ingest)."""

    url: str
    user: str
    password: str


# -- times ------------------------------------------------------------------------------
def load_anchor(state_dir: Path, now: datetime | None = None) -> datetime:
    """The time every demo date is computed from: fixed on the first load, then reused."""
    path = Path(state_dir) / ANCHOR
    if path.exists():
        return datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    anchor = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(anchor.isoformat() + "\n", encoding="utf-8")
    return anchor


def local_time(anchor: datetime, days_before: int, hhmm: str) -> datetime:
    day = anchor.astimezone(CST).date() - timedelta(days=days_before)
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=CST)


# -- HTTP -------------------------------------------------------------------------------
class Api:
    """Commands as one token's holder; transient failures are retried (every command has a key)."""

    def __init__(
        self, client: httpx.Client, token: str, retries: int = 5, retry_delay_s: float = 0.5
    ) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.retries = retries
        self.retry_delay_s = retry_delay_s

    def send(
        self,
        method: str,
        url: str,
        *,
        key: str | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        expect: tuple[int, ...] = (200, 201, 202),
    ) -> Any:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode()
            content_type = content_type or "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in range(self.retries):
            try:
                response = self.client.request(method, url, content=content, headers=headers)
            except httpx.TransportError as exc:  # safe to repeat: every command has its key
                if attempt == self.retries - 1:
                    raise DemoError(f"{method} {url}: {exc}") from exc
                time.sleep(self.retry_delay_s * 2**attempt)
                continue
            if response.status_code in (502, 503, 504) and attempt < self.retries - 1:
                time.sleep(self.retry_delay_s * 2**attempt)
                continue
            break
        if response.status_code not in expect:
            raise DemoError(f"{method} {url} answered {response.status_code}: {_problem(response)}")
        return response.json() if response.content else {}


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and ("title" in body or "detail" in body):
        return f"{body.get('title', '')}: {body.get('detail', '')} ({body.get('code', '')})"
    return json.dumps(body, ensure_ascii=False)[:500]


# -- NATS -------------------------------------------------------------------------------
async def publish_as_department(
    account: NatsAccount, department: str, events: list[dict[str, Any]]
) -> list[int]:
    """Publish structured CloudEvents into JetStream as the department; their stream seqs.

    `Nats-Msg-Id` is `<department>-<event id>`, as the ingest sets it, so an event sent
    again by either path is stored once.
    """
    settings = Settings(
        nats_urls=account.url, nats_user=account.user, nats_password=SecretStr(account.password)
    )
    nc = await bus.connect(settings, f"{department}-system")
    try:
        js = nc.jetstream(timeout=10.0)
        sequences = []
        for event in events:
            envelope = from_structured(event)
            ack = await js.publish(
                envelope.nats_subject(),
                envelope.payload(),
                headers=envelope.headers(msg_id=f"{department}-{envelope.id}"),
            )
            sequences.append(ack.seq)
        return sequences
    finally:
        await nc.close()


def publish_department_events(
    account: NatsAccount, department: str, events: list[dict[str, Any]]
) -> None:
    try:
        asyncio.run(asyncio.wait_for(publish_as_department(account, department, events), 60.0))
    except Exception as exc:
        raise DemoError(f"{department} could not publish on NATS as {account.user}: {exc}") from exc


# Services whose demo part moves their clock (`tongxin run` gives each its own clock file):
# the courses' demo records last month's training and lectures as they happened.
CLOCKED_SERVICES = ("courses",)


def clock_file(state_dir: Path, service: str) -> Path:
    """The file `TONGXIN_CLOCK_FILE` names for a service of the embedded default."""
    return Path(state_dir) / "clocks" / service
