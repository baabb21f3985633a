"""The features the gateway runs, and each one's read model, projectors and readiness.

The features are the platform manifest's gateway `features`, each found in its folder
`gateway/<name>/` (whose package exposes `FEATURE`): adding a feature is a folder and a
manifest entry; nothing here changes.
"""

from __future__ import annotations

import asyncio
import importlib
from functools import cache
from pathlib import Path
from typing import Any

from contracts.platform import GatewayFeature, load_platform
from gateway.core.broadcast import Broadcaster
from gateway.core.feature import Feature, LiveFeature, adopt_renamed_file
from gateway.core.projector import create_projectors, durable_name
from services.kit.settings import Settings


class FeatureNotFoundError(LookupError):
    """The manifest names a feature with no folder, or the folder registers another name."""


def specs() -> tuple[GatewayFeature, ...]:
    """The gateway's features as the manifest declares them, in manifest order."""
    return load_platform().gateway().features


def load_feature(name: str) -> Feature[Any]:
    try:
        module = importlib.import_module(f"gateway.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"gateway.{name}":
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


def readmodel_file(settings: Settings, feature: str, folder: Path | None = None) -> Path:
    """`<folder>/gateway-<feature>.sqlite3`; the folder defaults to `<state_dir>/data`."""
    return (folder or settings.state_dir / "data") / f"gateway-{feature}.sqlite3"


def projector_names(settings: Settings, feature: str) -> tuple[str, ...]:
    """The durable consumers of a feature's read model (its positions are stored by them)."""
    spec = next(spec for spec in specs() if spec.name == feature)
    return tuple(durable_name(feature, pattern, settings) for pattern in spec.consumes)


def build_features(
    settings: Settings,
    *,
    readmodel_dir: Path | None = None,
    start_projectors: bool = True,
    only: tuple[str, ...] | None = None,
) -> dict[str, LiveFeature]:
    """Every registered feature (or those in `only`), not yet open; see `open_feature`."""
    built: dict[str, LiveFeature] = {}
    for feature, spec in registered():
        if only is not None and feature.name not in only:
            continue
        readmodel = feature.readmodel(readmodel_file(settings, feature.name, readmodel_dir))
        projectors = (
            create_projectors(feature.name, spec.consumes, readmodel, settings)
            if start_projectors
            else ()
        )
        built[feature.name] = LiveFeature(
            feature=feature,
            spec=spec,
            readmodel=readmodel,
            projectors=projectors,
            broadcaster=Broadcaster(),
        )
    return built


def open_feature(live: LiveFeature) -> None:
    """Open its read model's file, adopting the file it had under a former name."""
    adopt_renamed_file(Path(live.readmodel.path), live.feature.renamed_from)
    live.readmodel.open_shared()


async def feature_readiness(
    live: LiveFeature, settings: Settings, max_lag: int | None
) -> dict[str, Any]:
    """`readmodel:<feature>` and, with projectors in this process, `projector:<feature>`."""
    readmodel = live.readmodel
    check: dict[str, Any] = {"ok": readmodel.is_open}
    checks: dict[str, Any] = {f"readmodel:{live.name}": check}
    if live.projectors:
        pending = sum(p.pending for p in live.projectors)
        checks[f"projector:{live.name}"] = {
            "ok": all(p.connected for p in live.projectors)
            and (max_lag is None or pending <= max_lag),
            "pending": pending,
            "positions": {p.name: p.position for p in live.projectors},
        }
    elif readmodel.is_open:
        # Another process projects: what it has applied is all this one can tell.
        check["positions"] = {
            name: await asyncio.to_thread(readmodel.position, name)
            for name in projector_names(settings, live.name)
        }
    return checks
