"""The durable consumers feeding a feature's read model: one per subject pattern it consumes.

A durable's name is `gateway-<feature>` when the pattern lies in the feature's own
boundary (volunteers' read model of the volunteers stream: `gateway-volunteers`, the
name it has always had), else `gateway-<feature>-<boundary>`; a gateway instance
(`TONGXIN_GATEWAY_INSTANCE`) adds its own suffix, as each replica keeps its own read model.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from contracts.departments import OwnershipMap, load_ownership_map
from contracts.platform import boundary_of
from services.kit.consumer import Consumer, Projection
from services.kit.settings import Settings

PREFIX = "gateway"


@cache
def _ownership() -> OwnershipMap:
    return load_ownership_map()


def durable_name(feature: str, pattern: str, settings: Settings) -> str:
    boundary = boundary_of(_ownership(), pattern)
    name = f"{PREFIX}-{feature}" if boundary == feature else f"{PREFIX}-{feature}-{boundary}"
    instance = settings.gateway_instance
    return f"{name}-{instance}" if instance else name


def create_projectors(
    feature: str, consumes: Sequence[str], projection: Projection, settings: Settings
) -> tuple[Consumer, ...]:
    """One durable consumer per consumed pattern, all feeding the same read model."""
    projectors = tuple(
        Consumer(
            name=durable_name(feature, pattern, settings),
            boundary=boundary_of(_ownership(), pattern),
            projection=projection,
            settings=settings,
            filter_subject=pattern,
        )
        for pattern in consumes
    )
    names = [p.name for p in projectors]
    if len(set(names)) != len(names):
        # Positions are stored per durable name: two patterns of one stream would share one.
        raise ValueError(f"feature {feature!r} consumes two patterns of one stream: {consumes}")
    return projectors
