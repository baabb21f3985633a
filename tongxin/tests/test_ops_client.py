"""Connecting `tongxin ops` to a cluster: kubeconfig, context, in-cluster, clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tongxin import cli
from tongxin.ops.client import KubeConfigError, connect

runner = CliRunner()


def kubeconfig(path: Path) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "city", "cluster": {"server": "https://kube.city.example:6443"}},
            {"name": "lab", "cluster": {"server": "https://kube.lab.example:6443"}},
        ],
        "users": [{"name": "ops", "user": {"token": "t0ken"}}],
        "contexts": [
            {"name": "city", "context": {"cluster": "city", "user": "ops"}},
            {"name": "lab", "context": {"cluster": "lab", "user": "ops"}},
        ],
        "current-context": "city",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_the_kubeconfig_and_its_context_choose_the_api_server(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config")
    kube = connect(str(path))
    configuration = kube.apps.api_client.configuration
    assert configuration.host == "https://kube.city.example:6443"
    assert configuration.api_key == {"BearerToken": "Bearer t0ken"}
    assert kube.core.api_client is kube.rbac.api_client is kube.apps.api_client
    lab = connect(str(path), context="lab")
    assert lab.core.api_client.configuration.host == "https://kube.lab.example:6443"


def test_a_missing_kubeconfig_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    missing = tmp_path / "nowhere"
    result = runner.invoke(cli.app, ["ops", "--kubeconfig", str(missing), "status"])
    assert result.exit_code == 2
    assert f"cannot load the kubeconfig {missing}" in result.stderr


def test_in_a_pod_without_its_account_files_the_error_says_in_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(KubeConfigError, match="in-cluster configuration failed"):
        connect()


def test_help_needs_no_cluster() -> None:
    result = runner.invoke(cli.app, ["ops", "rollout", "--help"])
    assert result.exit_code == 0
    assert "SERVICE" in result.stdout and "--timeout" in result.stdout
