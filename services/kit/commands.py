"""What every service's API shares: command and answer bases, the school id, version checks."""

from __future__ import annotations

from typing import Annotated

from eventsourcing.domain import Aggregate
from pydantic import BaseModel, ConfigDict, Field

from services.kit.errors import StaleVersionError

SchoolId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


class Command(BaseModel):
    """A command's request body: unknown fields are refused, text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Answer(BaseModel):
    """A command's or query's response body, checked on the way out."""

    model_config = ConfigDict(extra="forbid")


def check_version(aggregate: Aggregate, expected: int | None) -> None:
    """A client that states the version it saw acts only on that version (409 if stale)."""
    if expected is not None and aggregate.version != expected:
        raise StaleVersionError(
            f"expected version {expected}, but the current version is {aggregate.version}"
        )
