"""One example CloudEvent per event type a department system may post, for the ingest's
OpenAPI document: readers see a whole valid request, and generated tests (schemathesis)
start from requests that can be accepted, which a `oneOf` over twenty-odd types rarely
yields by chance.

Examples are made from each type's JSON schema (the first value of a closed list, the
lower bound of a number, a sample for each pattern), with the city's own places where a
contract checks them against `contracts/city.json`, so a new event type gets its example
without anyone writing it; `test_examples` proves each one is valid.
"""

from __future__ import annotations

from typing import Any

from contracts.city import load_city
from contracts.events import ContractEvent

AT = "2026-11-30T09:00:00+08:00"
DAY = "2026-11-30"
# A value matching each pattern the posted contracts use; a new pattern needs one here
# (the example test says which).
PATTERN_SAMPLES: dict[str, str] = {
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$": (
        "0b8e4f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    ),
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$": "example-1",
    r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$": "example-1",
    r"^[A-Za-z0-9._:-]+$": "example-1",
    r"^[a-z0-9-]+$": "example-1",
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$": "09:00",
    r"^([01][0-9]|2[0-4]):[0-5][0-9]$": "17:00",
    r"^[A-Z]{0,16}[-./]?[0-9][A-Z0-9./-]{0,47}$": "JUS-2026-041",
}


class NoSampleError(LookupError):
    """A pattern with no sample in `PATTERN_SAMPLES`."""


def _places() -> dict[str, str]:
    """Fields that contracts check against the city: a real school and its district."""
    school = load_city().schools[0]
    return {
        "school_id": school.id,
        "district_id": school.district,
        "district": school.district,
        "community_id": f"community-{school.district}",
    }


def example_data(cls: type[ContractEvent]) -> dict[str, Any]:
    """A valid `data` for `cls`, from its schema."""
    schema = cls.model_json_schema()
    places = _places()
    taken: set[Any] = set()
    return {
        name: places[name] if name in places else _value(schema, prop, name, taken)
        for name, prop in schema["properties"].items()
    }


def example_event(cls: type[ContractEvent]) -> dict[str, Any]:
    """A structured CloudEvent of `cls` as its department's system would post it."""
    boundary = cls.boundary
    return {
        "specversion": "1.0",
        "id": f"example-{boundary}-{cls.event_name}",
        "source": f"/{cls.department()}/{boundary}",
        "type": cls.event_type(),
        "time": AT,
        "datacontenttype": "application/json",
        "department": cls.department(),
        "data": example_data(cls),
    }


def _value(root: dict[str, Any], node: dict[str, Any], name: str, taken: set[Any]) -> Any:
    """An example of `node`; `taken`: the closed-list items the event's lists hold already."""
    if "$ref" in node:
        node = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    options = [o for o in node.get("anyOf", ()) if o.get("type") != "null"]
    if options:
        return _value(root, options[0], name, taken)
    kind = node.get("type")
    if kind == "object":
        return {k: _value(root, v, k, taken) for k, v in node.get("properties", {}).items()}
    if kind == "array":
        # One item, enough to show the shape; an item of a closed list goes in one list
        # only (an inspection's verdicts name each item once).
        items = node["items"]
        if "enum" not in items:
            return [_value(root, items, name, taken)]
        free = [v for v in items["enum"] if v not in taken]
        taken.update(free[:1])
        return free[:1]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        low = node.get("minimum", 1)
        return max(low, 1) if node.get("maximum", 1) >= 1 else low
    if kind == "string":
        return _string(node, name)
    raise NoSampleError(f"{name}: no example for {node}")


def _string(node: dict[str, Any], name: str) -> str:
    if node.get("format") == "date-time":
        return AT
    if node.get("format") == "date":
        return DAY
    pattern = node.get("pattern")
    if pattern is None:
        return f"example {name.replace('_', ' ')}"
    try:
        return PATTERN_SAMPLES[pattern]
    except KeyError:
        raise NoSampleError(f"{name}: add a sample of {pattern!r} to PATTERN_SAMPLES") from None
