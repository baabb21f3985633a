"""The one interface a gateway feature registers through, and what it is once running.

A feature is a folder `gateway/<name>/` whose package exposes `FEATURE`; its entry in
the platform manifest (`contracts/platform.json`, the gateway's `features`) says which
subjects its read model consumes and which service its mutations go to.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from contracts.platform import GatewayFeature
from gateway.core.broadcast import Broadcaster
from gateway.core.projection import SqliteProjection
from gateway.core.service import ServiceClient
from services.kit.consumer import Consumer
from services.kit.policy import Policy

M = TypeVar("M", bound=SqliteProjection)


@dataclass(frozen=True)
class Feature(Generic[M]):
    """What a feature folder gives the gateway."""

    name: str
    readmodel: Callable[[Path], M]
    """Makes the feature's read model on its own SQLite file."""
    query: type | None = None
    """A strawberry type whose fields are merged into `Query`."""
    mutation: type | None = None
    """A strawberry type whose fields are merged into `Mutation`."""
    subscription: type | None = None
    """A strawberry type whose fields are merged into `Subscription`."""
    renamed_from: str | None = None
    """The file name its read model had before, in the same folder; adopted on start."""
    reads: Policy | None = None
    """Who may read its data: one rule per read, under the departments of the service
    owning the data (`gateway.access`). For a feature serving anyone's data, none."""


@dataclass
class LiveFeature:
    """A feature inside a running gateway: its read model, projectors and neighbours."""

    feature: Feature[Any]
    spec: GatewayFeature
    readmodel: SqliteProjection
    projectors: tuple[Consumer, ...]
    """Empty when another process projects into the same file."""
    broadcaster: Broadcaster
    client: ServiceClient | None = None
    """Set while the gateway runs, for a feature with a service (its mutations go there, and
    its personal fields are read there)."""

    @property
    def name(self) -> str:
        return self.feature.name

    @property
    def projector_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.projectors)


def adopt_renamed_file(path: Path, former_name: str | None) -> None:
    """Move a read model kept under its former file name (and its WAL files) to `path`.

    Only when `path` does not exist yet: the stored position moves with the state, so the
    durable consumer carries on where it was instead of replaying the stream.
    """
    if former_name is None or path.exists():
        return
    former = path.with_name(former_name)
    if not former.exists():
        return
    for suffix in ("-wal", "-shm"):
        companion = former.with_name(former.name + suffix)
        if companion.exists():
            shutil.move(companion, path.with_name(path.name + suffix))
    shutil.move(former, path)
