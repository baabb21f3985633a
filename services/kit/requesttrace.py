"""A request's trace ids when no span is recorded, without FastAPI's request span.

FastAPI's own request span (context extraction, the sampler, attributes, status and
exception hooks, wrapped `receive` and `send`) cost about as much as the rest of a
`GET /healthz`. When nothing records spans (`services.kit.telemetry.sampler_for`) the
span shows nobody anything, but its ids still matter: logs carry them, and a command's
events store the traceparent of the request that saved them, so the relay and the
consumers continue the caller's trace. `RequestTraceContext` gives each request exactly
those ids (the caller's trace continued, or a new one; a span id of its own; not
sampled, as the sampler would decide) as the current span, and nothing else.
"""

from __future__ import annotations

from opentelemetry import context, trace
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.tracecontext import parent_context

_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


class RequestTraceContext:
    """Runs each HTTP request in a context whose current span carries the request's ids."""

    def __init__(self, app: ASGIApp, ids: IdGenerator | None = None) -> None:
        self.app = app
        self.ids = ids or RandomIdGenerator()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                parent = parent_context(value.decode("latin-1"))
                break
        caller = trace.get_current_span(parent).get_span_context() if parent else None
        valid = caller is not None and caller.is_valid
        span = NonRecordingSpan(
            SpanContext(
                caller.trace_id if valid and caller else self.ids.generate_trace_id(),
                self.ids.generate_span_id(),
                is_remote=False,
                trace_flags=_NOT_SAMPLED,
                trace_state=caller.trace_state if valid and caller else None,
            )
        )
        token = context.attach(trace.set_span_in_context(span))
        # Left attached when the request fails: the server's error handler, outside every
        # middleware, logs the failure with these ids. The request's task ends after it.
        await self.app(scope, receive, send)
        context.detach(token)
