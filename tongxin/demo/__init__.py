"""The demo city, loaded through the public HTTP APIs only, one service at a time.

Each service's part lives in the module its manifest entry names (`demo`, e.g.
`tongxin.demo.volunteers`), which defines `load(run) -> dict` (what it loaded, kept in its
marker). Parts load in manifest order; each writes its own "loaded" marker when done, so a
service added later loads its part on a state folder that already holds the others'.

Every command carries a deterministic `Idempotency-Key` and a fixed token subject, and
every body is computed from an anchor time kept in the state folder: an interrupted load
can be re-run and each service answers a repeated command with its first response.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
from rich.console import Console

from contracts.platform import Platform, Process, load_platform
from services.kit.auth import DevIssuer
from tongxin.demo.core import (
    Api,
    DemoError,
    Endpoints,
    NatsAccount,
    load_anchor,
    publish_as_department,
)

__all__ = [
    "Api",
    "DemoError",
    "DemoRun",
    "Endpoints",
    "NatsAccount",
    "is_loaded",
    "load_demo",
    "marker_path",
    "pending",
    "publish_as_department",
]

# Before the demo split there was one marker, written once the volunteers' part was in.
LEGACY_MARKER = "demo-loaded"
LEGACY_MARKER_SERVICE = "volunteers"


@dataclass
class DemoRun:
    """What a service's demo module gets: where things are, who signs, how long to wait."""

    endpoints: Endpoints
    state_dir: Path
    issuer: DevIssuer
    console: Console
    anchor: datetime
    client: httpx.Client
    retry_delay_s: float = 0.5
    # How long an event may take to travel the bus before the load gives up.
    travel_timeout_s: float = 60.0
    # Department systems publish on NATS with their own credentials when given, else
    # through the ingest with a department token.
    department_nats: Callable[[str], NatsAccount | None] = lambda _department: None

    def api(self, token: str) -> Api:
        return Api(self.client, token, retry_delay_s=self.retry_delay_s)


Loader = Callable[[DemoRun], dict[str, Any]]


def marker_path(state_dir: Path, service: str) -> Path:
    return Path(state_dir) / f"demo-loaded-{service}"


def is_loaded(state_dir: Path, service: str) -> bool:
    if marker_path(state_dir, service).exists():
        return True
    return service == LEGACY_MARKER_SERVICE and (Path(state_dir) / LEGACY_MARKER).exists()


def with_demo(platform: Platform | None = None) -> tuple[Process, ...]:
    """The processes with a demo part, in manifest order."""
    return tuple(p for p in (platform or load_platform()).processes if p.demo)


def pending(state_dir: Path, platform: Platform | None = None) -> tuple[Process, ...]:
    """The processes whose demo part is not loaded in this state folder yet."""
    return tuple(p for p in with_demo(platform) if not is_loaded(state_dir, p.name))


def loader_of(process: Process) -> Loader:
    if process.demo is None:
        raise DemoError(f"{process.name} has no demo")
    module = importlib.import_module(process.demo)
    return cast(Loader, module.load)


def load_demo(
    endpoints: Endpoints,
    state_dir: Path,
    *,
    only: Sequence[Process] | None = None,
    platform: Platform | None = None,
    issuer: DevIssuer | None = None,
    console: Console | None = None,
    transport: httpx.BaseTransport | None = None,
    retry_delay_s: float = 0.5,
    travel_timeout_s: float = 60.0,
    department_nats: Callable[[str], NatsAccount | None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Load every demo part (or `only` these), in manifest order; each marks its completion."""
    state_dir = Path(state_dir)
    parts = tuple(only) if only is not None else with_demo(platform)
    loaded: dict[str, dict[str, Any]] = {}
    with httpx.Client(timeout=30.0, transport=transport) as client:
        run = DemoRun(
            endpoints=endpoints,
            state_dir=state_dir,
            issuer=issuer or DevIssuer(state_dir / "keys"),
            console=console or Console(),
            anchor=load_anchor(state_dir),
            client=client,
            retry_delay_s=retry_delay_s,
            travel_timeout_s=travel_timeout_s,
        )
        if department_nats is not None:
            run.department_nats = department_nats
        for process in parts:
            summary = loader_of(process)(run)
            marker = {"loaded_at": datetime.now(UTC).isoformat(), "anchor": run.anchor.isoformat()}
            marker |= summary
            text = json.dumps(marker, indent=2, ensure_ascii=False) + "\n"
            marker_path(state_dir, process.name).write_text(text, encoding="utf-8")
            loaded[process.name] = marker
    return loaded
