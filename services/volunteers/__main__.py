"""`python -m services.volunteers [serve|relay]` (see services.kit.runtime)."""

from __future__ import annotations

import sys

from services.volunteers.main import VOLUNTEERS

if __name__ == "__main__":
    VOLUNTEERS.main(sys.argv[1:])
