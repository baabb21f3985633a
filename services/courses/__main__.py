"""`python -m services.courses [serve|relay]` (see services.kit.runtime)."""

from __future__ import annotations

import sys

from services.courses.main import COURSES

if __name__ == "__main__":
    COURSES.main(sys.argv[1:])
