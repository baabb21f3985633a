"""The batched lookup of personal fields, against the answers a service may give."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.core.personal import (
    Denied,
    Erased,
    PersonalField,
    Unavailable,
    Unknown,
    lookup,
)
from gateway.core.service import ServiceClient

FIELD = PersonalField(feature="volunteers", path="/volunteers/names", key="names", max_ids=3)


def client_answering(status: int, body: Any, seen: list[list[str]]) -> ServiceClient:
    def answer(request: httpx.Request) -> httpx.Response:
        import json

        seen.append(json.loads(request.content)["ids"])
        return httpx.Response(status, json=body)

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://v")
    return ServiceClient("volunteers", http)


async def test_each_id_gets_its_value_or_the_reason_it_has_none():
    seen: list[list[str]] = []
    body = {"names": {"a": "Ann"}, "erased": ["b"], "denied": ["c"], "unknown": []}
    found = await lookup(client_answering(200, body, seen), FIELD, ["a", "b", "c"], "t")
    assert found == {"a": "Ann", "b": Erased, "c": Denied}


async def test_ids_are_asked_once_and_in_chunks_of_the_service_limit():
    seen: list[list[str]] = []
    body = {"names": {}, "erased": [], "denied": [], "unknown": []}
    found = await lookup(
        client_answering(200, body, seen), FIELD, ["a", "b", "a", "c", "d", "e", "f", "g"], "t"
    )
    assert sorted(seen) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    # Left out of every list: not a person the service knows.
    assert set(found.values()) == {Unknown}


async def test_a_caller_refused_as_a_whole_reads_as_denied():
    seen: list[list[str]] = []
    found = await lookup(client_answering(403, {"code": "forbidden"}, seen), FIELD, ["a"], "t")
    assert found == {"a": Denied}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, {"code": "unavailable"}),
        (500, {"code": "internal"}),
        (200, {"names": ["not", "an", "object"]}),
        (200, {"names": {}, "erased": "b"}),
    ],
)
async def test_a_service_that_cannot_answer_makes_every_id_unavailable(status, body):
    seen: list[list[str]] = []
    found = await lookup(client_answering(status, body, seen), FIELD, ["a", "b"], "t")
    assert set(found) == {"a", "b"}
    assert all(isinstance(value, Unavailable) for value in found.values())


async def test_an_unreachable_service_is_unavailable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://v")
    found = await lookup(ServiceClient("volunteers", http), FIELD, ["a"], "t")
    assert isinstance(found["a"], Unavailable)
