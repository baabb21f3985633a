"""The committed SDL is what partners read: it must match the code."""

from __future__ import annotations

from pathlib import Path

from gateway.sdl import sdl

COMMITTED = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_committed_sdl_matches_the_code():
    assert COMMITTED.read_text(encoding="utf-8") == sdl(), (
        "gateway/schema.graphql is stale: run `python -m gateway.sdl > gateway/schema.graphql`"
    )


def test_every_field_is_described():
    from gateway.schema import schema

    missing = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or not hasattr(graphql_type, "fields"):
            continue
        if not graphql_type.description and name not in {"Query", "Mutation", "Subscription"}:
            missing.append(name)
        missing += [
            f"{name}.{f}" for f, field in graphql_type.fields.items() if not field.description
        ]
    assert missing == []
