"""The courses feature's part of the request context, typed."""

from __future__ import annotations

import strawberry

from gateway.context import context_of
from gateway.core.broadcast import Broadcaster
from gateway.core.personal import PersonalField
from gateway.courses.loaders import Loaders, create_loaders
from gateway.courses.readmodel import CoursesReadModel

NAME = "courses"

NAMES = PersonalField(feature=NAME, path="/parents/names", key="names")
"""Parents' names, answered by the courses service for up to 100 at once, by its rules."""


def readmodel(info: strawberry.Info) -> CoursesReadModel:
    found = context_of(info).feature(NAME).readmodel
    if not isinstance(found, CoursesReadModel):
        raise TypeError("the courses feature runs on a CoursesReadModel")
    return found


def loaders(info: strawberry.Info) -> Loaders:
    """This request's DataLoaders over the courses read model."""
    return context_of(info).per_request(f"{NAME}.loaders", lambda: create_loaders(readmodel(info)))


def broadcaster(info: strawberry.Info) -> Broadcaster:
    return context_of(info).feature(NAME).broadcaster
