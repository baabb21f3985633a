"""Spans are recorded only when something receives them; ids are made and carried anyway."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from services.kit.telemetry import sampler_for

PROBE = """
from opentelemetry import propagate, trace
from services.kit.telemetry import setup_tracing, spans_recorded
setup_tracing("probe")
with trace.get_tracer("probe").start_as_current_span("work") as span:
    carrier = {}
    propagate.inject(carrier)
    context = span.get_span_context()
    print(span.is_recording(), context.is_valid, carrier.get("traceparent", ""), spans_recorded())
"""


def _probe(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=clean | env, capture_output=True, text=True, check=True
    ).stdout.split()
    return out


def test_without_an_exporter_nothing_is_recorded_but_ids_travel() -> None:
    recording, valid, traceparent, per_event_spans = _probe()
    assert (recording, valid, per_event_spans) == ("False", "True", "False")
    assert traceparent.startswith("00-") and len(traceparent.split("-")[1]) == 32
    assert not int(traceparent.rsplit("-", 1)[1], 16) & 1  # not sampled


def test_a_chosen_sampler_is_respected() -> None:
    recording, _, traceparent, per_event_spans = _probe(OTEL_TRACES_SAMPLER="always_on")
    assert per_event_spans == "True"
    assert recording == "True" and int(traceparent.rsplit("-", 1)[1], 16) & 1  # sampled


@pytest.mark.parametrize(
    ("env", "has_processors", "expected"),
    [
        ({}, False, ALWAYS_OFF),
        ({}, True, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False, None),
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}, False, None),
    ],
)
def test_the_sampler_follows_who_listens(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], has_processors: bool, expected: object
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert sampler_for(has_processors) is expected
