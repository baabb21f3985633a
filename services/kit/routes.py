"""Command routes declared once: the route, the action it needs, and what it runs.

Most command routes of a service have one shape: authenticate, resolve the idempotency
key, load what the path names and authorise the caller's action on it, run the
application's command, answer (errors become problem+json through the kit's handlers).
`CommandRoutes` holds the service's way to authorise (its `authorise` hook, given the
application, the caller, the action and the path's values) and registers each handler
with the rest, so a route reads as what it does:

    commands = CommandRoutes(router, application, authorise=on_file)

    @commands.post("/files/{file_id}/reviews", action="review")
    def review(app: CareApplication, key: CommandKey | None, file_id: UUID, body: Review) -> Any:
        return app.review(key, file_id, category=body.category, ...)

A handler names what it needs among `app`, `key` and `caller`; its other parameters are
the path's values and the body, as FastAPI reads them. The hook runs before the handler,
after FastAPI has parsed the request, exactly where a hand-written route would call it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, get_type_hints

from fastapi import APIRouter, Depends, Request

from services.kit.auth import Principal
from services.kit.http import Caller, IdempotencyKey

A = TypeVar("A")
Handler = TypeVar("Handler", bound=Callable[..., Any])
Authorise = Callable[[A, Principal, str, Mapping[str, Any]], object]
"""(application, caller, action, path values): raises to refuse (ForbiddenError...)."""

_PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?}")
PROVIDED = ("app", "key", "caller")


@dataclass(frozen=True)
class CommandRoutes(Generic[A]):
    """Registers a service's command routes on `router` (see the module's docstring)."""

    router: APIRouter
    # A coroutine: a plain function as a dependency costs a trip through the thread pool.
    application: Callable[[Request], Awaitable[A]]
    authorise: Authorise[A]

    def post(
        self,
        path: str,
        *,
        action: str,
        status_code: int = 200,
        responses: Mapping[int | str, dict[str, Any]] | None = None,
    ) -> Callable[[Handler], Handler]:
        return self.route("POST", path, action=action, status_code=status_code, responses=responses)

    def put(
        self,
        path: str,
        *,
        action: str,
        status_code: int = 200,
        responses: Mapping[int | str, dict[str, Any]] | None = None,
    ) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, action=action, status_code=status_code, responses=responses)

    def route(
        self,
        method: str,
        path: str,
        *,
        action: str,
        status_code: int = 200,
        responses: Mapping[int | str, dict[str, Any]] | None = None,
    ) -> Callable[[Handler], Handler]:
        path_names = tuple(_PATH_PARAM.findall(path))

        def register(handler: Handler) -> Handler:
            wanted = inspect.signature(handler).parameters
            missing = [name for name in path_names if name not in wanted]
            if missing:
                raise TypeError(f"{handler.__name__} takes no {missing} of {path}")
            endpoint = self._endpoint(handler, action, path_names)
            self.router.add_api_route(
                path,
                endpoint,
                methods=[method],
                status_code=status_code,
                responses=dict(responses or {}),
                name=handler.__name__,
            )
            return handler

        return register

    def _endpoint(
        self, handler: Callable[..., Any], action: str, path_names: tuple[str, ...]
    ) -> Callable[..., Any]:
        hints = get_type_hints(handler, include_extras=True)
        wanted = inspect.signature(handler).parameters
        provided: dict[str, Any] = {
            "app": Annotated[Any, Depends(self.application)],
            "key": IdempotencyKey,
            "caller": Caller,
        }
        # The caller and the application are always needed, to authorise.
        parameters = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind)
            for name, kind in provided.items()
            if name != "key" or "key" in wanted
        ] + [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[name])
            for name in wanted
            if name not in PROVIDED
        ]

        def endpoint(**values: Any) -> Any:
            app, caller = values["app"], values["caller"]
            self.authorise(app, caller, action, {name: values[name] for name in path_names})
            return handler(**{name: values[name] for name in wanted})

        # FastAPI reads the request's parts from this signature, not the handler's; the
        # name and docstring make the operation's id and description, as the handler's.
        endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            parameters, return_annotation=hints.get("return", inspect.Signature.empty)
        )
        endpoint.__name__ = handler.__name__
        endpoint.__qualname__ = handler.__qualname__
        endpoint.__doc__ = handler.__doc__
        return endpoint
