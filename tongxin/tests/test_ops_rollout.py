"""`tongxin ops rollout`: a strategic merge patch of one container's image, then a wait that
ends on completion, on ProgressDeadlineExceeded, or at the timeout."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes import client
from typer.testing import CliRunner

from tongxin import cli
from tongxin.ops import rollout as rollouts
from tongxin.ops.client import Kube
from tongxin.tests.ops_support import api_error, mock_kube, recorded, validate, writes

runner = CliRunner()
NEW_IMAGE = "registry.example.org/tongxin:1.5.0"


def volunteers() -> client.V1Deployment:
    listed = recorded("deployments.json", "V1DeploymentList")
    return next(d for d in listed.items if d.metadata.name == "volunteers")


def at(
    deployment: client.V1Deployment,
    *,
    observed: int,
    updated: int,
    ready: int,
    available: int,
    total: int | None = None,
    deadline_exceeded: bool = False,
) -> client.V1Deployment:
    """The Deployment as the controller reports it at one moment of the rollout."""
    snapshot = copy.deepcopy(deployment)
    status = snapshot.status
    status.observed_generation = observed
    status.updated_replicas = updated
    status.ready_replicas = ready
    status.available_replicas = available
    status.replicas = total if total is not None else updated
    if deadline_exceeded:
        status.conditions = [
            client.V1DeploymentCondition(
                type="Progressing",
                status="False",
                reason="ProgressDeadlineExceeded",
                message='ReplicaSet "volunteers-7c9d8e6f5a" has timed out progressing.',
            )
        ]
    return snapshot


def patched_cluster(*states: client.V1Deployment) -> tuple[Kube, Any, client.V1Deployment]:
    kube, parent = mock_kube()
    current = volunteers()
    after_patch = copy.deepcopy(current)
    after_patch.metadata.generation = 8
    after_patch.spec.template.spec.containers[0].image = NEW_IMAGE
    kube.apps.read_namespaced_deployment.return_value = current
    kube.apps.patch_namespaced_deployment.return_value = after_patch
    kube.apps.read_namespaced_deployment_status.side_effect = list(states)
    return kube, parent, after_patch


def test_the_patch_changes_only_the_image_of_the_named_container() -> None:
    kube, parent, after = patched_cluster()
    after.status = at(after, observed=8, updated=2, ready=2, available=2).status
    kube.apps.read_namespaced_deployment_status.side_effect = None
    kube.apps.read_namespaced_deployment_status.return_value = after
    result = runner.invoke(cli.app, ["ops", "rollout", "volunteers", NEW_IMAGE], obj=kube)
    assert result.exit_code == 0, result.output
    (patch,) = writes(parent)
    assert patch.method == "PATCH"
    assert patch.path == "/apis/apps/v1/namespaces/tongxin/deployments/volunteers"
    # Without it the generated client sends a JSON Patch, which this body is not.
    assert patch.headers["Content-Type"] == "application/strategic-merge-patch+json"
    validate(patch.body)
    assert patch.body["spec"]["template"] == {
        "spec": {"containers": [{"name": "volunteers", "image": NEW_IMAGE}]}
    }
    selector = client.ApiClient().sanitize_for_serialization(volunteers().spec.selector)
    assert patch.body["spec"]["selector"] == selector  # unchanged: the selector is immutable
    assert f"volunteers runs {NEW_IMAGE} on every replica" in result.stdout


def test_waits_through_the_rollout_until_every_replica_is_updated_and_available(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rollouts, "POLL_S", 0.01)
    base = volunteers()
    base.metadata.generation = 8
    kube, _, _ = patched_cluster(
        at(base, observed=7, updated=2, ready=2, available=2),  # old generation: not done
        at(base, observed=8, updated=1, ready=2, available=2, total=3),
        at(base, observed=8, updated=2, ready=2, available=2, total=3),
        at(base, observed=8, updated=2, ready=1, available=1),
        at(base, observed=8, updated=2, ready=2, available=2),
    )
    result = runner.invoke(cli.app, ["ops", "rollout", "volunteers", NEW_IMAGE], obj=kube)
    assert result.exit_code == 0, result.output
    assert kube.apps.read_namespaced_deployment_status.call_count == 5
    assert "updated 2/2 ready 2 available 2" in result.stdout


def test_progress_deadline_exceeded_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollouts, "POLL_S", 0.01)
    base = volunteers()
    kube, _, _ = patched_cluster(
        at(base, observed=8, updated=1, ready=2, available=2, total=3),
        at(base, observed=8, updated=1, ready=2, available=2, total=3, deadline_exceeded=True),
    )
    result = runner.invoke(cli.app, ["ops", "rollout", "volunteers", NEW_IMAGE], obj=kube)
    assert result.exit_code == 1
    assert "exceeded its progress deadline" in result.stderr
    assert "timed out progressing" in result.stderr


def test_a_rollout_that_does_not_finish_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollouts, "POLL_S", 0.05)
    base = volunteers()
    stuck = at(base, observed=8, updated=1, ready=2, available=2, total=3)
    kube, _, _ = patched_cluster()
    kube.apps.read_namespaced_deployment_status.side_effect = None
    kube.apps.read_namespaced_deployment_status.return_value = stuck
    result = runner.invoke(
        cli.app, ["ops", "rollout", "volunteers", NEW_IMAGE, "--timeout", "1"], obj=kube
    )
    assert result.exit_code == 1
    assert "did not finish within 1 s: 1 of 2 replicas updated" in result.stderr


def test_the_timeout_is_measured_on_the_clock() -> None:
    kube, _ = mock_kube()
    stuck = at(volunteers(), observed=7, updated=1, ready=2, available=2, total=3)
    kube.apps.read_namespaced_deployment_status.return_value = stuck
    now = [0.0]
    seen: list[rollouts.Progress] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(rollouts.RolloutTimeout):
        rollouts.wait_for_rollout(
            kube,
            "tongxin",
            "volunteers",
            generation=7,
            timeout_s=10,
            poll_s=2,
            on_progress=seen.append,
            clock=lambda: now[0],
            sleep=sleep,
        )
    assert len(seen) == 6  # t = 0, 2, 4, 6, 8, 10
    assert seen[-1] == rollouts.Progress(2, 1, 2, 2, "1 of 2 replicas updated")


def test_a_missing_deployment_is_a_clear_error() -> None:
    kube, parent = mock_kube()
    kube.apps.read_namespaced_deployment.side_effect = api_error(404, "Not Found")
    result = runner.invoke(cli.app, ["ops", "rollout", "courses", NEW_IMAGE], obj=kube)
    assert result.exit_code == 1
    assert "cannot read Deployment tongxin/courses: HTTP 404" in result.stderr
    assert writes(parent) == []


def test_with_sidecars_the_services_own_container_is_chosen() -> None:
    deployment = volunteers()
    sidecar = client.V1Container(name="otel-agent", image="otel/opentelemetry-collector:0.140.0")
    deployment.spec.template.spec.containers.append(sidecar)
    assert rollouts.container_for(deployment, None) == "volunteers"
    assert rollouts.container_for(deployment, "otel-agent") == "otel-agent"
    deployment.metadata.name = "volunteers-api"
    with pytest.raises(rollouts.RolloutError, match="name one with --container"):
        rollouts.container_for(deployment, None)
    with pytest.raises(rollouts.RolloutError, match="no container 'web'"):
        rollouts.container_for(deployment, "web")
