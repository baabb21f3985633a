"""The published language is complete: every contract event is registered (readers can
decode it) and every service translates some domain event into each of its own.

Translations live by convention in `services.<service>.integration`: a `translate`
function and a `TRANSLATIONS` table of one function per domain event.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from types import CodeType, ModuleType
from typing import Any

import pytest

import contracts
from contracts.events import ContractEvent
from contracts.platform import Process, load_platform
from contracts.registry import ALL_EVENTS, BY_TYPE


def contract_modules() -> Iterator[ModuleType]:
    for info in pkgutil.iter_modules(contracts.__path__, prefix="contracts."):
        if not info.name.endswith((".generate", ".tests")):
            yield importlib.import_module(info.name)


def concrete_events() -> set[type[ContractEvent]]:
    """Every event class the contracts define; bases without an event name are not events."""
    found: set[type[ContractEvent]] = set()
    for module in contract_modules():
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, ContractEvent)
                and value.__module__ == module.__name__
                and hasattr(value, "event_name")
            ):
                found.add(value)
    return found


def test_every_contract_event_is_registered() -> None:
    defined = concrete_events()
    assert defined, "no contract events found: has contracts/ moved?"
    missing = sorted(cls.__qualname__ for cls in defined - set(ALL_EVENTS))
    assert not missing, f"add to contracts/registry.py ALL_EVENTS: {missing}"
    for cls in defined:
        assert BY_TYPE[cls.event_type()] is cls, f"{cls.event_type()} names two classes"


def test_every_registered_event_is_defined_in_contracts() -> None:
    assert set(ALL_EVENTS) <= concrete_events()


def integration_of(service: Process) -> ModuleType:
    name = f"services.{service.name.replace('-', '_')}.integration"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        pytest.fail(f"service {service.name!r} has no {name}: its translations live there")


def constructed(translation: Callable[..., Any]) -> set[type[ContractEvent]]:
    """The contract classes a translation names, as it resolves them (module or global)."""
    code: CodeType = translation.__code__
    names: set[str] = set()
    pending = [code]
    while pending:
        current = pending.pop()
        names |= set(current.co_names)
        pending += [c for c in current.co_consts if isinstance(c, CodeType)]
    found: set[type[ContractEvent]] = set()
    for name in names:
        value = translation.__globals__.get(name)
        candidates = (
            [getattr(value, n, None) for n in names] if isinstance(value, ModuleType) else []
        )
        for candidate in [value, *candidates]:
            if isinstance(candidate, type) and issubclass(candidate, ContractEvent):
                found.add(candidate)
    return found


SERVICES = load_platform().services()


@pytest.mark.parametrize("service", SERVICES, ids=[s.name for s in SERVICES])
def test_every_event_a_service_publishes_has_a_translation(service: Process) -> None:
    integration = integration_of(service)
    assert callable(getattr(integration, "translate", None)), f"{integration.__name__}.translate"
    translations: dict[str, Callable[..., Any]] = integration.TRANSLATIONS
    produced = set().union(*(constructed(t) for t in translations.values()))
    own = {cls for cls in ALL_EVENTS if cls.boundary == service.boundary and cls.published}
    assert own, f"the contracts define no events of boundary {service.boundary!r}"
    legacy = sorted(
        cls.__qualname__
        for cls in produced
        if cls.boundary == service.boundary and not cls.published
    )
    assert not legacy, f"{service.name} still publishes majors that are read-only: {legacy}"
    untranslated = sorted(cls.__qualname__ for cls in own - produced)
    assert not untranslated, (
        f"no translation in {integration.__name__} publishes {untranslated}; "
        "a contract event nothing publishes is a promise nobody keeps"
    )
    foreign = sorted(cls.__qualname__ for cls in produced - own)
    assert not foreign, f"{service.name} translates into other boundaries' events: {foreign}"
