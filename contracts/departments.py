"""The department ownership map: which department owns which boundary and subjects, and
which other departments a service is granted to.

Grants live here, not in a service's code, because two parties enforce them: the service
on its commands and reads, and the gateway on the same data read through GraphQL; the
gateway imports no service's code.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

DATA = Path(__file__).with_name("departments.json")


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Grant:
    """A department other than the owner that may act in a service, in these roles only."""

    department: str
    roles: tuple[str, ...]
    why: str


class Boundary(BaseModel):
    """A service or department system whose subjects only its owner may publish into."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="Boundary name, e.g. volunteers.")
    kind: Literal["service", "system"] = Field(
        description="'service': a Tongxin service; 'system': the department's own system."
    )
    description: str = ""
    grants: tuple[Grant, ...] = Field(
        default=(), description="Other departments granted a service, for some roles."
    )


class Department(BaseModel):
    """One of the alliance's departments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z]{2,5}$", description="Short code used in subjects.")
    name_zh: str
    name_en: str
    role: str = ""
    boundaries: tuple[Boundary, ...]

    def subject_prefix(self, boundary: str) -> str:
        """The subject prefix of one of this department's boundaries."""
        return f"evt.{self.code}.{boundary}"


class OwnershipMap(BaseModel):
    """All departments; the single source for subject ownership and NATS permissions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = ""
    departments: tuple[Department, ...]

    def department(self, code: str) -> Department:
        for department in self.departments:
            if department.code == code:
                return department
        raise UnknownDepartmentError(code)

    def owner_of(self, boundary: str) -> Department:
        """The department owning a boundary (service or department system)."""
        for department in self.departments:
            if any(b.name == boundary for b in department.boundaries):
                return department
        raise UnknownBoundaryError(boundary)

    def boundary(self, name: str) -> Boundary:
        department = self.owner_of(name)
        return next(b for b in department.boundaries if b.name == name)

    def subject_prefix(self, boundary: str) -> str:
        return self.owner_of(boundary).subject_prefix(boundary)

    def may_publish(self, department_code: str, subject: str) -> bool:
        """True when the subject lies inside one of the department's own boundaries."""
        department = self.department(department_code)
        return any(
            subject.startswith(department.subject_prefix(b.name) + ".")
            for b in department.boundaries
        )


class UnknownDepartmentError(LookupError):
    """No department has this code."""


class UnknownBoundaryError(LookupError):
    """No department owns a boundary of this name."""


@cache
def load_ownership_map(path: Path = DATA) -> OwnershipMap:
    """Load and validate the ownership map (cached: it is read-only data)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    ownership = OwnershipMap.model_validate(data)
    _check_unique(ownership)
    _check_grants(ownership)
    return ownership


def _check_unique(ownership: OwnershipMap) -> None:
    codes = [d.code for d in ownership.departments]
    names = [b.name for d in ownership.departments for b in d.boundaries]
    if len(set(codes)) != len(codes):
        raise ValueError(f"duplicate department codes in {codes}")
    if len(set(names)) != len(names):
        raise ValueError(f"a boundary is owned twice in {names}")


def _check_grants(ownership: OwnershipMap) -> None:
    for department in ownership.departments:
        for boundary in department.boundaries:
            if boundary.grants and boundary.kind != "service":
                raise ValueError(f"{boundary.name!r} is not a service: nothing to grant")
            for grant in boundary.grants:
                ownership.department(grant.department)  # an unknown code fails here
                if grant.department == department.code:
                    raise ValueError(f"{department.code!r} owns {boundary.name!r}: no grant")
