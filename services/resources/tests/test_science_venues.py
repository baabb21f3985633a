"""The Science Association's venues, as its system publishes them: onto the map once, as sci's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.science import ScienceVenuePublished
from services.kit.eventstore import build_application
from services.kit.settings import Settings
from services.resources.application import ResourcesApplication
from services.resources.domain import venue_id_of
from services.resources.tests.test_application import NOW


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ResourcesApplication]:
    application = build_application(ResourcesApplication, Settings(state_dir=tmp_path), "resources")
    yield application
    application.close()


def published(code: str, **changes: Any) -> ScienceVenuePublished:
    fields: dict[str, Any] = {
        "venue_code": code,
        "name": "扬州科技馆 Yangzhou Science and Technology Museum",
        "kind": "science-museum",
        "district": "321003",
        "address": "扬州市邗江区文昌西路",
        "latitude": 32.387,
        "longitude": 119.385,
        "lists": ["practice-base"],
        "capacity": 80,
        "slot_minutes": 120,
        "buffer_minutes": 30,
        "opening_hours": [{"weekday": 6, "opens": "09:00", "closes": "17:00"}],
        "age_min": 6,
        "age_max": 15,
        "min_notice_hours": 24,
        "published_at": NOW,
    }
    return ScienceVenuePublished(**(fields | changes))


def test_published_venues_go_on_the_map_once_as_the_science_associations(
    app: ResourcesApplication,
) -> None:
    app.register_science_venues("sci-venues", 3, [published("stm"), published("stm")])
    app.register_science_venues("sci-venues", 4, [published("stm", name="renamed")])
    venue = app.venue(venue_id_of("sci", "stm"))
    assert (venue.owner, venue.name, venue.buffer_minutes) == ("sci", published("stm").name, 30)
    assert app.consumer_position("sci-venues") == 4
    # Hours too short for one slot: skipped, the position still advances.
    short = [{"weekday": 6, "opens": "09:00", "closes": "10:00"}]
    app.register_science_venues("sci-venues", 5, [published("tiny", opening_hours=short)])
    assert app.consumer_position("sci-venues") == 5
    with pytest.raises(Exception, match="not found"):
        app.venue(venue_id_of("sci", "tiny"))


def test_the_event_refuses_a_venue_outside_the_city() -> None:
    with pytest.raises(ValidationError):
        published("stray", district="110101")
