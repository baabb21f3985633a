"""The browser files of the platform's own pages, served by the platform, never by a CDN.

A newcomer's first pages must work on a machine cut off from the internet (a city's
government network often is). `/docs` and `/redoc` of every app take Swagger UI and
ReDoc from the fastapi-offline wheel (`offline_docs_app`). GraphiQL at the gateway's
`/graphql` is strawberry's own page with its CDN addresses turned into addresses on
this server (`OfflineGraphiQLRouter`); the files come from npm, pinned in package.json
and package-lock.json at the versions strawberry's page names, and `scripts/bootstrap.sh`
installs them into node_modules/ with `npm ci`.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema import BaseSchema

# A source checkout keeps them beside the code; an installed package (the image) is told
# where they are.
NODE_MODULES = Path(
    os.environ.get("TONGXIN_WEB_ASSETS_DIR") or Path(__file__).resolve().parents[2] / "node_modules"
)
DOCS_ASSETS = "/static-offline-docs"
IDE_ASSETS = "ide-assets"
INSTALL_HINT = "run `make bootstrap` (it installs them with `npm ci`; it needs Node.js and npm)"

_CDN_FILE = re.compile(
    r"https://unpkg\.com/(?P<package>(?:@[a-z0-9._-]+/)?[a-z0-9._-]+)@(?P<version>[^/\"]+)"
    r"/(?P<file>[^\"?#\s]+)"
)
_REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']\s*(?:https?:)?//""", re.IGNORECASE)
_BASE = "{{TONGXIN_IDE_ASSETS}}"


# What the pages may load: only this server's files (and their own inline code and data:
# images). ReDoc, for one, shows a logo from cdn.redoc.ly; the browser now never asks.
SAME_ORIGIN_ONLY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    )
)


def offline_docs_app(
    *, docs_url: str | None = "/docs", redoc_url: str | None = "/redoc", **kwargs: Any
) -> FastAPI:
    """A FastAPI app whose /docs and /redoc load Swagger UI and ReDoc from this server."""
    app = FastAPIOffline(docs_url, redoc_url, static_url=DOCS_ASSETS, **kwargs)
    pages = frozenset(url for url in (docs_url, redoc_url) if url)
    app.add_middleware(SameOriginOnly, paths=pages)
    return app


class SameOriginOnly:
    """Tells the browser that these pages may load nothing from another host."""

    def __init__(self, app: ASGIApp, paths: frozenset[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return

        async def confined(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = SAME_ORIGIN_ONLY
            await send(message)

        await self.app(scope, receive, confined)


class WebAssetsMissingError(RuntimeError):
    """The files a page needs are not installed, or not the versions it names."""


@dataclass(frozen=True)
class OfflinePage:
    """A page whose every script and style sheet is a file of this server."""

    template: str
    files: dict[str, Path]

    def render(self, assets_url: str) -> str:
        return self.template.replace(_BASE, assets_url)


@cache
def graphiql_page(node_modules: Path = NODE_MODULES) -> OfflinePage:
    """strawberry's GraphiQL page, loading the installed npm files instead of unpkg.com's.

    Each file must come from the very version the page names, so the page's own
    subresource-integrity hashes still hold; anything still remote is refused.
    """
    files: dict[str, Path] = {}

    def local(match: re.Match[str]) -> str:
        package, version, name = match.group("package", "version", "file")
        installed = _installed_version(node_modules / package)
        if installed is None:
            raise WebAssetsMissingError(
                f"GraphiQL's files are not installed ({package} is missing from "
                f"{node_modules}): {INSTALL_HINT}"
            )
        if installed != version:
            raise WebAssetsMissingError(
                f"strawberry's GraphiQL page loads {package}@{version}, but {installed} is "
                f"installed: pin {version} in package.json, run `npm install --ignore-scripts` "
                "and commit package-lock.json"
            )
        path = node_modules / package / name
        if not path.is_file():
            raise WebAssetsMissingError(f"{package}@{version} has no file {name}")
        files[f"{package}/{name}"] = path
        return f"{_BASE}/{package}/{name}"

    template = _CDN_FILE.sub(local, get_graphql_ide_html("graphiql"))
    if _REMOTE.search(template):
        raise WebAssetsMissingError(
            "strawberry's GraphiQL page loads a file from a host other than unpkg.com; "
            "services/kit/webassets.py does not know where to find it"
        )
    return OfflinePage(template, files)


def _installed_version(package_dir: Path) -> str | None:
    try:
        manifest = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = manifest.get("version")
    return version if isinstance(version, str) else None


Context = TypeVar("Context")
RootValue = TypeVar("RootValue")


class OfflineGraphiQLRouter(GraphQLRouter[Context, RootValue]):
    """strawberry's GraphQL router whose GraphiQL page loads its files from this server.

    The files are served beside the endpoint, at `<path>/ide-assets/...`, only while the
    IDE is on; a missing install shows a page saying what to do, not a blank one.
    """

    def __init__(self, schema: BaseSchema, path: str = "", **options: Any) -> None:
        super().__init__(schema, path, **options)
        if self.graphql_ide not in (None, "graphiql"):
            raise ValueError(f"only GraphiQL is served offline, not {self.graphql_ide}")
        if self.graphql_ide:
            self.add_api_route(
                f"{path}/{IDE_ASSETS}/{{name:path}}",
                self._asset,
                methods=["GET"],
                include_in_schema=False,
            )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        try:
            page = graphiql_page()
        except WebAssetsMissingError as exc:
            return HTMLResponse(_unavailable(str(exc)), status_code=503)
        # Relative to the page, so a proxy serving the gateway under a prefix needs no setting.
        here = request.url.path
        assets = IDE_ASSETS if here.endswith("/") else f"{here.rsplit('/', 1)[-1]}/{IDE_ASSETS}"
        return HTMLResponse(
            page.render(assets), headers={"Content-Security-Policy": SAME_ORIGIN_ONLY}
        )

    async def _asset(self, name: str) -> FileResponse:
        try:
            path = graphiql_page().files.get(name)
        except WebAssetsMissingError as exc:
            raise HTTPException(503, str(exc)) from None
        if path is None:
            raise HTTPException(404, "no such GraphiQL file")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


def _unavailable(reason: str) -> str:
    return (
        "<!doctype html><meta charset='utf-8'><title>GraphiQL unavailable</title>"
        f"<h1>GraphiQL cannot start</h1><p>{html.escape(reason)}</p>"
        "<p>GraphQL itself works: POST queries to this address.</p>"
    )
