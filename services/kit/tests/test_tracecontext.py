"""Reading and writing traceparents agrees with OpenTelemetry's W3C propagator."""

from __future__ import annotations

import pytest
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from services.kit.tracecontext import parent_context, traceparent_of

VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def remote_span_context(traceparent: str) -> SpanContext:
    context = parent_context(traceparent)
    assert context is not None
    return trace.get_current_span(context).get_span_context()


@pytest.mark.parametrize(
    "traceparent",
    [VALID, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"],
)
def test_a_valid_traceparent_names_the_same_parent_as_the_propagator(traceparent: str) -> None:
    expected = trace.get_current_span(
        propagate.extract({"traceparent": traceparent})
    ).get_span_context()
    assert remote_span_context(traceparent) == expected
    assert remote_span_context(traceparent).is_remote


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero span id
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  # upper case
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01",  # short span id
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # forbidden version
        "not a traceparent",
    ],
)
def test_an_invalid_traceparent_gives_no_valid_parent(traceparent: str) -> None:
    context = parent_context(traceparent)
    if context is not None:
        assert not trace.get_current_span(context).get_span_context().is_valid


def test_no_traceparent_no_parent() -> None:
    assert parent_context(None) is None
    assert parent_context("") is None


def test_traceparent_of_a_span_is_what_the_propagator_writes() -> None:
    span = NonRecordingSpan(
        SpanContext(
            0x0AF7651916CD43DD8448EB211C80319C,
            0xB7AD6B7169203331,
            is_remote=False,
            trace_flags=TraceFlags(1),
        )
    )
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    assert traceparent_of(span) == carrier["traceparent"] == VALID
    assert traceparent_of(NonRecordingSpan(SpanContext(0, 0, is_remote=False))) is None
