"""When to try a failed delivery again: Svix's schedule, with jitter, honouring Retry-After."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

from services.feeds.domain import RETRY_WAITS_S

# Waits are spread by up to this share either way, so that endpoints failing together
# do not all come back at the same instant.
JITTER = 0.1


def next_wait(
    attempts_made: int, retry_after_s: float | None = None, rng: random.Random | None = None
) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones; None: give up."""
    if attempts_made < 1 or attempts_made > len(RETRY_WAITS_S):
        return None
    base = RETRY_WAITS_S[attempts_made - 1]
    wait = base * (rng or random).uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - not secrecy
    if retry_after_s is not None:
        # The receiver knows when it can take more: never sooner, never beyond the longest wait.
        wait = max(wait, min(retry_after_s, max(RETRY_WAITS_S)))
    return wait


def retry_after(value: str | None, now: float) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None
