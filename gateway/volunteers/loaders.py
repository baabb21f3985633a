"""DataLoaders over the read model, built per request (per connection for websockets).

They batch look-ups by id so that nested fields cost one query per level, not
one per item. Caching is off: a websocket connection lives long, and a
subscription must see the state of now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from gateway.volunteers.readmodel import ShiftRow, SignUpRow, VolunteerRow, VolunteersReadModel

V = TypeVar("V")


def _batched(
    lookup: Callable[[Sequence[str]], dict[str, V]], default: Callable[[], Any]
) -> Callable[[list[str]], Awaitable[list[Any]]]:
    async def load(keys: list[str]) -> list[Any]:
        found = await asyncio.to_thread(lookup, list(dict.fromkeys(keys)))
        return [found.get(key, default()) for key in keys]

    return load


@dataclass(frozen=True)
class Loaders:
    volunteer: DataLoader[str, VolunteerRow | None]
    shift: DataLoader[str, ShiftRow | None]
    sign_ups_by_shift: DataLoader[str, list[SignUpRow]]
    sign_ups_by_volunteer: DataLoader[str, list[SignUpRow]]


def create_loaders(readmodel: VolunteersReadModel) -> Loaders:
    return Loaders(
        volunteer=DataLoader(_batched(readmodel.volunteers_by_id, lambda: None), cache=False),
        shift=DataLoader(_batched(readmodel.shifts_by_id, lambda: None), cache=False),
        sign_ups_by_shift=DataLoader(_batched(readmodel.sign_ups_for_shifts, list), cache=False),
        sign_ups_by_volunteer=DataLoader(
            _batched(readmodel.sign_ups_for_volunteers, list), cache=False
        ),
    )
