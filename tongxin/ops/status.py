"""What `tongxin ops status` reports: replicas, image and rollout state of every Tongxin
Deployment, and the relay / projection lag each service gives on `/readyz`.

A service's relay reports `relay.lag`; the gateway reports one `projector:<feature>` check
per feature, each with its `pending` events, and its lag is their sum (a gateway of an
older release reports a single `projector` check, read the same way).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, ConfigDict, Field

from tongxin.ops.client import Kube, name_of

PART_OF = "app.kubernetes.io/part-of=tongxin"
READYZ_TIMEOUT_S = 5.0

RolloutState = Literal["complete", "progressing", "stalled"]


SCHEMA = Path(__file__).with_name("status.schema.json")


class Lag(BaseModel):
    """Events the service has stored or received but not yet published or projected."""

    model_config = ConfigDict(extra="forbid")

    value: int | None = Field(description="Events behind; null when unknown.")
    source: Literal["relay", "projector"] | None = Field(
        description="Which readiness check gave it: 'relay' or 'projector'; null when unknown."
    )
    ready: bool | None = Field(description="The service's own readiness verdict; null if unknown.")
    reason: str | None = Field(description="Why the lag is unknown; null when it is known.")
    parts: dict[str, int] = Field(
        default_factory=dict,
        description="Events behind per readiness check that gave them (e.g. "
        "'projector:volunteers'); `value` is their sum.",
    )


class ServiceStatus(BaseModel):
    """One Tongxin Deployment."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The Deployment's name.")
    component: str | None = Field(description="Label app.kubernetes.io/component.")
    desired: int = Field(description="spec.replicas.")
    updated: int = Field(description="Replicas running the current pod template.")
    ready: int = Field(description="Replicas passing their readiness probe.")
    available: int = Field(description="Replicas ready for at least minReadySeconds.")
    images: list[str] = Field(description="Container images, in container order.")
    rollout: RolloutState
    rollout_detail: str = Field(description="Why the rollout is in this state.")
    lag: Lag


class StatusReport(BaseModel):
    """`tongxin ops status --json`; its JSON Schema is committed beside this module."""

    model_config = ConfigDict(extra="forbid")
    namespace: str
    services: list[ServiceStatus]


def rollout_state(deployment: client.V1Deployment) -> tuple[RolloutState, str]:
    """The rollout state as `kubectl rollout status` judges it, with the reason."""
    meta = deployment.metadata or client.V1ObjectMeta()
    status = deployment.status or client.V1DeploymentStatus()
    desired = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    generation = meta.generation or 0
    observed = status.observed_generation or 0
    # Conditions describe the generation last observed: until the controller has seen the
    # current one, an old ProgressDeadlineExceeded says nothing about this rollout.
    if observed < generation:
        return "progressing", f"controller has not seen generation {generation} yet"
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            return "stalled", condition.message or "progress deadline exceeded"
    updated = status.updated_replicas or 0
    total = status.replicas or 0
    ready = status.ready_replicas or 0
    available = status.available_replicas or 0
    if updated < desired:
        return "progressing", f"{updated} of {desired} replicas updated"
    if total > updated:
        return "progressing", f"{total - updated} old replicas pending termination"
    if ready < desired:
        return "progressing", f"{ready} of {desired} updated replicas ready"
    if available < desired:
        return "progressing", f"{available} of {desired} updated replicas available"
    return "complete", f"{desired} of {desired} replicas updated and available"


def counts(deployment: client.V1Deployment) -> tuple[int, int, int, int]:
    """(desired, updated, ready, available)."""
    status = deployment.status or client.V1DeploymentStatus()
    desired = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    return (
        desired,
        status.updated_replicas or 0,
        status.ready_replicas or 0,
        status.available_replicas or 0,
    )


def _count(check: Any, key: str) -> int | None:
    if isinstance(check, Mapping) and isinstance(check.get(key), int):
        return int(check[key])
    return None


def lag_from_readyz(body: Mapping[str, Any]) -> Lag:
    """The lag in a `/readyz` answer (services/kit/http.py): relay lag, or the pending events
    of every projector (`projector:<feature>`, or `projector` from an older gateway)."""
    checks = body.get("checks")
    ready = body.get("ready") if isinstance(body.get("ready"), bool) else None
    if not isinstance(checks, Mapping):
        return Lag(value=None, source=None, ready=ready, reason="/readyz has no checks")
    relay = _count(checks.get("relay"), "lag")
    if relay is not None:
        return Lag(value=relay, source="relay", ready=ready, reason=None, parts={"relay": relay})
    projectors = {
        name: pending
        for name, check in sorted(checks.items())
        if name == "projector" or name.startswith("projector:")
        if (pending := _count(check, "pending")) is not None
    }
    if projectors:
        return Lag(
            value=sum(projectors.values()),
            source="projector",
            ready=ready,
            reason=None,
            parts=projectors,
        )
    return Lag(value=None, source=None, ready=ready, reason="/readyz reports no relay or projector")


