"""The service app factory: health, readiness, metrics, problem+json, auth, idempotency.

Every service builds its FastAPI app with `create_app` and adds its routes; the
defaults (errors, limits, security) are then the same everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit import stages
from services.kit.application import CommandKey, RequestDigests
from services.kit.auth import AuthError, JwksVerifier, Principal, bearer_token
from services.kit.errors import DomainError, ForbiddenError
from services.kit.requesttrace import RequestTraceContext
from services.kit.settings import Settings
from services.kit.stages import RequestStages
from services.kit.telemetry import fastapi_telemetry, spans_recorded
from services.kit.webassets import offline_docs_app

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
MAX_IDEMPOTENCY_KEY = 200

ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every refused or failed request."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request; never echoes its values.")
    code: str = Field(description="Machine-readable reason, e.g. invalid-request or forbidden.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For invalid-request: where the request broke the schema."
    )


PROBLEM_DESCRIPTIONS = {
    400: "The request is malformed.",
    401: "No valid bearer token.",
    403: "The caller's role, department or scope does not allow this.",
    404: "The resource named does not exist.",
    409: "The command conflicts with the current state.",
    413: "The request body is too large.",
    422: "The request does not match the schema, or breaks a rule.",
    503: "A dependency is unavailable; nothing was accepted.",
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting problem+json answers with these statuses."""
    return {
        status: {
            "description": PROBLEM_DESCRIPTIONS.get(status, "Refused."),
            "content": {PROBLEM: {"schema": _PROBLEM_REF}},
        }
        for status in statuses
    }


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    code: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 9457 problem details response."""
    body = {
        "type": f"https://tongxin.org/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    } | extra
    if status == 401:
        headers = (headers or {}) | {"WWW-Authenticate": 'Bearer realm="tongxin"'}
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
    request_digests: RequestDigests | None = None,
) -> FastAPI:
    """A FastAPI app with the platform's defaults; the service adds its routers.

    Its /docs and /redoc pages load their files from the app itself (`webassets`).
    An app taking idempotent commands (`IdempotencyKey`) needs `request_digests`, the
    service's keyed request digests (`services.kit.runtime` derives them).
    """
    recorded = spans_recorded()
    app = offline_docs_app(
        title=title,
        lifespan=lifespan,
        telemetry=fastapi_telemetry(recorded),
    )
    app.state.settings = settings
    app.state.request_digests = request_digests
    app.state.verifier = verifier or JwksVerifier(
        settings.jwks_location(), issuer=settings.auth_issuer, audience=settings.auth_audience
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if not recorded:
        app.add_middleware(RequestTraceContext, ids=_id_generator())
    if stages.enabled():
        # Outermost: from the moment the server hands the request over.
        app.add_middleware(RequestStages)
    _install_problem_handlers(app)
    _document_problems(app)

    add_operations_routes(app, readiness)
    return app


def _id_generator() -> IdGenerator | None:
    provider = trace.get_tracer_provider()
    return provider.id_generator if isinstance(provider, TracerProvider) else None


def add_operations_routes(app: FastAPI, readiness: ReadinessCheck) -> None:
    """`/healthz`, `/readyz` and `/metrics`: what probes and Prometheus read."""

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["operations"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready: a required check fails."}},
    )
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


def create_operations_app(*, title: str, readiness: ReadinessCheck) -> FastAPI:
    """Only the operational endpoints, for processes that take no requests (the relay)."""
    app = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)
    add_operations_routes(app, readiness)
    return app


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, Any] = Field(
        description="Each check's report; `required: false` ones inform."
    )


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what the problem handlers answer.

    FastAPI documents its own 422 body (`HTTPValidationError`, application/json), which
    the handlers never send; every operation gets the problem+json answers it can give.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema()
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                statuses = set()
                if operation.get("parameters") or operation.get("requestBody"):
                    statuses.add(422)
                if operation.get("requestBody"):
                    # 400: a body FastAPI cannot even decode (not UTF-8); 413: too large.
                    statuses |= {400, 413}
                if operation.get("security"):
                    statuses |= {401, 403}
                for status, response in problems(*statuses).items():
                    responses[str(status)] = response
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


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
        # Starlette's own headers matter: a 405 names the allowed methods in `Allow`.
        return problem(
            exc.status_code,
            str(exc.detail),
            str(exc.detail),
            code=f"http-{exc.status_code}",
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        # The failure may come after the command's events were committed: only a retry
        # with the same Idempotency-Key can tell (it returns the first answer if so).
        return problem(
            500,
            "Internal error",
            "the request failed unexpectedly; whether it took effect is not known: retry "
            "with the same Idempotency-Key to find out safely",
            code="internal",
        )


class VerifiedBearer(HTTPBearer):
    """The bearer scheme as a dependency that answers the verified caller.

    One dependency both documents the scheme (FastAPI documents a `SecurityBase` it finds
    among an operation's dependencies) and authenticates: a separate documenting
    dependency under `authenticated` cost every request two more levels of FastAPI's
    dependency resolution, and the command's key two more again.
    """

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return await authenticated(request)


_bearer = VerifiedBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A token of the city's identity provider (`tongxin token` in development).",
    scheme_name="HTTPBearer",
)
_PRINCIPAL = "tongxin.principal"


async def authenticated(request: Request) -> Principal:
    """The verified caller of this request (401 if none).

    On the event loop: a plain (sync) dependency costs every request a trip through the
    thread pool. A token verified a moment ago is answered from memory; only a new one is
    checked in a thread (the signature, and the JWKS may have to be fetched). The answer
    is kept in the request's scope, so whoever asks again in the same request (the
    command's key) does not verify again.
    """
    principal: Principal | None = request.scope.get(_PRINCIPAL)
    if principal is not None:
        return principal
    verifier: JwksVerifier = request.app.state.verifier
    token = bearer_token(request.headers.get("authorization", ""))
    principal = verifier.recently_verified(token)
    if principal is None:
        principal = await run_in_threadpool(verifier.verify, token)
    request.scope[_PRINCIPAL] = principal
    return principal


Caller = Annotated[Principal, Security(_bearer)]


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise ForbiddenError(f"role {principal.role!r} may not do this")


async def command_key(request: Request) -> CommandKey | None:
    """FastAPI dependency: the command's Idempotency-Key, scoped to the caller.

    The caller comes from `authenticated` directly, not as a sub-dependency: FastAPI
    resolves a sub-dependency's own tree again even when its value is cached.
    """
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise DomainError(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable characters")
    digests: RequestDigests | None = request.app.state.request_digests
    if digests is None:
        raise RuntimeError("this app was created without request_digests: it takes no commands")
    principal = await authenticated(request)
    body = await request.body()
    route = f"{request.method} {request_path(request.scope)}"
    return CommandKey.of(principal.subject, key, route, body, digests)


def request_path(scope: Scope) -> str:
    """`request.url.path`, without building the whole URL (a third of the key's cost).

    The digests of idempotency records written before must still match a retry, so any
    path that Starlette's URL would rewrite (escapes, a leading `//`, characters URL
    parsing drops) is left to Starlette.
    """
    path: str = scope["path"]
    if path.startswith("//") or any(c in path for c in _REWRITTEN):
        return URL(scope=scope).path
    return path


_REWRITTEN = frozenset("?#\\\t\r\n")


IdempotencyKey = Annotated[CommandKey | None, Depends(command_key)]
