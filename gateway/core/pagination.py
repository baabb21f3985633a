"""Keyset pagination: opaque cursors, pages read from a read model, GraphQL connections."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypeVar

import strawberry

from gateway.errors import bad_input

MAX_PAGE = 100

T = TypeVar("T")
Node = TypeVar("Node")


class InvalidCursorError(ValueError):
    """A pagination cursor is not one this read model handed out."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a keyset-paginated listing; `cursors[i]` points after `rows[i]`."""

    rows: list[T]
    cursors: list[str]
    has_next: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def encode_cursor(kind: str, *keys: Any) -> str:
    raw = json.dumps([kind, *keys], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, arity: int) -> list[Any]:
    """The keys of a cursor of this kind; `InvalidCursorError` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidCursorError("the cursor is not valid") from None
    if not isinstance(value, list) or len(value) != arity + 1 or value[0] != kind:
        raise InvalidCursorError(f"the cursor is not a {kind} cursor")
    return value[1:]


def check_first(first: int) -> int:
    if not 0 <= first <= MAX_PAGE:
        raise bad_input(f"first must be between 0 and {MAX_PAGE}")
    return first


First = Annotated[
    int, strawberry.argument(description=f"How many items to return (at most {MAX_PAGE}).")
]
After = Annotated[
    str | None,
    strawberry.argument(description="Return the items after this cursor (an `endCursor`)."),
]


@strawberry.type(description="Where a page ends and whether more items follow.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more items follow.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to get the next page; null on an empty page."
    )


@strawberry.type(description="One item of a page with the cursor that points after it.")
class Edge(Generic[Node]):
    cursor: str = strawberry.field(description="Opaque cursor pointing after this item.")
    node: Node = strawberry.field(description="The item.")


@strawberry.type(description="One page of items, in a stable order.")
class Connection(Generic[Node]):
    edges: list[Edge[Node]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="How to get the next page.")


class FromRow(Protocol):
    @classmethod
    def from_row(cls, row: Any) -> Any: ...


def connection(page: Page[Any], node: type[FromRow]) -> Connection[Any]:
    """A GraphQL connection of `node`s made from a read model's page of rows."""
    edges = [
        Edge(cursor=cursor, node=node.from_row(row))
        for row, cursor in zip(page.rows, page.cursors, strict=True)
    ]
    return Connection(
        edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor)
    )
