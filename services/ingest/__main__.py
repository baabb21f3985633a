"""`python -m services.ingest`."""

from __future__ import annotations

import uvicorn

from services.ingest.main import create_service
from services.kit.settings import Settings
from services.kit.telemetry import setup_logging, setup_tracing


def main() -> None:
    settings = Settings()
    setup_logging("ingest", settings.log_level)
    setup_tracing("ingest")
    uvicorn.run(
        create_service(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
