"""`python -m services.care [serve|relay]` (see services.kit.runtime)."""

from __future__ import annotations

import sys

from services.care.main import CARE

if __name__ == "__main__":
    CARE.main(sys.argv[1:])
