"""A request's trace ids when nothing records spans: the caller's trace continued, or a new
one, carried to what the request saves, with no span made (`services.kit.requesttrace`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# A process of its own: the tests' session records spans, a service without an exporter
# does not, and the tracer provider is chosen once per process.
PROBE = """
import asyncio, json, tempfile
from pathlib import Path
import httpx
from opentelemetry import propagate, trace
from services.kit.auth import JwksVerifier
from services.kit.http import create_app
from services.kit.settings import Settings
from services.kit.telemetry import setup_tracing

setup_tracing("probe")

async def ready():
    return {}

folder = Path(tempfile.mkdtemp())
app = create_app(title="probe", settings=Settings(state_dir=folder), readiness=ready,
                 verifier=JwksVerifier(str(folder / "jwks.json"), issuer="i", audience="a"))

@app.get("/carried")
def carried() -> dict:
    carrier = {}
    propagate.inject(carrier)  # what a save stores with its events
    span = trace.get_current_span()
    return {"traceparent": carrier.get("traceparent"), "recording": span.is_recording(),
            "middleware": [m.cls.__name__ for m in app.user_middleware]}

async def main():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        answers = [
            (await http.get("/carried", headers=headers)).json()
            for headers in ({"traceparent": CALLER}, {}, {}, {"traceparent": "junk"})
        ]
    print(json.dumps(answers))

asyncio.run(main())
"""
CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _answers() -> list[dict[str, object]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(
        [sys.executable, "-c", f"CALLER = {CALLER!r}\n" + PROBE],
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.splitlines()[-1])


def _parts(traceparent: object) -> list[str]:
    assert isinstance(traceparent, str)
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16
    assert int(trace_id, 16) and int(span_id, 16)
    return [trace_id, span_id, flags]


def test_without_an_exporter_a_request_carries_its_trace_but_records_nothing() -> None:
    continued, fresh, other, junk = _answers()
    assert "RequestTraceContext" in continued["middleware"]  # type: ignore[operator]
    assert not any(answer["recording"] for answer in (continued, fresh, other, junk))
    trace_id, span_id, flags = _parts(continued["traceparent"])
    assert trace_id == CALLER.split("-")[1]  # the caller's trace goes on
    assert span_id != CALLER.split("-")[2]  # under a span id of the request's own
    assert flags == "00"  # not sampled: nothing records it
    ids = [_parts(answer["traceparent"]) for answer in (fresh, other, junk)]
    assert len({trace_id for trace_id, _, _ in ids} | {trace_id}) == 4  # new traces each
