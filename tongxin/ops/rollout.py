"""`tongxin ops rollout`: set a Deployment's container image, then wait for the rollout."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tongxin.ops.client import Kube, name_of
from tongxin.ops.status import counts, rollout_state

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
FIELD_MANAGER = "tongxin-ops"
POLL_S = 2.0


class RolloutError(Exception):
    """The rollout cannot start or did not finish; the message says why."""


class RolloutTimeout(RolloutError):
    pass


class RolloutStalled(RolloutError):
    """The Deployment reports ProgressDeadlineExceeded."""


@dataclass(frozen=True)
class Progress:
    desired: int
    updated: int
    ready: int
    available: int
    detail: str


def container_for(deployment: client.V1Deployment, container: str | None) -> str:
    """The container to update: the one named, the only one, or the one named like the
    Deployment (its sidecars keep their images)."""
    pod = deployment.spec.template.spec
    names = [c.name for c in pod.containers] if pod else []
    if container is not None:
        if container not in names:
            raise RolloutError(f"no container {container!r}; it has {', '.join(names)}")
        return container
    if len(names) == 1:
        return names[0]
    if name_of(deployment) in names:
        return name_of(deployment)
    raise RolloutError(f"several containers ({', '.join(names)}); name one with --container")


def image_patch(deployment: client.V1Deployment, container: str, image: str) -> client.V1Deployment:
    """A strategic merge patch: containers merge by name, so only this one changes.

    The selector is repeated unchanged so that the patch is a valid Deployment by itself.
    """
    return client.V1Deployment(
        api_version="apps/v1",
        kind="Deployment",
        metadata=client.V1ObjectMeta(name=name_of(deployment)),
        spec=client.V1DeploymentSpec(
            selector=deployment.spec.selector,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(containers=[client.V1Container(name=container, image=image)])
            ),
        ),
    )


def set_image(
    kube: Kube, namespace: str, name: str, image: str, container: str | None = None
) -> client.V1Deployment:
    try:
        deployment = kube.apps.read_namespaced_deployment(name=name, namespace=namespace)
    except ApiException as exc:
        raise RolloutError(
            f"cannot read Deployment {namespace}/{name}: HTTP {exc.status}"
        ) from None
    target = container_for(deployment, container)
    try:
        return kube.apps.patch_namespaced_deployment(
            name=name,
            namespace=namespace,
            body=image_patch(deployment, target, image),
            field_manager=FIELD_MANAGER,
            # The generated client would send a JSON Patch (its first JSON type) otherwise.
            _content_type=STRATEGIC_MERGE,
        )
    except ApiException as exc:
        raise RolloutError(
            f"patching Deployment {namespace}/{name} failed: HTTP {exc.status} {exc.reason or ''}"
        ) from None


def wait_for_rollout(
    kube: Kube,
    namespace: str,
    name: str,
    *,
    generation: int,
    timeout_s: float,
    poll_s: float = 2.0,
    on_progress: Callable[[Progress], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Progress:
    """Poll until the controller has seen `generation` and every replica is updated, ready and
    available; RolloutStalled on ProgressDeadlineExceeded, RolloutTimeout after timeout_s."""
    deadline = clock() + timeout_s
    while True:
        try:
            deployment = kube.apps.read_namespaced_deployment_status(name=name, namespace=namespace)
        except ApiException as exc:
            raise RolloutError(
                f"cannot read Deployment {namespace}/{name}: HTTP {exc.status}"
            ) from None
        desired, updated, ready, available = counts(deployment)
        state, detail = rollout_state(deployment)
        observed = (deployment.status.observed_generation if deployment.status else None) or 0
        if state == "complete" and observed < generation:
            state, detail = "progressing", f"controller has not seen generation {generation} yet"
        progress = Progress(desired, updated, ready, available, detail)
        on_progress(progress)
        if state == "complete":
            return progress
        if state == "stalled":
            raise RolloutStalled(
                f"Deployment {namespace}/{name} exceeded its progress deadline: {detail}"
            )
        if clock() >= deadline:
            raise RolloutTimeout(
                f"Deployment {namespace}/{name} did not finish within {timeout_s:g} s: {detail}"
            )
        sleep(poll_s)
