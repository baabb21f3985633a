"""The service app factory: health, readiness, metrics, problem+json, auth, idempotency.

Every service builds its FastAPI app with `create_app` and adds its routes; the
defaults (errors, limits, security) are then the same everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.application import CommandKey
from services.kit.auth import AuthError, JwksVerifier, Principal, bearer_token
from services.kit.errors import DomainError, ForbiddenError
from services.kit.settings import Settings
from services.kit.telemetry import FASTAPI_TELEMETRY

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
MAX_IDEMPOTENCY_KEY = 200

ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]


def problem(status: int, title: str, detail: str, *, code: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem details response."""
    body = {
        "type": f"https://tongxin.org/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    } | extra
    headers = {"WWW-Authenticate": 'Bearer realm="tongxin"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class BodySizeLimit:
    """Refuses bodies above a limit with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        received = 0
        refused = False

        async def limited() -> Message:
            # Counted as the body streams in: chunked bodies carry no Content-Length.
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, limited, guarded_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "Request body too large",
            f"the body exceeds {self.max_bytes} bytes",
            code="body-too-large",
        )
        await response(scope, receive, send)


def create_app(
    *,
    title: str,
    settings: Settings,
    readiness: ReadinessCheck,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    verifier: JwksVerifier | None = None,
) -> FastAPI:
    """A FastAPI app with the platform's defaults; the service adds its routers."""
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY,  # type: ignore[arg-type]
    )
    app.state.settings = settings
    app.state.verifier = verifier or JwksVerifier(
        settings.jwks_location(), issuer=settings.auth_issuer, audience=settings.auth_audience
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    _install_problem_handlers(app)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        report = await readiness()
        # Checks marked required=False are reported but do not take the service out of
        # rotation: a service keeps taking commands while NATS is away.
        ready = all(
            check.get("ok", False)
            for check in report.values()
            if isinstance(check, dict) and check.get("required", True)
        )
        return JSONResponse({"ready": ready, "checks": report}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem(
            422,
            "Invalid request",
            "the request does not match the schema",
            code="invalid-request",
            errors=errors,
        )

    @app.exception_handler(DomainError)
    async def domain(_: Request, exc: DomainError) -> JSONResponse:
        titles = {404: "Not found", 409: "Conflict", 403: "Forbidden", 422: "Rule violated"}
        return problem(exc.status, titles.get(exc.status, "Refused"), str(exc), code=exc.code)

    @app.exception_handler(AuthError)
    async def unauthenticated(_: Request, exc: AuthError) -> JSONResponse:
        return problem(401, "Unauthenticated", str(exc), code="unauthenticated")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code, str(exc.detail), str(exc.detail), code=f"http-{exc.status_code}"
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(
            500, "Internal error", "the request failed; nothing was changed", code="internal"
        )


def authenticated(request: Request) -> Principal:
    """FastAPI dependency: the verified caller."""
    verifier: JwksVerifier = request.app.state.verifier
    return verifier.verify(bearer_token(request.headers.get("authorization", "")))


Caller = Annotated[Principal, Depends(authenticated)]


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise ForbiddenError(f"role {principal.role!r} may not do this")


async def command_key(request: Request, principal: Caller) -> CommandKey | None:
    """FastAPI dependency: the command's Idempotency-Key, scoped to the caller."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise DomainError(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable characters")
    body = await request.body()
    route = f"{request.method} {request.url.path}"
    return CommandKey.of(principal.subject, key, route, body)


IdempotencyKey = Annotated[CommandKey | None, Depends(command_key)]
