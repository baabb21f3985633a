"""`python -m services.resources [serve|relay]` (see services.kit.runtime)."""

from __future__ import annotations

import sys

from services.resources.main import RESOURCES

if __name__ == "__main__":
    RESOURCES.main(sys.argv[1:])
