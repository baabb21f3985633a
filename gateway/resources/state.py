"""The resources feature's part of the request context, typed."""

from __future__ import annotations

import strawberry

from gateway.context import context_of
from gateway.core.broadcast import Broadcaster
from gateway.resources.readmodel import ResourcesReadModel

NAME = "resources"


def readmodel(info: strawberry.Info) -> ResourcesReadModel:
    found = context_of(info).feature(NAME).readmodel
    if not isinstance(found, ResourcesReadModel):
        raise TypeError("the resources feature runs on a ResourcesReadModel")
    return found


def broadcaster(info: strawberry.Info) -> Broadcaster:
    return context_of(info).feature(NAME).broadcaster
