"""JSON Schema of every payload the JupyterLab extension reads, from ``shapes``.

``labextension/src/generated/payload.schema.json`` is this schema, committed;
``labextension/scripts/payload-types.mjs`` turns it into ``payload.ts`` with
json-schema-to-typescript, so the extension's types are generated from the Python shapes,
never copied by hand. Both copies are checked for drift: ``tests/contracts/test_payload_schema.py``
compares the schema with the shapes, ``jlpm test`` the TypeScript with the schema.

    python -m vel_jupyter.formats.schema            print the schema
    python -m vel_jupyter.formats.schema PATH       write it to PATH
"""

from __future__ import annotations

import json
import sys
from typing import Any


def payload_schema() -> dict[str, Any]:
    """The schema of ``shapes.PayloadsShape``: a turn, a session record and a fork tree."""
    from pydantic import TypeAdapter
    from pydantic.json_schema import GenerateJsonSchema

    from .shapes import PayloadsShape

    class _ShapeTitlesOnly(GenerateJsonSchema):
        # A field's title would become a TypeScript alias of its own (Head1, Head2, ...).
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False

    return TypeAdapter(PayloadsShape).json_schema(schema_generator=_ShapeTitlesOnly)


def schema_text() -> str:
    """The schema as the committed file holds it (sorted keys: the same shapes, the same bytes)."""
    return json.dumps(payload_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if argv:
        with open(argv[0], "w", encoding="utf-8") as out:
            out.write(schema_text())
    else:
        sys.stdout.write(schema_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
