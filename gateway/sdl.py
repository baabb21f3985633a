"""Print the GraphQL SDL: `python -m gateway.sdl > gateway/schema.graphql`."""

from __future__ import annotations

from gateway.schema import schema


def sdl() -> str:
    return schema.as_str().rstrip() + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
