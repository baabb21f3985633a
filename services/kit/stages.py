"""When events pass each stage on their way from the store to a subscriber.

Off unless `TONGXIN_STAGE_DIR` names a folder. Then every process that records appends
lines `<stage> <key> <unix time>` to `<folder>/<pid>.stages`: the API when it has
committed an event, the relay when it has read a notification and when its batch is
acknowledged, a consumer when a delivery reaches it and when its batch is applied, the
gateway when it pushes a shift. All processes run on one machine, so their wall clocks
compare; the visibility bench joins the lines with the stream's own timestamps to show
where a command's latency goes (`tests/bench/stages.py`). One unbuffered write per batch;
with the folder unset, recording is one test of a module global.

Inside an API the request's own stages are keyed by its trace id (the caller's, from its
`traceparent`): when the server handed it to the app, when its handler ran, when its save
was queued and returned, when the answer was sent. Probes show what holds a whole
process up rather than one request (`watch_pauses`): every garbage collection of the
oldest generation, every time the event loop ran a timer late, and where the loop's
thread was when it stalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_folder = os.environ.get("TONGXIN_STAGE_DIR", "")
_file: BinaryIO | None = None

# The loop probe's timer, and how late it must run to be noted: a few milliseconds late is
# ordinary scheduling; what is noted is what would show in a command's latency.
LOOP_PROBE_S = 0.005
LOOP_LATE_S = 0.010
# The loop's watcher: how often it looks, how overdue a beat is a stall, how deep it tells.
LOOP_WATCH_S = 0.02
LOOP_STUCK_S = 0.1
LOOP_STUCK_FRAMES = 4
# Collections of the younger generations take microseconds; only longer ones are noted.
GC_NOTED_S = 0.002


def enabled() -> bool:
    return bool(_folder)


def record(stage: str, keys: Iterable[object]) -> None:
    """Note that each of `keys` passed `stage` now (a no-op unless enabled)."""
    if not _folder:
        return
    now = f" {time.time():.6f}\n"
    lines = "".join(f"{stage} {key}{now}" for key in keys)
    if lines:
        _output().write(lines.encode())


def record_request(stage: str) -> None:
    """Note that the current request (its trace id) passed `stage` (a no-op unless enabled)."""
    if not _folder:
        return
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        record(stage, (f"{context.trace_id:032x}",))


def _output() -> BinaryIO:
    global _file
    if _file is None:
        folder = Path(_folder)
        folder.mkdir(parents=True, exist_ok=True)
        # Unbuffered: each batch's lines are one append, whole even if the process is killed.
        _file = (folder / f"{os.getpid()}.stages").open("ab", buffering=0)
    return _file


class RequestStages:
    """Notes when the server handed each request to the app (`request`) and when its answer
    started (`response`), keyed by the caller's trace id. Installed only when enabled."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        trace_id = _caller_trace_id(scope) if scope["type"] == "http" else None
        if trace_id is None:
            await self.app(scope, receive, send)
            return
        record("request", (trace_id,))

        async def noted(message: Message) -> None:
            if message["type"] == "http.response.start":
                record("response", (trace_id,))
            await send(message)

        await self.app(scope, receive, noted)


def _caller_trace_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"traceparent":
            parts = value.decode("latin-1").split("-")
            return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
    return None


def watch_pauses() -> contextlib.AbstractAsyncContextManager[None]:
    """While entered (on the process's event loop): note each oldest-generation garbage
    collection (`gc2`, key `<ms>:<cpu ms>:<objects collected>:<objects left>:<frozen>`), each
    younger one longer than `GC_NOTED_S` (`gc0`, `gc1`, the first three figures), and each
    time the loop ran a timer `LOOP_LATE_S` or more late (`loop-late`, key `<ms late>`, noted
    when it ran). A no-op unless enabled."""
    return _watching() if _folder else contextlib.nullcontext()


@contextlib.asynccontextmanager
async def _watching() -> Any:
    collections = _Collections()
    gc.callbacks.append(collections)
    beats = _Heartbeat()
    probe = asyncio.create_task(_loop_probe(beats), name="stages-loop-probe")
    watcher = threading.Thread(target=beats.watch, name="stages-loop-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        beats.stopped.set()
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
        gc.callbacks.remove(collections)
        await asyncio.to_thread(watcher.join)


class _Heartbeat:
    """The loop probe beats on the loop; a thread of its own notes, once per stall, where
    the loop's thread is when a beat is `LOOP_STUCK_S` overdue (`loop-stuck`, key the
    innermost frames `file:line:function` joined by `<`): whether the loop runs something
    that blocks it, or waits to run at all (in its selector: for the GIL or a core)."""

    def __init__(self) -> None:
        self.loop_thread = threading.get_ident()
        self.beat = time.monotonic()
        self.stopped = threading.Event()

    def watch(self) -> None:
        noted_for = 0.0
        while not self.stopped.wait(LOOP_WATCH_S):
            beat = self.beat
            if time.monotonic() - beat < LOOP_STUCK_S or beat == noted_for:
                continue
            noted_for = beat
            frame = sys._current_frames().get(self.loop_thread)
            where: list[str] = []
            while frame is not None and len(where) < LOOP_STUCK_FRAMES:
                code = frame.f_code
                where.append(f"{Path(code.co_filename).name}:{frame.f_lineno}:{code.co_name}")
                frame = frame.f_back
            record("loop-stuck", ("<".join(where) or "-",))


class _Collections:
    """A `gc.callbacks` entry timing each collection, wall and the collecting thread's CPU."""

    def __init__(self) -> None:
        self._started = 0.0
        self._cpu = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._cpu = time.thread_time()
            return
        took = time.perf_counter() - self._started
        generation = info["generation"]
        if generation == 2 or took >= GC_NOTED_S:
            cpu = time.thread_time() - self._cpu
            figures = f"{took * 1000:.3f}:{cpu * 1000:.3f}:{info['collected']}"
            if generation == 2:
                # What it went through (after: the survivors) and what it could skip.
                figures += f":{len(gc.get_objects(2))}:{gc.get_freeze_count()}"
            record(f"gc{generation}", (figures,))


async def _loop_probe(beats: _Heartbeat) -> None:
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(LOOP_PROBE_S)
        beats.beat = time.monotonic()
        late = loop.time() - before - LOOP_PROBE_S
        if late >= LOOP_LATE_S:
            record("loop-late", (f"{late * 1000:.3f}",))
