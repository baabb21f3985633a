"""`python -m services.ingest [serve]` (see services.kit.runtime)."""

from __future__ import annotations

import sys

from services.ingest.main import create_service
from services.kit.runtime import run_process, serve_http

if __name__ == "__main__":
    run_process(
        "ingest",
        {"serve": lambda settings: serve_http(create_service(settings), settings)},
        sys.argv[1:],
    )
