"""The volunteers feature's part of the request context, typed."""

from __future__ import annotations

import strawberry

from gateway.context import context_of
from gateway.core.broadcast import Broadcaster
from gateway.core.personal import PersonalField
from gateway.volunteers.loaders import Loaders, create_loaders
from gateway.volunteers.readmodel import VolunteersReadModel

NAME = "volunteers"

NAMES = PersonalField(feature=NAME, path="/volunteers/names", key="names")
"""Volunteers' display names, answered by the volunteers service for up to 100 at once."""


def readmodel(info: strawberry.Info) -> VolunteersReadModel:
    found = context_of(info).feature(NAME).readmodel
    if not isinstance(found, VolunteersReadModel):
        raise TypeError("the volunteers feature runs on a VolunteersReadModel")
    return found


def loaders(info: strawberry.Info) -> Loaders:
    """This request's DataLoaders over the volunteers read model."""
    return context_of(info).per_request(f"{NAME}.loaders", lambda: create_loaders(readmodel(info)))


def broadcaster(info: strawberry.Info) -> Broadcaster:
    return context_of(info).feature(NAME).broadcaster
