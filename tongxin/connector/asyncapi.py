"""The AsyncAPI document of a department's channels, as faststream generates it.

A department's channels are every event type of its own system boundaries (what it may
publish) and the subjects `contracts/department_systems.json` lets it consume. The document
is written by `tongxin asyncapi <department>` for the department's developers.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from contracts.departments import load_ownership_map
from contracts.registry import ALL_EVENTS
from tongxin.connector.connector import ConnectorSettings, DepartmentConnector
from tongxin.natsauth import department_reads


def channels(department: str) -> DepartmentConnector:
    """A connector with every channel of the department declared (handlers do nothing)."""
    code = load_ownership_map().department(department).code
    connector = DepartmentConnector(
        ConnectorSettings(department=code, nats_password=SecretStr("unused"))
    )
    systems = {
        b.name for b in load_ownership_map().department(code).boundaries if b.kind == "system"
    }
    by_subject = {f"evt.{c.department()}.{c.boundary}.{c.event_name}": c for c in ALL_EVENTS}
    for cls in ALL_EVENTS:
        if cls.department() == code and cls.boundary in systems and cls.published:
            connector.publisher(cls)
    for subject in department_reads().get(code, ()):
        cls = by_subject[subject]

        async def documented(_: Any) -> None:
            return None

        documented.__doc__ = (cls.__doc__ or "").strip().split("\n")[0]
        connector.subscriber(cls)(documented)
    return connector


def document(department: str) -> dict[str, Any]:
    """The department's AsyncAPI 3 document (a JSON object)."""
    return channels(department).asyncapi()