def _service_for(
    deployment: client.V1Deployment,
    services: list[client.V1Service],
    deployment_names: set[str],
) -> client.V1Service | None:
    """The Service named like the Deployment, else one whose selector picks its pods.

    A Service named after another Deployment is that one's: a relay's pods may carry the
    same name label as its API's pods, and the API's /readyz says nothing of that relay.
    """
    name = name_of(deployment)
    for service in services:
        if name_of(service) == name:
            return service
    template = deployment.spec.template.metadata
    pod_labels = (template.labels if template else None) or {}
    for service in services:
        if name_of(service) in deployment_names:
            continue
        selector = (service.spec.selector if service.spec else None) or {}
        if selector and all(pod_labels.get(k) == v for k, v in selector.items()):
            return service
    return None


def _proxy_name(service: client.V1Service) -> str:
    ports = (service.spec.ports if service.spec else None) or []
    if not ports:
        return name_of(service)
    port = ports[0]
    return f"{name_of(service)}:{port.name or port.port}"


def read_lag(kube: Kube, namespace: str, service: client.V1Service | None) -> Lag:
    """GET /readyz through the API server's service proxy (works from outside the cluster)."""
    if service is None:
        return Lag(value=None, source=None, ready=None, reason="no Service selects its pods")
    try:
        # The generated client would turn the JSON into a Python repr ('str' response
        # type), so the raw response is read and decoded here.
        response = kube.core.connect_get_namespaced_service_proxy_with_path(
            name=_proxy_name(service),
            namespace=namespace,
            path="readyz",
            _preload_content=False,
            _request_timeout=READYZ_TIMEOUT_S,
        )
        raw: bytes | str | None = cast(Any, response).data
    except ApiException as exc:
        # A service that is not ready answers 503 with its report; the proxy passes it on.
        raw = exc.body
        if not _is_readyz_report(raw):
            return Lag(value=None, source=None, ready=None, reason=_api_reason(exc))
    except Exception as exc:  # network errors of every kind: report, do not crash the table
        return Lag(value=None, source=None, ready=None, reason=f"{type(exc).__name__}: {exc}")
    try:
        body = json.loads(raw or b"")
    except ValueError:
        return Lag(value=None, source=None, ready=None, reason="/readyz did not answer JSON")
    if not isinstance(body, dict):
        return Lag(value=None, source=None, ready=None, reason="/readyz did not answer an object")
    return lag_from_readyz(body)


def _is_readyz_report(raw: bytes | str | None) -> bool:
    try:
        body = json.loads(raw or b"")
    except ValueError:
        return False
    return isinstance(body, dict) and "checks" in body


def _api_reason(exc: ApiException) -> str:
    message = None
    try:
        body = json.loads(exc.body or b"")
        if isinstance(body, dict):
            message = body.get("message")
    except ValueError:
        pass
    return f"HTTP {exc.status}: {message or exc.reason or 'no detail'}"


def collect(kube: Kube, namespace: str) -> StatusReport:
    deployments = kube.apps.list_namespaced_deployment(namespace=namespace, label_selector=PART_OF)
    services = kube.core.list_namespaced_service(namespace=namespace, label_selector=PART_OF)
    names = {name_of(d) for d in deployments.items}
    rows = []
    for deployment in sorted(deployments.items, key=name_of):
        desired, updated, ready, available = counts(deployment)
        state, detail = rollout_state(deployment)
        labels = (deployment.metadata.labels if deployment.metadata else None) or {}
        containers = (
            deployment.spec.template.spec.containers if deployment.spec.template.spec else []
        )
        rows.append(
            ServiceStatus(
                name=name_of(deployment),
                component=labels.get("app.kubernetes.io/component"),
                desired=desired,
                updated=updated,
                ready=ready,
                available=available,
                images=[c.image or "" for c in containers],
                rollout=state,
                rollout_detail=detail,
                lag=read_lag(kube, namespace, _service_for(deployment, services.items, names)),
            )
        )
    return StatusReport(namespace=namespace, services=rows)


def json_schema() -> str:
    """The JSON Schema of `--json` output, as committed in status.schema.json."""
    return json.dumps(StatusReport.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
