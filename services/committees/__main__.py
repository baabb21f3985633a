"""`python -m services.committees [serve|relay]` (see services.kit.runtime)."""

from __future__ import annotations

import sys

from services.committees.main import COMMITTEES

if __name__ == "__main__":
    COMMITTEES.main(sys.argv[1:])
