"""The committees feature's part of the request context, typed."""

from __future__ import annotations

import strawberry

from gateway.committees.readmodel import CommitteesReadModel
from gateway.context import context_of
from gateway.core.broadcast import Broadcaster
from gateway.core.personal import PersonalField

NAME = "committees"
# Members' names are the committees service's: asked with the caller's token, batched.
NAMES = PersonalField(feature=NAME, path="/members/names", key="names")


def readmodel(info: strawberry.Info) -> CommitteesReadModel:
    found = context_of(info).feature(NAME).readmodel
    if not isinstance(found, CommitteesReadModel):
        raise TypeError("the committees feature runs on a CommitteesReadModel")
    return found


def broadcaster(info: strawberry.Info) -> Broadcaster:
    return context_of(info).feature(NAME).broadcaster
