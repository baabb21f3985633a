"""Who may do what in a service: one table per service, checked on every command and read.

A caller passes when one of these holds, in this order:
- its role is one the action is open to (facts with no personal data, e.g. a shift for
  volunteers looking for one);
- the action is self-service and the caller is the volunteer it names;
- its role is one of the action's staff roles, its department owns the service or is
  granted it for that role (both from the ownership map, contracts/departments.json),
  and its scope covers the school the action is for (`services.kit.scope`).
Anything else is a 403 naming the first reason that failed.

A service checks its commands and reads with its table; the gateway checks reads of the
same data with a table of its own per feature, built on the same ownership map, so a
department refused by the service is refused by the gateway too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from contracts.departments import Grant, OwnershipMap, load_ownership_map
from services.kit.auth import ROLES, Principal
from services.kit.errors import ForbiddenError
from services.kit.scope import covers_school

__all__ = ["Grant", "Policy", "Rule"]

School = str | None | Callable[[], str | None]


@dataclass(frozen=True)
class Rule:
    """Who may take one action; see the module docstring."""

    staff: tuple[str, ...] = ()
    self_service: bool = False
    self_role: str = "volunteer"
    """The role a person acting for themself holds (a parent in courses), named by id."""
    open_to: tuple[str, ...] = ()
    owner_only: bool = False
    """Only the owning department's staff: grants to other departments do not reach it."""


@dataclass(frozen=True)
class Policy:
    """A service's whole authorization table: one rule per action, and its grants."""

    service: str
    rules: Mapping[str, Rule]
    grants: tuple[Grant, ...] | None = None
    """By default the ownership map's grants of the service."""
    ownership: OwnershipMap = field(default_factory=load_ownership_map, repr=False)

    def __post_init__(self) -> None:
        owner = self.owner
        for grant in self.granted:
            self.ownership.department(grant.department)  # an unknown code fails here
            if grant.department == owner:
                raise ValueError(f"{owner!r} owns {self.service!r}: it needs no grant")
            _known_roles(grant.roles)
        for rule in self.rules.values():
            _known_roles((*rule.staff, *rule.open_to, rule.self_role))

    @property
    def owner(self) -> str:
        """The department owning the service's boundary, from the ownership map."""
        return self.ownership.owner_of(self.service).code

    @property
    def granted(self) -> tuple[Grant, ...]:
        if self.grants is not None:
            return self.grants
        return self.ownership.boundary(self.service).grants

    def departments(self, role: str) -> frozenset[str]:
        """The departments whose staff in `role` may act in this service."""
        granted = {g.department for g in self.granted if role in g.roles}
        return frozenset({self.owner} | granted)

    def authorize(
        self,
        caller: Principal,
        action: str,
        *,
        school: School = None,
        volunteer_id: str | None = None,
    ) -> None:
        """Raise ForbiddenError unless `caller` may take `action`.

        `school` is the school the action is for, or a function finding it (called only
        once role and department pass, so a refused caller never loads anything);
        `volunteer_id` is the volunteer the action names, for self-service.
        """
        if self.admit(caller, action, volunteer_id=volunteer_id):
            return
        school_id = school() if callable(school) else school
        if not covers_school(caller.scope, school_id):
            raise ForbiddenError("this credential acts only for the schools in its scope")

    def admit(self, caller: Principal, action: str, *, volunteer_id: str | None = None) -> bool:
        """The checks of `authorize` that come before the school's; ForbiddenError if one fails.

        True when the caller passes whatever the school (the action is open to its role,
        or self-service for it); False when it passes as staff, whose scope must still
        cover the school: a listing then keeps to `services.kit.scope.school_filter`.
        """
        rule = self.rules[action]
        if caller.role in rule.open_to:
            return True
        if rule.self_service and caller.role == rule.self_role and caller.subject == volunteer_id:
            return True
        if caller.role not in rule.staff:
            raise ForbiddenError(f"role {caller.role!r} may not {action}")
        if rule.owner_only and caller.department != self.owner:
            raise ForbiddenError(
                f"{action} in {self.service} is for its owner {self.owner!r} only; a "
                f"{caller.role} of {caller.department or 'no department'!r} may not"
            )
        if caller.department not in self.departments(caller.role):
            raise ForbiddenError(
                f"{action} in {self.service} is for the departments that own or are granted "
                f"it; a {caller.role} of {caller.department or 'no department'!r} is not one"
            )
        return False


def _known_roles(roles: tuple[str, ...]) -> None:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
