"""Test doubles for the ops commands: autospecced API objects, recorded responses, and the
requests those calls become on the wire (built by the real generated client)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import Mock, create_autospec
from urllib.parse import parse_qs, unquote, urlsplit

import kubernetes_validate
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tongxin.ops.client import Kube

FIXTURES = Path(__file__).parent / "fixtures" / "ops"
KUBE_VERSION = "1.35.0"
API_GROUPS = {
    "apps": client.AppsV1Api,
    "core": client.CoreV1Api,
    "rbac": client.RbacAuthorizationV1Api,
}


def mock_kube() -> tuple[Kube, Mock]:
    """A Kube of autospecced API objects (a wrong argument name fails the call) and a parent
    mock whose `mock_calls` lists every call in order, named like `core.create_namespace`."""
    parent = Mock()
    apis = {}
    for name, cls in API_GROUPS.items():
        api = create_autospec(cls, instance=True)
        parent.attach_mock(api, name)
        apis[name] = api
    return Kube(**apis), parent


def recorded(name: str, response_type: str) -> Any:
    """A recorded API response deserialised into the client's model, as the client would."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return client.ApiClient().deserialize(text, response_type, "application/json")


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def api_error(status: int, reason: str, body: str | None = None) -> ApiException:
    return ApiException(status=status, reason=reason, body=body)


def conflict() -> ApiException:
    return api_error(409, "Conflict", fixture_text("status_conflict.json"))


def not_found() -> ApiException:
    return api_error(404, "Not Found")


@dataclass(frozen=True)
class WireRequest:
    call: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class _Recording(client.ApiClient):
    """The real client up to the socket: it serialises the request, then records it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, dict[str, str], Any]] = []

    def _call_with_legacy_options(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        method, url, headers, body, _post = request
        self.sent.append((method, url, headers, body))
        return None


def wire_requests(parent: Mock) -> list[WireRequest]:
    """Every call made on the mocked APIs, replayed through the real generated methods.

    The real methods validate argument types (pydantic, strict) and build the HTTP request:
    method, path, query (dryRun, fieldManager), Content-Type and the JSON body.
    """
    requests = []
    for call in parent.mock_calls:
        group, _, method_name = call[0].partition(".")
        if group not in API_GROUPS or not method_name:
            continue
        recording = _Recording()
        real = API_GROUPS[group](recording)
        getattr(real, method_name)(*call.args, **call.kwargs)
        (method, url, headers, body) = recording.sent[0]
        parts = urlsplit(url)
        requests.append(
            WireRequest(
                call=call[0],
                method=method,
                path=unquote(parts.path),  # the client escapes ':' in names
                query=parse_qs(parts.query),
                headers=dict(headers),
                body=json.loads(json.dumps(body)) if body is not None else None,
            )
        )
    return requests


def writes(parent: Mock) -> list[WireRequest]:
    return [r for r in wire_requests(parent) if r.method in {"POST", "PUT", "PATCH"}]


def validate(body: Any) -> None:
    """Strict validation against the Kubernetes 1.35 schema (unknown fields fail)."""
    if not isinstance(body, dict):
        body = client.ApiClient().sanitize_for_serialization(body)
    kubernetes_validate.validate(body, KUBE_VERSION, strict=True)


def raw_response(body: str) -> Mock:
    """What the client returns for `_preload_content=False`: an object with `.data`."""
    response = Mock()
    response.data = body.encode("utf-8")
    return response
