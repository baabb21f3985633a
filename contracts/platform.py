"""The platform manifest: every process, its port, database, relay, reactions and demo.

One typed source (`platform.json`) that the embedded default's supervisor, the NATS
permissions, docker-compose.yml, the Helm values, the gateway's service URLs and the tests'
process lists are generated from or checked against. Departments, boundaries and subjects
stay in the ownership map (`departments.json`); the manifest only refers to them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.departments import OwnershipMap, UnknownBoundaryError, load_ownership_map

DATA = Path(__file__).with_name("platform.json")

Kind = Literal["service", "ingest", "gateway"]
_NAME = r"^[a-z][a-z0-9-]*$"


class GatewayFeature(BaseModel):
    """One folder of the gateway: its own read model, durable consumer and GraphQL types."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME, description="Feature folder under gateway/, e.g. volunteers.")
    consumes: tuple[str, ...] = Field(
        default=(), description="Subject patterns its read model projects."
    )
    service: str | None = Field(
        default=None, description="The service its mutations forward commands to."
    )


class Process(BaseModel):
    """One deployable process of the platform."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME, description="Process name; also its NATS user's suffix.")
    kind: Kind = Field(
        description="'service': an event-sourced service owning a boundary; 'ingest': the "
        "department systems' door; 'gateway': GraphQL over read models."
    )
    module: str = Field(description="`python -m <module>` starts it.")
    port: int = Field(ge=1, le=65535, description="Its HTTP port in the embedded default.")
    title: str = Field(description="What the banner and docs call it.")
    boundary: str | None = Field(
        default=None, description="The ownership map's service boundary it owns (services)."
    )
    database: str | None = Field(
        default=None, description="Its own PostgreSQL database (services with a store)."
    )
    relay: bool = Field(
        default=False, description="Has an outbox relay (a `relay` process in production)."
    )
    reactions: tuple[str, ...] = Field(
        default=(), description="Subject patterns its reactions consume (in the relay process)."
    )
    demo: str | None = Field(default=None, description="Module loading its part of the demo.")
    features: tuple[GatewayFeature, ...] = Field(
        default=(), description="The gateway's feature folders (gateway only)."
    )

    @property
    def nats_user(self) -> str:
        """The NATS user it connects as (permissions in tongxin.natsauth)."""
        return f"svc-{self.name}"

    @property
    def port_env(self) -> str:
        """The variable choosing its port in the embedded default, e.g. TONGXIN_VOLUNTEERS_PORT."""
        return f"TONGXIN_{self.name.upper().replace('-', '_')}_PORT"

    @property
    def has_store(self) -> bool:
        return self.database is not None

    def consumed_subjects(self) -> tuple[str, ...]:
        """Everything it reads from JetStream: its reactions and its features' projections."""
        subjects = list(self.reactions)
        for feature in self.features:
            subjects += feature.consumes
        return tuple(dict.fromkeys(subjects))


class Platform(BaseModel):
    """Every process, in start order (services before the gateway that forwards to them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = ""
    processes: tuple[Process, ...]

    def process(self, name: str) -> Process:
        for process in self.processes:
            if process.name == name:
                return process
        raise LookupError(f"no process named {name!r} in the platform manifest")

    def services(self) -> tuple[Process, ...]:
        """The event-sourced services (each owns a boundary and a store)."""
        return tuple(p for p in self.processes if p.kind == "service")

    def gateway(self) -> Process:
        return next(p for p in self.processes if p.kind == "gateway")

    def databases(self) -> tuple[str, ...]:
        return tuple(p.database for p in self.processes if p.database)

    def default_urls(self, host: str = "127.0.0.1") -> dict[str, str]:
        """Every service's base URL in the embedded default."""
        return {p.name: f"http://{host}:{p.port}" for p in self.services()}


class ManifestError(ValueError):
    """The manifest contradicts itself or the ownership map."""


def validate(platform: Platform, ownership: OwnershipMap) -> Platform:
    """Check what one file cannot say to pydantic: uniqueness and references."""
    names = [p.name for p in platform.processes]
    ports = [p.port for p in platform.processes]
    if len(set(names)) != len(names):
        raise ManifestError(f"duplicate process names in {names}")
    if len(set(ports)) != len(ports):
        raise ManifestError(f"two processes share a port in {ports}")
    if [p.kind for p in platform.processes].count("gateway") != 1:
        raise ManifestError("the platform has exactly one gateway")
    services = {p.name for p in platform.services()}
    for process in platform.processes:
        where = f"process {process.name!r}"
        if process.kind == "service":
            if not process.boundary or not process.database:
                raise ManifestError(f"{where}: a service names its boundary and database")
            try:
                boundary = ownership.boundary(process.boundary)
            except UnknownBoundaryError:
                raise ManifestError(f"{where}: no department owns {process.boundary!r}") from None
            if boundary.kind != "service":
                raise ManifestError(f"{where}: {process.boundary!r} is a department system")
        elif process.boundary or process.database or process.relay or process.reactions:
            raise ManifestError(f"{where}: only services own a boundary, store, relay or reactions")
        if process.features and process.kind != "gateway":
            raise ManifestError(f"{where}: only the gateway has features")
        for pattern in process.consumed_subjects():
            boundary_of(ownership, pattern)
        for feature in process.features:
            if feature.service is not None and feature.service not in services:
                raise ManifestError(
                    f"{where}: feature {feature.name!r} forwards to {feature.service!r}, "
                    "which is not a service of the manifest"
                )
    databases = platform.databases()
    if len(set(databases)) != len(databases):
        raise ManifestError(f"two services share a database in {databases}")
    return platform


def boundary_of(ownership: OwnershipMap, pattern: str) -> str:
    """The boundary whose stream holds every subject of `pattern`."""
    for department in ownership.departments:
        for boundary in department.boundaries:
            prefix = department.subject_prefix(boundary.name)
            if pattern == f"{prefix}.>" or pattern.startswith(f"{prefix}."):
                return boundary.name
    raise ManifestError(f"{pattern!r} lies in no single boundary's subjects")


def parse_platform(data: dict, ownership: OwnershipMap | None = None) -> Platform:
    """Validate a manifest given as data (tests add throwaway services to a copy)."""
    return validate(Platform.model_validate(data), ownership or load_ownership_map())


def load_data(path: Path = DATA) -> dict:
    data: dict = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def load_platform(path: Path = DATA) -> Platform:
    """The committed manifest, validated (cached: it is read-only data)."""
    return parse_platform(load_data(path))
