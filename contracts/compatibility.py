"""Whether a contract's new JSON Schema still accepts what its readers were promised.

A major version is a promise to every reader of a stream: a message written under the
committed schema still reads, and a reader written against it still finds what it
relies on. Within a major, a change is breaking when it:

- removes or renames a field (a reader relying on it finds nothing),
- makes a field required that was not (old messages lack it),
- narrows a field's type: drops a JSON type, adds or changes a format, tightens a bound,
  length or pattern, or drops an enum value (old messages no longer validate).

Adding an optional field, loosening a bound, adding an enum value, or changing a
description is not breaking. A breaking change needs a new major (a new class with
`major` one higher; the old one stays registered and readable).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

# Bounds where a larger value accepts less, and those where a smaller one does.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What in `new` breaks the promise `old` made (empty when compatible)."""
    problems: list[str] = []
    old_props: Mapping[str, Any] = old.get("properties", {})
    new_props: Mapping[str, Any] = new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            problems.append(f"field {name!r} was removed or renamed")
    newly_required = set(new.get("required", ())) - set(old.get("required", ()))
    for name in sorted(newly_required):
        problems.append(f"field {name!r} is newly required")
    for name, before in old_props.items():
        if name in new_props:
            problems += [
                f"field {name!r}: {p}"
                for p in _narrowed(_resolve(old, before), _resolve(new, new_props[name]), old, new)
            ]
    return problems


def _resolve(root: Schema, node: Schema) -> Schema:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved = dict(root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}))
        return resolved | {k: v for k, v in node.items() if k != "$ref"}
    return node


def _alternatives(root: Schema, node: Schema) -> list[Schema]:
    """A field's schema as the list of the shapes it accepts (anyOf/oneOf spread out)."""
    node = _resolve(root, node)
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            return [alt for option in node[key] for alt in _alternatives(root, option)]
    return [node]


def _types(node: Schema) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, list):
        return set(kind)
    if isinstance(kind, str):
        return {kind}
    if "enum" in node or "const" in node:
        return {"enum"}
    return {"any"}


def _narrowed(before: Schema, after: Schema, old_root: Schema, new_root: Schema) -> list[str]:
    old_alts = _alternatives(old_root, before)
    new_alts = _alternatives(new_root, after)
    problems = []
    for alt in old_alts:
        # Each shape the old schema accepted must still be accepted by a shape of the new.
        candidates = [n for n in new_alts if _types(alt) & _types(n) or "any" in _types(n)]
        if not candidates:
            problems.append(f"no longer accepts type {'/'.join(sorted(_types(alt)))}")
            continue
        reasons = [_accepts_less(alt, n) for n in candidates]
        if all(reasons):
            problems.append(reasons[0])
    return problems


def _accepts_less(old: Schema, new: Schema) -> str:
    """Why `new` accepts less than `old` (empty when it accepts at least as much)."""
    if new.get("format") is not None and new.get("format") != old.get("format"):
        return f"format changed from {old.get('format')!r} to {new.get('format')!r}"
    old_values = _values(old)
    new_values = _values(new)
    if new_values is not None:
        if old_values is None:
            return "it became an enumeration"
        removed = [v for v in old_values if v not in new_values]
        if removed:
            return f"enum values removed: {removed}"
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            return f"{key} tightened to {new[key]!r}"
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            return f"{key} tightened to {new[key]!r}"
    if "pattern" in new and new.get("pattern") != old.get("pattern"):
        return f"pattern changed to {new['pattern']!r}"
    return ""


def _values(node: Schema) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    values = node.get("enum")
    return list(values) if isinstance(values, list) else None
