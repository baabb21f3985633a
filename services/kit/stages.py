"""When events pass each stage on their way from the store to a subscriber.

Off unless `TONGXIN_STAGE_DIR` names a folder. Then every process that records appends
lines `<stage> <key> <unix time>` to `<folder>/<pid>.stages`: the API when it has
committed an event, the relay when it has read a notification and when its batch is
acknowledged, a consumer when a delivery reaches it and when its batch is applied, the
gateway when it pushes a shift. All processes run on one machine, so their wall clocks
compare; the visibility bench joins the lines with the stream's own timestamps to show
where a command's latency goes (`tests/bench/stages.py`). One unbuffered write per batch;
with the folder unset, recording is one test of a module global.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

_folder = os.environ.get("TONGXIN_STAGE_DIR", "")
_file: BinaryIO | None = None


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


def _output() -> BinaryIO:
    global _file
    if _file is None:
        folder = Path(_folder)
        folder.mkdir(parents=True, exist_ok=True)
        # Unbuffered: each batch's lines are one append, whole even if the process is killed.
        _file = (folder / f"{os.getpid()}.stages").open("ab", buffering=0)
    return _file
