"""The features the gateway runs: the platform manifest's gateway `features`, each found in
its folder `gateway/<name>/` (whose package exposes `FEATURE`).

Adding a feature is a folder and a manifest entry; nothing here changes.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from contracts.platform import GatewayFeature, load_platform
from gateway.core.feature import Feature


class FeatureNotFoundError(LookupError):
    """The manifest names a feature with no folder, or the folder registers another name."""


def specs() -> tuple[GatewayFeature, ...]:
    """The gateway's features as the manifest declares them, in manifest order."""
    return load_platform().gateway().features


def load_feature(name: str) -> Feature[Any]:
    try:
        module = importlib.import_module(f"gateway.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"gateway.{name}", "gateway"):
            raise
        raise FeatureNotFoundError(
            f"the manifest's feature {name!r} has no gateway/{name}/"
        ) from None
    feature = getattr(module, "FEATURE", None)
    if not isinstance(feature, Feature) or feature.name != name:
        raise FeatureNotFoundError(f"gateway/{name}/ does not register a Feature named {name!r}")
    return feature


@cache
def registered() -> tuple[tuple[Feature[Any], GatewayFeature], ...]:
    """Every feature with its manifest entry."""
    return tuple((load_feature(spec.name), spec) for spec in specs())
