"""``@tool``: turn a typed Python function into a tool the model can call.

The docstring's first paragraph is the description; Google-style ``Args:`` lines describe
the parameters; type hints become a JSON schema through pydantic. pydantic is imported
when a schema is first needed, not when the decorator runs, so defining tools is free.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, overload

from ..errors import ToolDefinitionError
from .message import ToolCall


@dataclass(frozen=True)
class ToolOutcome:
    """A tool's result as the model will see it."""

    content: str
    is_error: bool = False


class Tool:
    """A function plus the JSON schema the model sees. Calling it calls the function."""

    def __init__(
        self, function: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> None:
        if not callable(function):
            raise ToolDefinitionError(f"@tool needs a function, got {type(function).__name__}")
        self.function = function
        self.name: str = name or str(getattr(function, "__name__", ""))
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.name):
            raise ToolDefinitionError(
                f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'; pass @tool(name=...)"
            )
        self._signature = inspect.signature(function)
        for param in self._signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ToolDefinitionError(
                    f"tool {self.name!r} takes *{param.name}: a tool needs named parameters the model can fill"
                )
        summary, self._arg_docs = _parse_docstring(inspect.getdoc(function) or "")
        self.description = description if description is not None else summary
        self.is_async = inspect.iscoroutinefunction(function)

    def __repr__(self) -> str:
        return f"<Tool {self.name}: {self.description[:50]!r}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    @cached_property
    def _arguments_model(self) -> Any:
        from typing import Annotated, get_type_hints

        from pydantic import ConfigDict, Field, create_model

        try:
            hints = get_type_hints(self.function, include_extras=True)
        except Exception as exc:  # unresolvable forward references
            raise ToolDefinitionError(f"tool {self.name!r}: cannot resolve its type hints ({exc})") from None
        fields: dict[str, Any] = {}
        for pname, param in self._signature.parameters.items():
            annotation = hints.get(pname, Any)
            default = ... if param.default is param.empty else param.default
            doc = self._arg_docs.get(pname)
            fields[pname] = (Annotated[annotation, Field(description=doc)] if doc else annotation, default)
        try:
            return create_model(
                f"{self.name}_arguments", __config__=ConfigDict(arbitrary_types_allowed=False), **fields
            )
        except Exception as exc:
            raise ToolDefinitionError(f"tool {self.name!r}: its parameter types cannot be described ({exc})") from None

    @cached_property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments object."""
        schema: dict[str, Any] = self._arguments_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        schema.setdefault("properties", {})
        return schema

    def to_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def _prepare(self, call: ToolCall) -> dict[str, Any] | ToolOutcome:
        from pydantic import ValidationError

        try:
            raw = call.parsed_arguments()
        except ValueError as exc:
            return ToolOutcome(f"Error: the arguments are not a valid JSON object ({exc}); send JSON.", True)
        try:
            validated = self._arguments_model.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            return ToolOutcome(f"Error: invalid arguments for {self.name}: {problems}", True)
        return {name: getattr(validated, name) for name in self._signature.parameters}

    def invoke(self, call: ToolCall) -> ToolOutcome:
        """Run the tool for a model's call; errors become error results, never exceptions."""
        from .._loop import run_sync

        kwargs = self._prepare(call)
        if isinstance(kwargs, ToolOutcome):
            return kwargs
        try:
            result = self.function(**kwargs)
            if inspect.isawaitable(result):
                result = run_sync(_awaited(result))
        except Exception as exc:
            return ToolOutcome(f"Error: {type(exc).__name__}: {exc}", True)
        return ToolOutcome(_to_text(result))

    async def ainvoke(self, call: ToolCall) -> ToolOutcome:
        kwargs = self._prepare(call)
        if isinstance(kwargs, ToolOutcome):
            return kwargs
        try:
            if self.is_async:
                result = await self.function(**kwargs)
            else:
                # A sync tool may block (HTTP, files): keep the event loop free.
                result = await asyncio.to_thread(self.function, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as exc:
            return ToolOutcome(f"Error: {type(exc).__name__}: {exc}", True)
        return ToolOutcome(_to_text(result))


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _to_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    dump = getattr(result, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    try:
        return json.dumps(result, default=str)
    except (TypeError, ValueError):
        return str(result)


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_ARG_LINE = re.compile(r"^\s+(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """First paragraph as the description, plus Google-style ``Args:`` entries."""
    lines = doc.splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip() or _ARGS_HEADER.match(line):
            break
        summary_lines.append(line.strip())
    arg_docs: dict[str, str] = {}
    in_args = False
    current: str | None = None
    for line in lines:
        if _ARGS_HEADER.match(line):
            in_args, current = True, None
            continue
        if not in_args:
            continue
        if line.strip() and not line.startswith((" ", "\t")):
            break  # the next section starts
        match = _ARG_LINE.match(line)
        if match:
            current = match.group(1).lstrip("*")
            arg_docs[current] = match.group(3).strip()
        elif current and line.strip():
            arg_docs[current] += " " + line.strip()
    return " ".join(summary_lines), arg_docs


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None, /, *, name: str | None = None, description: str | None = None
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorate a function to offer it to the model: ``@tool`` or ``@tool(name=..., description=...)``."""
    if function is not None:
        return Tool(function, name=name, description=description)
    return lambda f: Tool(f, name=name, description=description)


def as_tools(items: Iterable[Tool | Callable[..., Any]]) -> dict[str, Tool]:
    """Normalise a tools= argument (tools or plain functions) into a name -> Tool map."""
    tools: dict[str, Tool] = {}
    for item in items:
        t = item if isinstance(item, Tool) else Tool(item)
        if t.name in tools:
            raise ToolDefinitionError(f"two tools are named {t.name!r}; rename one with @tool(name=...)")
        tools[t.name] = t
    return tools
