"""Write the JSON Schema of every published event to contracts/schemas/.

Run with `python -m contracts.generate` (or `make contracts`); a test fails when
the committed files drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path

from contracts.events import ContractEvent
from contracts.registry import ALL_EVENTS

SCHEMA_DIR = Path(__file__).with_name("schemas")


def schema_of(cls: type[ContractEvent]) -> dict[str, object]:
    schema = cls.model_json_schema()
    schema["$id"] = f"https://tongxin.org/schemas/{cls.event_type()}.json"
    schema["x-cloudevents-type"] = cls.event_type()
    schema["x-subject"] = cls.subject()
    schema["x-department"] = cls.department()
    return schema


def render_all() -> dict[str, str]:
    """File name -> file content for every event schema."""
    return {
        f"{cls.event_type()}.json": json.dumps(schema_of(cls), indent=2, ensure_ascii=False) + "\n"
        for cls in ALL_EVENTS
    }


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    rendered = render_all()
    for stale in SCHEMA_DIR.glob("*.json"):
        if stale.name not in rendered:
            stale.unlink()
    for name, content in rendered.items():
        (SCHEMA_DIR / name).write_text(content, encoding="utf-8")
    print(f"wrote {len(rendered)} schemas to {SCHEMA_DIR}")


if __name__ == "__main__":
    main()
