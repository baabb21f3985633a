"""Personal fields resolved from the service that owns them, batched per request.

The gateway's read models hold ids and facts only: a person's name (or any other
personal field) stays in the service that owns it, which decides who may read it and
records every read. A feature declares where a field is answered (`PersonalField`: the
feature whose service answers, the path, the key of the answer); resolvers ask for one
id at a time and one DataLoader per request and field gathers them, so a page of 50
volunteers costs one HTTP call, not 50 (chunks of `max_ids` above that, sent together).

The call goes with the caller's own bearer token: the owning service authorises each
id and logs the read under the caller's name, not the gateway's. Its answer sorts the
ids (the wire shape every owning service implements):

    {"<key>": {"<id>": value}, "erased": [ids], "denied": [ids], "unknown": [ids]}

An erased or denied id reads as null (`Erased`/`Denied` tell them apart for the feature
that wants to say so); a service that cannot answer makes each field that needed it a
`SERVICE_UNAVAILABLE` error of its own, and the rest of the query still answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from gateway.context import context_of
from gateway.core.service import Accepted, ServiceClient
from gateway.errors import SERVICE_UNAVAILABLE, coded

log = logging.getLogger(__name__)

MAX_IDS = 100
"""The most ids an owning service takes in one call."""


class Withheld(Enum):
    """Why a personal field reads as null."""

    ERASED = "erased"
    """The person's data was erased for good (crypto-shredded in the owning service)."""
    DENIED = "denied"
    """The caller may not read it; the owning service logged the refusal."""
    UNKNOWN = "unknown"
    """The owning service knows no such person (yet: its read model may be ahead)."""


Erased = Withheld.ERASED
Denied = Withheld.DENIED
Unknown = Withheld.UNKNOWN


@dataclass(frozen=True)
class Unavailable:
    """The owning service could not answer for this id (down, or an answer it could not
    read): the field is an error, not a null, so a client can tell "no" from "not now"."""

    service: str
    reason: str


Resolved = Any | Withheld | Unavailable
"""A value as the owning service gave it, or why there is none."""


@dataclass(frozen=True)
class PersonalField:
    """Where one personal field is answered for many people at once."""

    feature: str
    """The feature whose service owns the field (its `ServiceClient`)."""
    path: str
    """The service's batch lookup, e.g. `/volunteers/names`."""
    key: str
    """The answer's object of values by id, e.g. `names`."""
    max_ids: int = MAX_IDS

    @property
    def loader_key(self) -> str:
        return f"personal:{self.feature}:{self.path}"


async def lookup(
    client: ServiceClient, field: PersonalField, ids: Sequence[str], token: str
) -> dict[str, Resolved]:
    """Every id's value, in as few calls as the service's limit allows (sent together)."""
    unique = list(dict.fromkeys(ids))
    chunks = [unique[at : at + field.max_ids] for at in range(0, len(unique), field.max_ids)]
    answers = await asyncio.gather(*(_lookup_chunk(client, field, c, token) for c in chunks))
    found: dict[str, Resolved] = {}
    for answer in answers:
        found.update(answer)
    return found


async def _lookup_chunk(
    client: ServiceClient, field: PersonalField, ids: list[str], token: str
) -> dict[str, Resolved]:
    answer = await client.post(field.path, {"ids": ids}, token=token)
    if not isinstance(answer, Accepted):
        log.warning(
            "%s could not answer %s for %d ids: %s %s",
            client.service,
            field.path,
            len(ids),
            answer.status,
            answer.code,
        )
        reason = f"the {client.service} service could not answer ({answer.code})"
        if answer.status in (401, 403):
            # The service refuses the caller as a whole: as for a single denied id, the
            # caller learns nothing, and nothing is wrong with the rest of the query.
            return dict.fromkeys(ids, Denied)
        return dict.fromkeys(ids, Unavailable(client.service, reason))
    try:
        return _sorted_answer(field, ids, answer.body)
    except (TypeError, ValueError, AttributeError) as exc:
        log.warning("%s answered %s oddly: %s", client.service, field.path, exc)
        odd = Unavailable(client.service, f"the {client.service} service answered oddly")
        return dict.fromkeys(ids, odd)


def _sorted_answer(field: PersonalField, ids: list[str], body: dict[str, Any]) -> dict[str, Any]:
    values = body.get(field.key) or {}
    if not isinstance(values, dict):
        raise TypeError(f"{field.key!r} is not an object")
    out: dict[str, Resolved] = {}
    for withheld in Withheld:
        listed = body.get(withheld.value) or []
        if not isinstance(listed, list):
            raise TypeError(f"{withheld.value!r} is not a list")
        out.update(dict.fromkeys((str(i) for i in listed), withheld))
    out.update({str(k): v for k, v in values.items()})
    # An id the service left out of every list is treated as one it does not know.
    return {i: out.get(i, Unknown) for i in ids}


def loader(info: strawberry.Info, field: PersonalField) -> DataLoader[str, Resolved]:
    """This request's loader of `field` (per connection for websockets), as the caller.

    Not cached: a subscription lives long and must see names (and erasures) of now;
    repeated ids within one batch are asked once.
    """
    context = context_of(info)

    def create() -> DataLoader[str, Resolved]:
        client = context.service(field.feature)
        token = context.principal.token

        async def load(ids: list[str]) -> list[Resolved]:
            found = await lookup(client, field, ids, token)
            return [found[i] for i in ids]

        return DataLoader(load, cache=False)

    return context.per_request(field.loader_key, create)


async def resolve(info: strawberry.Info, field: PersonalField, person_id: str) -> Resolved:
    """The value of `field` for one person, gathered with every other asked for now.

    Returns the value or a `Withheld` reason; raises a `SERVICE_UNAVAILABLE` GraphQL error
    when the owning service could not answer.
    """
    found = await loader(info, field).load(person_id)
    if isinstance(found, Unavailable):
        raise unavailable(found)
    return found


def unavailable(reason: Unavailable) -> GraphQLError:
    return coded(f"{reason.reason}; try again later", SERVICE_UNAVAILABLE)


def shown(value: Resolved) -> Any | None:
    """The value to show: None when it is withheld."""
    return None if isinstance(value, Withheld) else value
