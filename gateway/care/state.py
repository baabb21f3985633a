"""The care feature's part of the request context, typed."""

from __future__ import annotations

import strawberry

from gateway.care.readmodel import CareReadModel
from gateway.context import context_of
from gateway.core.broadcast import Broadcaster

NAME = "care"


def readmodel(info: strawberry.Info) -> CareReadModel:
    found = context_of(info).feature(NAME).readmodel
    if not isinstance(found, CareReadModel):
        raise TypeError("the care feature runs on a CareReadModel")
    return found


def broadcaster(info: strawberry.Info) -> Broadcaster:
    return context_of(info).feature(NAME).broadcaster
