"""The offline provider: deterministic answers that prove the history was sent.

* It quotes the latest user message and counts the turns, and recalls earlier user
  messages, so multi-turn behaviour is visible without a model.
* Structured output: with a ``json_schema`` response format it answers with a JSON
  instance valid for the schema, built from the schema itself.
* Tools: a user message containing ``call <tool_name>`` (optionally followed by a JSON
  object of arguments, e.g. ``call get_weather {"city": "Paris"}``) makes it call that
  tool; after the results come back it reports them.
* ``max_tokens`` is honoured: a longer answer is cut with ``finish_reason="length"``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..core.message import ToolCall, Usage
from ..core.response import StreamEvent
from .base import Completion, ProviderEvent, ProviderRequest

_CALL = re.compile(r"\bcall\s+([A-Za-z0-9_-]+)\s*(\{.*\})?", re.DOTALL)
_TOKEN = re.compile(r"\s*\S+(?:\s+$)?|\s+")  # leading spaces, like LLM tokens


class EchoProvider:
    """Offline and deterministic; see the module docstring for what it answers."""

    name = "echo"
    default_model = "echo"

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay  # seconds between chunks, to make streaming visible in demos

    def __repr__(self) -> str:
        return "EchoProvider()"

    def stream(self, request: ProviderRequest) -> Iterator[ProviderEvent]:
        chunks, completion = plan_answer(request)
        for chunk in chunks:
            if self.delay:
                import time

                time.sleep(self.delay)
            yield StreamEvent("text_delta", text=chunk)
        yield completion

    async def astream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        chunks, completion = plan_answer(request)
        for chunk in chunks:
            if self.delay:
                await asyncio.sleep(self.delay)
            yield StreamEvent("text_delta", text=chunk)
        yield completion


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def plan_answer(request: ProviderRequest) -> tuple[list[str], Completion]:
    """The chunks to stream and the completion to end with."""
    messages = request.messages
    prompt_tokens = sum(len(_text(m.get("content")).split()) for m in messages)
    users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    latest = users[-1] if users else ""
    tool_names = {t["function"]["name"]: t["function"] for t in request.tools}

    if messages and messages[-1].get("role") == "tool":
        text = _report_tool_results(messages)
    else:
        call = _requested_call(latest, tool_names) if request.tool_choice != "none" else None
        if call is None and request.tool_choice == "required" and tool_names:  # as a server's grammar forces one
            name = next(iter(tool_names))
            call = _requested_call(f"call {name}", tool_names)
        if call is not None:
            usage = Usage(prompt_tokens, 1)
            return [], Completion("", "tool_calls", (call,), usage, request.model or "echo")
        if request.response_format and request.response_format.get("type") == "json_schema":
            schema = request.response_format["json_schema"]["schema"]
            text = json.dumps(example_for_schema(schema, latest))
        elif request.response_format and request.response_format.get("type") == "json_object":
            text = json.dumps({"echo": latest})
        else:
            text = _echo_text(latest, users, messages)

    chunks = _TOKEN.findall(text) or [text]
    finish = "stop"
    limit = request.params.get("max_tokens") or request.params.get("max_completion_tokens")
    if isinstance(limit, int) and 0 < limit < len(chunks):
        chunks, finish = chunks[:limit], "length"
    usage = Usage(prompt_tokens, len(chunks))
    return chunks, Completion("".join(chunks), finish, (), usage, request.model or "echo")


def _echo_text(latest: str, users: list[str], messages: list[dict[str, Any]]) -> str:
    turn = len(users)
    text = f'You said: "{latest}" (turn {turn}).'
    earlier = users[:-1][-3:]
    if earlier:
        text += " Earlier you said: " + "; ".join(f'"{u}"' for u in earlier) + "."
    systems = [_text(m.get("content")) for m in messages if m.get("role") == "system"]
    if systems:
        first = systems[0] if len(systems[0]) <= 80 else systems[0][:77] + "..."
        text += f' (system: "{first}")'
    return text


def _requested_call(latest: str, tools: dict[str, dict[str, Any]]) -> ToolCall | None:
    match = _CALL.search(latest)
    if match is None or match.group(1) not in tools:
        return None
    name, raw = match.group(1), match.group(2)
    arguments = raw if raw else json.dumps(example_for_schema(tools[name].get("parameters") or {}, latest))
    return ToolCall(id=f"call_echo_{name}", name=name, arguments=arguments)


def _report_tool_results(messages: list[dict[str, Any]]) -> str:
    results = []
    for m in reversed(messages):
        if m.get("role") != "tool":
            break
        results.append(_text(m.get("content")))
    results.reverse()
    return "Tool results: " + " | ".join(results)


def example_for_schema(schema: dict[str, Any], text: str, _root: dict[str, Any] | None = None) -> Any:
    """A value that validates against a JSON schema, built from the schema alone."""
    root = _root or schema
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        defs = root.get("$defs") or root.get("definitions") or {}
        return example_for_schema(defs.get(name, {}), text, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_for_schema(options[0], text, root)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return example_for_schema(merged, text, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: example_for_schema(sub, text, root) for name, sub in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        item = schema.get("items") or {}
        return [example_for_schema(item, text, root) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "string" or kind is None:
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        if fmt == "date":
            return "2026-01-01"
        value = f"echo: {text}" if text else "echo"
        max_len = schema.get("maxLength")
        value = value[:max_len] if isinstance(max_len, int) else value
        min_len = int(schema.get("minLength", 0))
        return value.ljust(min_len, ".")
    return None
