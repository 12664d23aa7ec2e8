"""Structured output: a pydantic model in, an OpenAI ``response_format`` out, and back."""

from __future__ import annotations

import copy
import re
from typing import Any

from ..errors import SchemaError, StructuredOutputError


def check_schema(schema: Any) -> type[Any]:
    """Return ``schema`` if it is a pydantic BaseModel subclass, else raise SchemaError."""
    from pydantic import BaseModel

    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema
    shown = schema.__name__ if isinstance(schema, type) else repr(schema)[:60]
    raise SchemaError(
        f"schema must be a pydantic BaseModel subclass, got {shown}; "
        "define `class Answer(BaseModel): ...` and pass schema=Answer"
    )


def response_format(schema: type[Any]) -> dict[str, Any]:
    """The ``json_schema`` response format for ``schema`` (strict when OpenAI allows it)."""
    raw = schema.model_json_schema()
    strict = _strict(copy.deepcopy(raw))
    name = re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64] or "output"
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": strict if strict is not None else raw, "strict": strict is not None},
    }


def _strict(node: Any) -> Any:
    """OpenAI strict mode: every object closed and fully required, no defaults.

    Returns None when the schema uses something strict mode cannot express (an open
    dict), in which case the plain schema is sent non-strict.
    """
    if isinstance(node, list):
        items = [_strict(n) for n in node]
        return None if any(i is None for i in items) else items
    if not isinstance(node, dict):
        return node
    if (
        node.get("type") == "object"
        and "properties" not in node
        and node.get("additionalProperties") not in (None, False)
    ):
        return None
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("default", "title"):
            continue
        if key in ("properties", "$defs", "definitions"):
            converted = {k: _strict(v) for k, v in value.items()}
            if any(v is None for v in converted.values()):
                return None
            out[key] = converted
        elif isinstance(value, (dict, list)):
            converted_value = _strict(value)
            if converted_value is None:
                return None
            out[key] = converted_value
        else:
            out[key] = value
    if out.get("type") == "object" and "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


def parse_output(schema: type[Any], text: str) -> Any:
    """Validate the model's answer against ``schema``; tolerate a ```json fence."""
    from pydantic import ValidationError

    fenced = _FENCE.match(text)
    candidate = fenced.group(1) if fenced else text
    try:
        return schema.model_validate_json(candidate)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()[:5])
        raise StructuredOutputError(
            f"the answer does not match {schema.__name__} ({problems}); the turn was not added. "
            "Retry, simplify the schema, or use a model that supports structured output.",
            partial_text=text,
        ) from None
