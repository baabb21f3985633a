"""`tongxin ops provision-departments`: per department a namespace, a ServiceAccount that may
read only its NATS credentials, the credentials Secret, and the same password in the
platform's `tongxin-nats-users` Secret, which the nats-server reads.

Idempotent: every object is created, and when it exists (409) read and patched only where it
differs. An existing password is never replaced: department systems already use it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tongxin.natsauth import new_password
from tongxin.ops.client import Kube
from tongxin.ops.departments import DepartmentAccount

Outcome = Literal["created", "unchanged", "updated"]
T = TypeVar("T")

FIELD_MANAGER = "tongxin-ops"
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
PART_OF = "app.kubernetes.io/part-of"
DEPARTMENT_LABEL = "tongxin.org/department"
CREDENTIALS_SECRET = "nats-credentials"
CREDENTIALS_ROLE = "read-nats-credentials"
USERS_SECRET = "tongxin-nats-users"


class ProvisionError(Exception):
    """The API server refused a step; the message names the object and the reason."""


@dataclass(frozen=True)
class Step:
    kind: str
    name: str
    namespace: str | None
    outcome: Outcome
    note: str = ""


@dataclass
class DepartmentResult:
    account: DepartmentAccount
    steps: list[Step] = field(default_factory=list)

    @property
    def summary(self) -> Outcome:
        outcomes = {step.outcome for step in self.steps}
        if outcomes == {"created"}:
            return "created"
        if outcomes <= {"unchanged"}:
            return "unchanged"
        return "updated"


def _decode(data: dict[str, Any] | None, key: str) -> str | None:
    value = (data or {}).get(key)
    if value is None:
        return None
    raw = value if isinstance(value, bytes) else value.encode("ascii")
    return base64.b64decode(raw).decode("utf-8")


class Provisioner:
    def __init__(
        self,
        kube: Kube,
        *,
        platform_namespace: str,
        nats_url: str,
        dry_run: bool = False,
        password: Callable[[], str] = new_password,
    ) -> None:
        self.kube = kube
        self.platform_namespace = platform_namespace
        self.nats_url = nats_url
        self.dry_run = dry_run
        self.password = password

    @property
    def _write(self) -> dict[str, Any]:
        """Arguments of every write: server-side dry run when asked, and our field manager."""
        return {"dry_run": "All" if self.dry_run else None, "field_manager": FIELD_MANAGER}

    def provision(self, account: DepartmentAccount) -> DepartmentResult:
        result = DepartmentResult(account)
        namespace = self._namespace(account)
        result.steps.append(namespace)
        if self.dry_run and namespace.outcome == "created":
            # The dry-run namespace was not stored, so the server would answer 404 for
            # anything inside it; report what would be created without sending it.
            password = self.password()
            note = "dry run: namespace is new, not sent"
            for kind, name in (
                ("ServiceAccount", account.service_account),
                ("Role", CREDENTIALS_ROLE),
                ("RoleBinding", CREDENTIALS_ROLE),
                ("Secret", CREDENTIALS_SECRET),
            ):
                result.steps.append(Step(kind, name, account.namespace, "created", note))
        else:
            result.steps.append(self._service_account(account))
            result.steps.append(self._role(account))
            result.steps.append(self._role_binding(account))
            credentials, password = self._credentials(account)
            result.steps.append(credentials)
        result.steps.append(self._platform_key(account, password))
        return result

    def _labels(self, account: DepartmentAccount) -> dict[str, str]:
        return {PART_OF: "tongxin", DEPARTMENT_LABEL: account.code}

    def _meta(
        self, name: str, account: DepartmentAccount, namespace: str | None = None
    ) -> client.V1ObjectMeta:
        return client.V1ObjectMeta(name=name, namespace=namespace, labels=self._labels(account))

    def _create(
        self, kind: str, name: str, namespace: str | None, create: Callable[[], Any]
    ) -> bool:
        """True when created, False when it exists already (409)."""
        try:
            create()
            return True
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise _refused("create", kind, name, namespace, exc) from None

    def _call(
        self, verb: str, kind: str, name: str, namespace: str | None, call: Callable[[], T]
    ) -> T:
        try:
            return call()
        except ApiException as exc:
            raise _refused(verb, kind, name, namespace, exc) from None

    def _namespace(self, account: DepartmentAccount) -> Step:
        name = account.namespace
        labels = self._labels(account)
        body = client.V1Namespace(
            api_version="v1", kind="Namespace", metadata=self._meta(name, account)
        )
        core = self.kube.core
        if self._create(
            "Namespace", name, None, lambda: core.create_namespace(body=body, **self._write)
        ):
            return Step("Namespace", name, None, "created")
        existing = self._call(
            "read", "Namespace", name, None, lambda: core.read_namespace(name=name)
        )
        have = (existing.metadata.labels if existing.metadata else None) or {}
        if all(have.get(k) == v for k, v in labels.items()):
            return Step("Namespace", name, None, "unchanged")
        self._call(
            "patch",
            "Namespace",
            name,
            None,
            lambda: core.patch_namespace(
                name=name, body=body, _content_type=STRATEGIC_MERGE, **self._write
            ),
        )
        return Step("Namespace", name, None, "updated", "labels added")

    def _service_account(self, account: DepartmentAccount) -> Step:
        name, ns = account.service_account, account.namespace
        body = client.V1ServiceAccount(
            api_version="v1",
            kind="ServiceAccount",
            metadata=self._meta(name, account, ns),
            automount_service_account_token=False,
        )
        core = self.kube.core
        create = lambda: core.create_namespaced_service_account(  # noqa: E731
            namespace=ns, body=body, **self._write
        )
        if self._create("ServiceAccount", name, ns, create):
            return Step("ServiceAccount", name, ns, "created")
        existing = self._call(
            "read",
            "ServiceAccount",
            name,
            ns,
            lambda: core.read_namespaced_service_account(name=name, namespace=ns),
        )
        if existing.automount_service_account_token is False:
            return Step("ServiceAccount", name, ns, "unchanged")
        self._call(
            "patch",
            "ServiceAccount",
            name,
            ns,
            lambda: core.patch_namespaced_service_account(
                name=name, namespace=ns, body=body, _content_type=STRATEGIC_MERGE, **self._write
            ),
        )
        return Step("ServiceAccount", name, ns, "updated", "token automount turned off")

    def _rules(self) -> list[client.V1PolicyRule]:
        return [
            client.V1PolicyRule(
                api_groups=[""],
                resources=["secrets"],
                resource_names=[CREDENTIALS_SECRET],
                verbs=["get"],
            )
        ]

    def _role(self, account: DepartmentAccount) -> Step:
        name, ns = CREDENTIALS_ROLE, account.namespace
        meta = self._meta(name, account, ns)
        body = client.V1Role(
            api_version="rbac.authorization.k8s.io/v1",
            kind="Role",
            metadata=meta,
            rules=self._rules(),
        )
        rbac = self.kube.rbac
        create = lambda: rbac.create_namespaced_role(namespace=ns, body=body, **self._write)  # noqa: E731
        if self._create("Role", name, ns, create):
            return Step("Role", name, ns, "created")
        existing = self._call(
            "read", "Role", name, ns, lambda: rbac.read_namespaced_role(name=name, namespace=ns)
        )
        if _same(existing.rules, body.rules):
            return Step("Role", name, ns, "unchanged")
        # Replaced, not patched: a wider rule added by hand must go, and the
        # resourceVersion makes a concurrent edit fail instead of being overwritten.
        meta.resource_version = _resource_version(existing)
        self._call(
            "replace",
            "Role",
            name,
            ns,
            lambda: rbac.replace_namespaced_role(name=name, namespace=ns, body=body, **self._write),
        )
        return Step("Role", name, ns, "updated", "rules reset to get on its Secret only")

    def _role_binding(self, account: DepartmentAccount) -> Step:
        name, ns = CREDENTIALS_ROLE, account.namespace
        meta = self._meta(name, account, ns)
        body = client.V1RoleBinding(
            api_version="rbac.authorization.k8s.io/v1",
            kind="RoleBinding",
            metadata=meta,
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name=CREDENTIALS_ROLE
            ),
            subjects=[
                client.RbacV1Subject(
                    kind="ServiceAccount", name=account.service_account, namespace=ns
                )
            ],
        )
        rbac = self.kube.rbac
        create = lambda: rbac.create_namespaced_role_binding(  # noqa: E731
            namespace=ns, body=body, **self._write
        )
        if self._create("RoleBinding", name, ns, create):
            return Step("RoleBinding", name, ns, "created")
        existing = self._call(
            "read",
            "RoleBinding",
            name,
            ns,
            lambda: rbac.read_namespaced_role_binding(name=name, namespace=ns),
        )
        if not _same(existing.role_ref, body.role_ref):
            raise ProvisionError(
                f"RoleBinding {ns}/{name} refers to another role; roleRef cannot change, "
                "delete the binding and run again"
            )
        if _same(existing.subjects, body.subjects):
            return Step("RoleBinding", name, ns, "unchanged")
        meta.resource_version = _resource_version(existing)
        self._call(
            "replace",
            "RoleBinding",
            name,
            ns,
            lambda: rbac.replace_namespaced_role_binding(
                name=name, namespace=ns, body=body, **self._write
            ),
        )
        return Step("RoleBinding", name, ns, "updated", "subjects reset to its ServiceAccount")

    def _credentials(self, account: DepartmentAccount) -> tuple[Step, str]:
        """The department's `nats-credentials` Secret and the password it holds."""
        name, ns = CREDENTIALS_SECRET, account.namespace
        password = self.password()
        wanted = {"user": account.user, "password": password, "url": self.nats_url}
        body = client.V1Secret(
            api_version="v1",
            kind="Secret",
            type="Opaque",
            metadata=self._meta(name, account, ns),
            string_data=wanted,
        )
        core = self.kube.core
        create = lambda: core.create_namespaced_secret(namespace=ns, body=body, **self._write)  # noqa: E731
        if self._create("Secret", name, ns, create):
            return Step("Secret", name, ns, "created"), password
        existing = self._call(
            "read", "Secret", name, ns, lambda: core.read_namespaced_secret(name=name, namespace=ns)
        )
        kept = _decode(existing.data, "password")
        if kept:
            wanted["password"] = kept
        changed = {k: v for k, v in wanted.items() if _decode(existing.data, k) != v}
        if not changed:
            return Step("Secret", name, ns, "unchanged", "password kept"), wanted["password"]
        patch = client.V1Secret(
            api_version="v1",
            kind="Secret",
            metadata=client.V1ObjectMeta(name=name),
            string_data=changed,
        )
        self._call(
            "patch",
            "Secret",
            name,
            ns,
            lambda: core.patch_namespaced_secret(
                name=name, namespace=ns, body=patch, _content_type=STRATEGIC_MERGE, **self._write
            ),
        )
        note = f"set {', '.join(sorted(changed))}" + ("; password kept" if kept else "")
        return Step("Secret", name, ns, "updated", note), wanted["password"]

    def _platform_key(self, account: DepartmentAccount, password: str) -> Step:
        """The password under NATS_PASSWORD_DEPT_<CODE> in the platform's users Secret."""
        name, ns, key = USERS_SECRET, self.platform_namespace, account.password_env
        kind = f"Secret key {key}"
        body = client.V1Secret(
            api_version="v1",
            kind="Secret",
            type="Opaque",
            metadata=client.V1ObjectMeta(name=name, namespace=ns, labels={PART_OF: "tongxin"}),
            string_data={key: password},
        )
        core = self.kube.core
        create = lambda: core.create_namespaced_secret(namespace=ns, body=body, **self._write)  # noqa: E731
        if self._create(kind, name, ns, create):
            return Step(kind, name, ns, "created", "Secret created")
        existing = self._call(
            "read", kind, name, ns, lambda: core.read_namespaced_secret(name=name, namespace=ns)
        )
        current = _decode(existing.data, key)
        if current == password:
            return Step(kind, name, ns, "unchanged")
        patch = client.V1Secret(
            api_version="v1",
            kind="Secret",
            metadata=client.V1ObjectMeta(name=name),
            string_data={key: password},
        )
        self._call(
            "patch",
            kind,
            name,
            ns,
            lambda: core.patch_namespaced_secret(
                name=name, namespace=ns, body=patch, _content_type=STRATEGIC_MERGE, **self._write
            ),
        )
        note = "key added" if current is None else "set to the department's password"
        return Step(kind, name, ns, "updated", note)


def _same(a: Any, b: Any) -> bool:
    sanitize = client.ApiClient().sanitize_for_serialization
    return bool(sanitize(a) == sanitize(b))


def _refused(
    verb: str, kind: str, name: str, namespace: str | None, exc: ApiException
) -> ProvisionError:
    where = f"{namespace}/{name}" if namespace else name
    return ProvisionError(
        f"{verb} {kind} {where} failed: HTTP {exc.status} {exc.reason or ''}".rstrip()
    )


def _resource_version(obj: Any) -> str | None:
    return obj.metadata.resource_version if obj.metadata else None
