"""The first pages a newcomer opens render in a real browser with no request leaving the
machine: GraphiQL at the gateway's /graphql, Swagger UI at every app's /docs, and ReDoc.

Debian's chromium (scripts/tools.sh installs it) driven by Playwright; every request the
pages make is recorded, and any that is not for this machine is refused and fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page

from gateway.main import create_gateway
from services.ingest.main import create_service as create_ingest
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.volunteers.main import create_service as create_volunteers
from tests.e2e.conftest import journey_settings
from tests.support.apps import served
from tests.support.browser import Traffic, is_loopback

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def settings(sqlite_settings: Settings, nats_url: str, dev_issuer: DevIssuer) -> Settings:
    return journey_settings(sqlite_settings, nats_url, dev_issuer)


@pytest.fixture
def urls(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    apps: dict[str, FastAPI] = {
        "volunteers": create_volunteers(settings),
        "ingest": create_ingest(settings),
        "gateway": create_gateway(
            settings, readmodel_dir=tmp_path / "readmodels", start_projector=False
        ),
    }
    with (
        served(apps["volunteers"]) as volunteers,
        served(apps["ingest"]) as ingest,
        served(apps["gateway"]) as gateway,
    ):
        yield {"volunteers": volunteers, "ingest": ingest, "gateway": gateway}


async def visit(browser: Browser, url: str) -> tuple[Page, Traffic]:
    traffic = Traffic()
    context = await browser.new_context()
    await context.route("**/*", traffic.route)
    page = await context.new_page()
    response = await page.goto(url, wait_until="networkidle")
    assert response is not None
    assert response.ok, f"{url}: {response.status} {await page.content()}"
    return page, traffic


def assert_stayed_on_the_machine(traffic: Traffic) -> None:
    assert traffic.requests, "the page made no requests at all"
    assert not traffic.refused, f"requests leaving the machine: {traffic.refused}"


async def test_graphiql_renders_its_editor_from_the_gateway_alone(
    browser: Browser, urls: dict[str, str]
) -> None:
    page, traffic = await visit(browser, f"{urls['gateway']}/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await editor.first.wait_for(state="visible", timeout=30_000)
    assert await page.locator("#graphiql").inner_text() != "Loading..."
    assert_stayed_on_the_machine(traffic)
    assert any("/graphql/ide-assets/graphiql/" in url for url in traffic.requests)


@pytest.mark.parametrize("app", ["volunteers", "ingest", "gateway"])
async def test_swagger_ui_lists_the_operations_from_the_app_alone(
    browser: Browser, urls: dict[str, str], app: str
) -> None:
    page, traffic = await visit(browser, f"{urls[app]}/docs")
    operations = page.locator(".opblock-summary-path")
    await operations.first.wait_for(state="visible", timeout=30_000)
    paths = await operations.all_inner_texts()
    assert any(path.strip().startswith("/healthz") for path in paths), paths
    assert_stayed_on_the_machine(traffic)


async def test_redoc_renders_from_the_app_alone(browser: Browser, urls: dict[str, str]) -> None:
    page, traffic = await visit(browser, f"{urls['volunteers']}/redoc")
    operation = page.locator("[data-section-id^='operation/']")
    await operation.first.wait_for(state="attached", timeout=30_000)
    assert_stayed_on_the_machine(traffic)


def test_a_request_off_the_machine_counts_as_one() -> None:
    assert not is_loopback("https://unpkg.com/graphiql@3.8.3/graphiql.min.js")
    assert not is_loopback("https://fonts.googleapis.com/css?family=Montserrat")
    assert not is_loopback("http://10.0.0.8/x.js")
    assert is_loopback("http://127.0.0.1:8000/graphql")
    assert is_loopback("http://[::1]:8000/docs")
    assert is_loopback("data:image/svg+xml,<svg/>")
