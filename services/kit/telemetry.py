"""OpenTelemetry traces (OTLP export when configured) and JSON logs carrying trace ids."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler


def fastapi_telemetry(recorded: bool) -> dict[str, Any]:
    """What FastAPI's native telemetry should and should not do: we own the providers.

    `recorded`: whether spans are recorded (`spans_recorded`, after `setup_tracing`).
    If not, FastAPI makes no span at all: its request span and its operation spans
    (dependencies, endpoint, serialisation) were a fifth of a command's CPU and showed
    nobody anything; `services.kit.requesttrace` gives the request its trace ids instead.
    """
    return {
        "auto_configure": False,
        "metrics": False,
        "logs": False,
        "tracing": recorded,
        "operation_spans": recorded,
    }


def setup_tracing(service: str, *extra: SpanProcessor) -> TracerProvider:
    """Install the global tracer provider once per process; later calls reuse it."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        for processor in extra:
            current.add_span_processor(processor)
        return current
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), sampler=sampler_for(bool(extra))
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    for processor in extra:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def sampler_for(has_processors: bool) -> Sampler | None:
    """Record spans only when something receives them.

    A span per event is the largest cost of the relay and the projector; without an
    exporter nobody sees those spans, so none is recorded. Trace and span ids are still made
    and carried (logs and traceparent headers keep them). OTEL_TRACES_SAMPLER, when set,
    decides instead (None: the SDK reads it, default parentbased_always_on).
    """
    if has_processors or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        return None
    return ALWAYS_OFF


def spans_recorded() -> bool:
    """Whether a span started now could be recorded; the per-event paths skip theirs if not."""
    provider = trace.get_tracer_provider()
    return isinstance(provider, TracerProvider) and provider.sampler is not ALWAYS_OFF


def _add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def setup_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stderr, through the standard logging module, with trace ids."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        lambda _, __, ev: ev | {"service": service},
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
