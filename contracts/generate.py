"""Write the JSON Schema of every published event to contracts/schemas/.

Run with `python -m contracts.generate` (or `make contracts`); a test fails when
the committed files drift from the models. A schema that would break the one committed
for its major (`contracts.compatibility`) is not written: that change needs a new major.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contracts.compatibility import breaking_changes
from contracts.events import ContractEvent
from contracts.registry import ALL_EVENTS

SCHEMA_DIR = Path(__file__).with_name("schemas")


def schema_of(cls: type[ContractEvent]) -> dict[str, object]:
    schema = cls.model_json_schema()
    schema["$id"] = f"https://tongxin.org/schemas/{cls.event_type()}.json"
    schema["x-cloudevents-type"] = cls.event_type()
    schema["x-subject"] = cls.subject()
    schema["x-department"] = cls.department()
    schema["x-published"] = cls.published
    if cls.partner_feed:
        schema["x-partner-feed"] = list(cls.partner_fields())
    return schema


def render_all() -> dict[str, str]:
    """File name -> file content for every event schema."""
    return {
        f"{cls.event_type()}.json": json.dumps(schema_of(cls), indent=2, ensure_ascii=False) + "\n"
        for cls in ALL_EVENTS
    }


def committed() -> dict[str, str]:
    """File name -> content of the schemas in contracts/schemas/."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SCHEMA_DIR.glob("*.json"))}


def incompatibilities(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """File name -> why `after` breaks the schema `before` committed for that major.

    A committed schema with no model any more is breaking too: messages of that major
    are still in the streams, and must stay readable.
    """
    found: dict[str, list[str]] = {}
    for name, old in before.items():
        if name not in after:
            found[name] = ["its model is gone: old messages of this major no longer read"]
            continue
        problems = breaking_changes(json.loads(old), json.loads(after[name]))
        if problems:
            found[name] = problems
    return found


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    rendered = render_all()
    broken = incompatibilities(committed(), rendered)
    if broken:
        for name, problems in broken.items():
            print(f"{name}: {'; '.join(problems)}", file=sys.stderr)
        sys.exit("breaking changes to published majors: add a new major instead (nothing written)")
    for name, content in rendered.items():
        (SCHEMA_DIR / name).write_text(content, encoding="utf-8")
    print(f"wrote {len(rendered)} schemas to {SCHEMA_DIR}")


if __name__ == "__main__":
    main()
