"""The W3C `traceparent` an event carries, read and written without the global propagator.

The relay and the consumers do this once per event: the generic propagator
(regular expressions, carrier getters, context copies) cost a large share of
their per-event time. Anything but a well-formed version-00 value goes through
the propagator, so odd or future formats are treated exactly as before.
"""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, TraceFlags

_HEX = frozenset("0123456789abcdef")


def parent_context(traceparent: str | None) -> Context | None:
    """The remote parent named by a traceparent, as a context to start a span in."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    if (
        len(parts) != 4
        or parts[0] != "00"
        or len(parts[1]) != 32
        or len(parts[2]) != 16
        or len(parts[3]) != 2
        or not _HEX.issuperset(parts[1] + parts[2] + parts[3])
    ):
        return propagate.extract({"traceparent": traceparent})
    trace_id, span_id = int(parts[1], 16), int(parts[2], 16)
    if not trace_id or not span_id:
        return None
    remote = SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(parts[3], 16))
    )
    return trace.set_span_in_context(NonRecordingSpan(remote))


def traceparent_of(span: Span) -> str | None:
    """The traceparent that continues a trace from this span (as `propagate.inject` writes it)."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
