"""The Kubernetes API objects the ops commands use, from a kubeconfig or the pod's account."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"


@dataclass(frozen=True)
class Kube:
    """The three API groups the ops commands talk to; tests pass autospecced ones."""

    apps: client.AppsV1Api
    core: client.CoreV1Api
    rbac: client.RbacAuthorizationV1Api

    @classmethod
    def from_api_client(cls, api_client: client.ApiClient) -> Kube:
        return cls(
            apps=client.AppsV1Api(api_client),
            core=client.CoreV1Api(api_client),
            rbac=client.RbacAuthorizationV1Api(api_client),
        )


class KubeConfigError(Exception):
    """No usable cluster configuration; the message says what was tried."""


def connect(kubeconfig: str | None = None, context: str | None = None) -> Kube:
    """Connect with the given kubeconfig (or $KUBECONFIG / ~/.kube/config).

    Inside a pod with no kubeconfig named, the pod's service account is used.
    """
    if kubeconfig is None and context is None and os.environ.get(IN_CLUSTER_ENV):
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException as exc:
            raise KubeConfigError(f"in-cluster configuration failed: {exc}") from None
        return Kube.from_api_client(client.ApiClient(configuration))
    try:
        api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
    except (config.ConfigException, OSError) as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or config.KUBE_CONFIG_DEFAULT_LOCATION
        raise KubeConfigError(f"cannot load the kubeconfig {where}: {exc}") from None
    return Kube.from_api_client(api_client)


def name_of(obj: Any) -> str:
    """metadata.name of an API object (always set on objects the server returns)."""
    meta = getattr(obj, "metadata", None)
    return str(meta.name) if meta is not None and meta.name else ""
