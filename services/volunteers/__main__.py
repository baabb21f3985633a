"""`python -m services.volunteers [serve|relay]`."""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from services.kit.settings import Settings
from services.kit.telemetry import setup_logging, setup_tracing
from services.volunteers.main import SERVICE, create_service, run_relay


def main(argv: list[str]) -> None:
    settings = Settings()
    command = argv[0] if argv else "serve"
    setup_logging(SERVICE if command == "serve" else f"{SERVICE}-{command}", settings.log_level)
    setup_tracing(SERVICE)
    if command == "relay":
        asyncio.run(run_relay(settings))
    elif command == "serve":
        uvicorn.run(
            create_service(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            timeout_graceful_shutdown=5,
        )
    else:
        sys.exit(f"unknown command {command!r}: use serve or relay")


if __name__ == "__main__":
    main(sys.argv[1:])
