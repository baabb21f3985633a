"""A real browser for the page tests: Debian's chromium driven by Playwright, with every
request a page makes recorded and any leaving the machine refused."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Route, async_playwright

CHROMIUM = Path("/usr/bin/chromium")


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = (parts.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Traffic:
    """Every request a page made, and those refused for leaving the machine."""

    requests: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    async def route(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        if is_loopback(url):
            await route.continue_()
        else:
            self.refused.append(url)
            await route.abort("addressunreachable")


@pytest.fixture
def chromium() -> Path:
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: the browser tests drive Debian's chromium; "
        "run 'make tools' (it installs it) or 'apt-get install chromium'"
    )
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()
