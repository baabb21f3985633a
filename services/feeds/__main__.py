"""`python -m services.feeds [serve|relay]` (see services.kit.runtime)."""

from __future__ import annotations

import sys

from services.feeds.main import FEEDS

if __name__ == "__main__":
    FEEDS.main(sys.argv[1:])
