"""DataLoaders over the courses read model, built per request (uncached, as volunteers')."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from gateway.courses.readmodel import CourseRow, CoursesReadModel, TenHaveRow, TrainingQuotaRow

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
    course: DataLoader[str, CourseRow | None]
    ten_haves: DataLoader[str, list[TenHaveRow]]
    training_quotas: DataLoader[str, list[TrainingQuotaRow]]


def create_loaders(readmodel: CoursesReadModel) -> Loaders:
    return Loaders(
        course=DataLoader(_batched(readmodel.courses_by_id, lambda: None), cache=False),
        ten_haves=DataLoader(_batched(readmodel.ten_haves, list), cache=False),
        training_quotas=DataLoader(_batched(readmodel.training_quotas, list), cache=False),
    )
