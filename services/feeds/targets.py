"""Where deliveries may go: https to public addresses, with a timeout (no SSRF).

The embedded default (`make run`, tests) may also post to `http://127.0.0.1`, so a demo
receiver can run beside the platform; production allows neither http nor any private,
loopback, link-local or reserved address, checked when the endpoint is added and again
on every attempt (a name may resolve elsewhere later).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from services.kit.errors import DomainError

TIMEOUT_S = 15.0


class TargetRefusedError(DomainError):
    """The endpoint URL is not one deliveries may be sent to."""

    code = "endpoint-url-refused"


def check_url(url: str, *, allow_local: bool) -> None:
    """Raise TargetRefusedError unless deliveries may be posted to `url`."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetRefusedError("the endpoint URL must be an absolute https URL")
    if parts.username or parts.password:
        raise TargetRefusedError("the endpoint URL must not carry credentials")
    if allow_local and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return
    if parts.scheme != "https":
        raise TargetRefusedError("the endpoint URL must be https")
    for address in _addresses(parts.hostname):
        if not address.is_global:
            raise TargetRefusedError("the endpoint URL points to a private or reserved address")


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        raise TargetRefusedError("the endpoint URL's host does not resolve") from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]
