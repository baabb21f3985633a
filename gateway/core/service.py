"""A client of one Tongxin service's REST API: commands, personal-field lookups and the
reads only the service can answer go as the caller, so the service authorises (and logs)
them as the caller's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from opentelemetry import propagate

from services.kit.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    """The service carried the command out; `body` is its JSON answer."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """The service refused the command (RFC 9457 `code` and `detail`), or was unreachable."""

    status: int
    code: str
    message: str


def segment(value: str) -> str:
    """An id made safe to put in a URL path."""
    return quote(value, safe="")


def http_client_for(service: str, settings: Settings) -> httpx.AsyncClient:
    """An HTTP client for a service at its configured base URL (`Settings.service_url`)."""
    return httpx.AsyncClient(
        base_url=settings.service_url(service), timeout=httpx.Timeout(10.0, connect=3.0)
    )


class ServiceClient:
    """Calls one service's REST API with the caller's bearer token."""

    def __init__(self, service: str, http: httpx.AsyncClient) -> None:
        self.service = service
        self.http = http

    async def post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        token: str,
        idempotency_key: str | None = None,
    ) -> Accepted | Problem:
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        return await self._request("POST", path, token=token, json=body, headers=extra)

    async def get(self, path: str, params: dict[str, str], *, token: str) -> Accepted | Problem:
        """A read the service answers itself (a list in an order only it can give)."""
        return await self._request("GET", path, token=token, params=params)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        token: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Accepted | Problem:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"} | (
            headers or {}
        )
        propagate.inject(headers)  # Continue the caller's trace in the service.
        try:
            response = await self.http.request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            log.warning("%s service unreachable: %s", self.service, exc)
            return Problem(
                503, f"{self.service}-unavailable", f"the {self.service} service is unreachable"
            )
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.is_success:
            if isinstance(document, dict):
                return Accepted(response.status_code, document)
            return Problem(
                502, "bad-upstream-response", f"the {self.service} service answered oddly"
            )
        if isinstance(document, dict):
            code = str(document.get("code") or f"http-{response.status_code}")
            detail = document.get("detail") or document.get("title") or response.reason_phrase
            return Problem(response.status_code, code, str(detail))
        return Problem(
            response.status_code, f"http-{response.status_code}", response.reason_phrase or ""
        )
