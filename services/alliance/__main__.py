"""`python -m services.alliance [serve|relay]` (see services.kit.runtime)."""

from __future__ import annotations

import sys

from services.alliance.main import ALLIANCE

if __name__ == "__main__":
    ALLIANCE.main(sys.argv[1:])
