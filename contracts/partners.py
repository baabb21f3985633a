"""Partners that receive public feeds: who they are and the only subjects they may read."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DATA = Path(__file__).with_name("partners.json")
FEED_PREFIX = "feed"


class Partner(BaseModel):
    """An organisation outside the alliance subscribed to its own feed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # One NATS subject token and part of a user name: no dots, no wildcards.
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="Partner id, e.g. city-museum.")
    name_zh: str
    name_en: str
    description: str = ""

    def feed_subjects(self) -> str:
        """The subjects the feeds service publishes for this partner, and all it may read."""
        return f"{FEED_PREFIX}.{self.id}.>"


class PartnerList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = ""
    partners: tuple[Partner, ...]


@cache
def load_partners(path: Path = DATA) -> PartnerList:
    """Load and validate the partner list (cached: it is read-only data)."""
    partners = PartnerList.model_validate(json.loads(path.read_text(encoding="utf-8")))
    ids = [p.id for p in partners.partners]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate partner ids in {ids}")
    return partners
