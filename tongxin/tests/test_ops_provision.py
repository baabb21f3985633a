"""`tongxin ops provision-departments`: bodies valid for Kubernetes 1.35, idempotent on 409,
an existing password never replaced, and every write a server-side dry run with --dry-run."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from kubernetes import client
from typer.testing import CliRunner

from contracts.departments import load_ownership_map
from tongxin import cli
from tongxin.natsauth import is_config_safe
from tongxin.ops.client import Kube
from tongxin.ops.departments import department_accounts
from tongxin.ops.provision import Provisioner
from tongxin.tests.ops_support import (
    WireRequest,
    api_error,
    conflict,
    mock_kube,
    recorded,
    validate,
    wire_requests,
    writes,
)

runner = CliRunner()
WIDE = {"COLUMNS": "220"}
NATS_URL = "nats://tongxin-nats.tongxin.svc:4222"


def echo(*_: Any, body: Any, **__: Any) -> Any:
    """A create answered as the API server does: with the stored object."""
    return body


def empty_cluster() -> tuple[Kube, Any]:
    kube, parent = mock_kube()
    kube.core.create_namespace.side_effect = echo
    kube.core.create_namespaced_service_account.side_effect = echo
    kube.core.create_namespaced_secret.side_effect = echo
    kube.rbac.create_namespaced_role.side_effect = echo
    kube.rbac.create_namespaced_role_binding.side_effect = echo
    return kube, parent


def provisioned_pol(users_secret: client.V1Secret) -> tuple[Kube, Any]:
    """Department pol provisioned before: every create answers 409, reads give the objects."""
    kube, parent = mock_kube()
    for create in (
        kube.core.create_namespace,
        kube.core.create_namespaced_service_account,
        kube.core.create_namespaced_secret,
        kube.rbac.create_namespaced_role,
        kube.rbac.create_namespaced_role_binding,
    ):
        create.side_effect = conflict()
    kube.core.read_namespace.return_value = recorded("namespace_pol.json", "V1Namespace")
    kube.core.read_namespaced_service_account.return_value = recorded(
        "serviceaccount_pol.json", "V1ServiceAccount"
    )
    kube.rbac.read_namespaced_role.return_value = recorded("role_pol.json", "V1Role")
    kube.rbac.read_namespaced_role_binding.return_value = recorded(
        "rolebinding_pol.json", "V1RoleBinding"
    )
    credentials = recorded("secret_credentials_pol.json", "V1Secret")
    kube.core.read_namespaced_secret.side_effect = lambda name, namespace, **_: (
        credentials if name == "nats-credentials" else users_secret
    )
    return kube, parent


def users_secret(**keys: str) -> client.V1Secret:
    secret = recorded("secret_users.json", "V1Secret")
    for key, value in keys.items():
        secret.data[key] = base64.b64encode(value.encode()).decode()
    return secret


def invoke(kube: Kube, *args: str) -> Any:
    return runner.invoke(cli.app, ["ops", "provision-departments", *args], obj=kube, env=WIDE)


def body_of(requests: list[WireRequest], call: str, name: str | None = None) -> dict[str, Any]:
    for request in requests:
        if request.call == call and (name is None or request.body["metadata"]["name"] == name):
            return request.body
    raise AssertionError(f"no {call} {name or ''} in {[r.call for r in requests]}")


def test_a_new_department_gets_every_object_with_valid_bodies() -> None:
    kube, parent = empty_cluster()
    result = invoke(kube, "--department", "pol")
    assert result.exit_code == 0, result.output
    sent = writes(parent)
    assert [r.call for r in sent] == [
        "core.create_namespace",
        "core.create_namespaced_service_account",
        "rbac.create_namespaced_role",
        "rbac.create_namespaced_role_binding",
        "core.create_namespaced_secret",
        "core.create_namespaced_secret",
    ]
    for request in sent:
        validate(request.body)
        assert "dryRun" not in request.query
        assert request.query["fieldManager"] == ["tongxin-ops"]
    namespace = body_of(sent, "core.create_namespace")
    assert namespace["metadata"] == {
        "name": "tongxin-dept-pol",
        "labels": {"app.kubernetes.io/part-of": "tongxin", "tongxin.org/department": "pol"},
    }
    account = body_of(sent, "core.create_namespaced_service_account")
    assert account["automountServiceAccountToken"] is False
    role = body_of(sent, "rbac.create_namespaced_role")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["nats-credentials"],
            "verbs": ["get"],
        }
    ]
    binding = body_of(sent, "rbac.create_namespaced_role_binding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "dept-pol", "namespace": "tongxin-dept-pol"}
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    credentials = body_of(sent, "core.create_namespaced_secret", "nats-credentials")
    users = body_of(sent, "core.create_namespaced_secret", "tongxin-nats-users")
    assert credentials["stringData"]["user"] == "dept-pol"
    assert credentials["stringData"]["url"] == NATS_URL
    password = credentials["stringData"]["password"]
    assert is_config_safe(password)  # nats-server reads it from an environment variable
    assert users["stringData"] == {"NATS_PASSWORD_DEPT_POL": password}
    assert users["metadata"]["namespace"] == "tongxin"
    assert password not in result.output
    assert "pol" in result.stdout and "created" in result.stdout


def test_every_department_of_the_ownership_map_by_default() -> None:
    kube, parent = empty_cluster()
    result = invoke(kube)
    assert result.exit_code == 0, result.output
    sent = writes(parent)
    codes = [d.code for d in load_ownership_map().departments]
    namespaces = [r.body["metadata"]["name"] for r in sent if r.call == "core.create_namespace"]
    assert namespaces == [f"tongxin-dept-{code}" for code in codes]
    keys = [
        key
        for r in sent
        if r.body["metadata"]["name"] == "tongxin-nats-users"
        for key in r.body["stringData"]
    ]
    assert keys == [f"NATS_PASSWORD_DEPT_{code.upper()}" for code in codes]
    passwords = [
        r.body["stringData"]["password"]
        for r in sent
        if r.body["metadata"]["name"] == "nats-credentials"
    ]
    assert len(set(passwords)) == len(codes)


def test_a_second_run_changes_nothing_and_keeps_the_password() -> None:
    kube, parent = provisioned_pol(users_secret(NATS_PASSWORD_DEPT_POL="kept-password-of-pol"))
    result = invoke(kube, "-d", "pol")
    assert result.exit_code == 0, result.output
    sent = writes(parent)
    assert {r.method for r in sent} == {"POST"}  # creates answered 409; nothing patched
    for request in sent:
        validate(request.body)
    assert "unchanged" in result.stdout and "updated" not in result.stdout


def test_the_existing_password_goes_into_the_platform_secret() -> None:
    kube, parent = provisioned_pol(users_secret())
    result = invoke(kube, "-d", "pol")
    assert result.exit_code == 0, result.output
    patches = [r for r in writes(parent) if r.method == "PATCH"]
    assert [(r.call, r.path) for r in patches] == [
        (
            "core.patch_namespaced_secret",
            "/api/v1/namespaces/tongxin/secrets/tongxin-nats-users",
        )
    ]
    (patch,) = patches
    validate(patch.body)
    assert patch.headers["Content-Type"] == "application/strategic-merge-patch+json"
    assert patch.body["stringData"] == {"NATS_PASSWORD_DEPT_POL": "kept-password-of-pol"}
    assert "updated" in result.stdout and "key added" in result.stdout


def test_a_changed_url_is_patched_without_touching_the_password() -> None:
    kube, parent = provisioned_pol(users_secret(NATS_PASSWORD_DEPT_POL="kept-password-of-pol"))
    result = invoke(kube, "-d", "pol", "--nats-url", "tls://nats.city.example:4222")
    assert result.exit_code == 0, result.output
    (patch,) = [r for r in writes(parent) if r.method == "PATCH"]
    validate(patch.body)
    assert patch.path == "/api/v1/namespaces/tongxin-dept-pol/secrets/nats-credentials"
    assert patch.body["stringData"] == {"url": "tls://nats.city.example:4222"}


def test_a_widened_role_is_replaced_guarded_by_its_resource_version() -> None:
    kube, parent = provisioned_pol(users_secret(NATS_PASSWORD_DEPT_POL="kept-password-of-pol"))
    role = recorded("role_pol.json", "V1Role")
    role.rules.append(client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["list"]))
    kube.rbac.read_namespaced_role.return_value = role
    result = invoke(kube, "-d", "pol")
    assert result.exit_code == 0, result.output
    (replace,) = [r for r in writes(parent) if r.method == "PUT"]
    validate(replace.body)
    assert replace.body["metadata"]["resourceVersion"] == "3301"
    assert [rule["verbs"] for rule in replace.body["rules"]] == [["get"]]


def test_dry_run_sends_every_write_as_a_server_side_dry_run() -> None:
    kube, parent = provisioned_pol(users_secret())
    kube.rbac.read_namespaced_role_binding.return_value.subjects = []
    result = invoke(kube, "-d", "pol", "--dry-run")
    assert result.exit_code == 0, result.output
    sent = writes(parent)
    assert {r.method for r in sent} == {"POST", "PUT", "PATCH"}
    for request in sent:
        assert request.query["dryRun"] == ["All"], request.call
        validate(request.body)
    assert "dry run: every write is sent with dryRun=All" in result.stdout


def test_dry_run_of_a_new_department_sends_only_what_the_server_can_check() -> None:
    kube, parent = empty_cluster()
    result = invoke(kube, "-d", "edu", "--dry-run")
    assert result.exit_code == 0, result.output
    sent = writes(parent)
    # Inside a namespace that a dry run did not store the server would answer 404.
    assert [(r.call, r.query["dryRun"]) for r in sent] == [
        ("core.create_namespace", ["All"]),
        ("core.create_namespaced_secret", ["All"]),
    ]
    assert body_of(sent, "core.create_namespaced_secret")["metadata"]["namespace"] == "tongxin"
    assert "namespace is new, not sent" in result.stdout


def test_a_refused_write_stops_with_the_reason() -> None:
    kube, _ = empty_cluster()
    kube.rbac.create_namespaced_role.side_effect = api_error(403, "Forbidden")
    result = invoke(kube, "-d", "pol", "-d", "edu")
    assert result.exit_code == 1
    assert "create Role tongxin-dept-pol/read-nats-credentials failed: HTTP 403" in result.stderr


def test_a_binding_to_another_role_is_not_silently_kept() -> None:
    kube, _ = provisioned_pol(users_secret())
    binding = recorded("rolebinding_pol.json", "V1RoleBinding")
    binding.role_ref.name = "admin"
    kube.rbac.read_namespaced_role_binding.return_value = binding
    result = invoke(kube, "-d", "pol")
    assert result.exit_code == 1
    assert "roleRef cannot change" in result.stderr


def test_an_unknown_department_is_a_usage_error() -> None:
    kube, parent = empty_cluster()
    result = invoke(kube, "-d", "pol", "-d", "xyz")
    assert result.exit_code == 2
    assert "unknown department(s) xyz" in result.output
    assert wire_requests(parent) == []


@pytest.mark.parametrize("code", ["pol", "cyl"])
def test_the_provisioner_reports_per_object_outcomes(code: str) -> None:
    kube, _ = empty_cluster()
    (account,) = department_accounts([code])
    result = Provisioner(kube, platform_namespace="tongxin", nats_url=NATS_URL).provision(account)
    assert result.summary == "created"
    assert [s.kind for s in result.steps] == [
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Secret",
        f"Secret key NATS_PASSWORD_DEPT_{code.upper()}",
    ]
