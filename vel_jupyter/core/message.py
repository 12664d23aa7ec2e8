"""Message values: what was said, by whom, and what the model reported about it.

Messages are immutable values. Identity (ids, parent links, timestamps) belongs to the
tree that holds them (``core.tree.Node``), so the same value can sit in many places.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, cast

from ..errors import ConfigurationError, SessionDataError
from ..formats.text import clean_text

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for; ``arguments`` is its JSON text, verbatim."""

    id: str
    name: str
    arguments: str = "{}"

    def __post_init__(self) -> None:
        if isinstance(self.arguments, str):  # one rule for text every store keeps (formats/text.py)
            object.__setattr__(self, "arguments", clean_text(self.arguments))

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; raises ValueError when the model sent invalid JSON."""
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError(f"tool arguments must be a JSON object, got {type(value).__name__}")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(frozen=True)
class Usage:
    """Token counts; adds up across the steps of a turn."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


STOPPED = "stopped"
"""The finish reason of an answer its caller stopped mid-stream and asked to keep (``keep_stopped``)."""

INCOMPLETE_REASONS = frozenset({"length", "content_filter", STOPPED})
"""Finish reasons of an answer that was kept but is not whole (``Response.incomplete``)."""


@dataclass(frozen=True)
class MessageMeta:
    """What the provider reported about one assistant message."""

    model: str = ""
    usage: Usage = field(default_factory=Usage)
    latency_ms: float | None = None
    ttft_ms: float | None = None
    finish_reason: str | None = None
    provider: str = ""
    refusal: str | None = None  # the model declined; the message's content is its explanation

    @property
    def incomplete(self) -> bool:
        """True when the answer was cut off (``length``), filtered (``content_filter``) or stopped."""
        return self.finish_reason in INCOMPLETE_REASONS

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "provider": self.provider,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "finish_reason": self.finish_reason,
        }
        if self.refusal is not None:
            data["refusal"] = self.refusal
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MessageMeta:
        return cls(
            model=str(data.get("model") or ""),
            provider=str(data.get("provider") or ""),
            usage=Usage(int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0)),
            latency_ms=_optional_float(data.get("latency_ms")),
            ttft_ms=_optional_float(data.get("ttft_ms")),
            finish_reason=data.get("finish_reason"),
            refusal=data.get("refusal"),
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Message:
    """One message of a conversation.

    Build them with the constructors: ``Message.user("hi")``, ``Message.assistant(...)``,
    ``Message.system(...)``, ``Message.tool(result, tool_call_id=...)``.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    meta: MessageMeta | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ConfigurationError(f"unknown role {self.role!r}; use one of {', '.join(ROLES)}")
        if not isinstance(self.content, str):
            raise ConfigurationError(
                f"message content must be a str, got {type(self.content).__name__}; "
                "convert it with str() or json.dumps() first"
            )
        # NUL and lone surrogates become U+FFFD here, so what one store keeps every store keeps
        # (PostgreSQL refuses both) and every renderer can encode (formats/text.py).
        object.__setattr__(self, "content", clean_text(self.content))

    @classmethod
    def user(cls, text: str) -> Message:
        return cls("user", text)

    @classmethod
    def assistant(cls, text: str = "", *, tool_calls: tuple[ToolCall, ...] | list[ToolCall] = ()) -> Message:
        return cls("assistant", text, tool_calls=tuple(tool_calls))

    @classmethod
    def system(cls, text: str) -> Message:
        return cls("system", text)

    @classmethod
    def tool(cls, content: str, *, tool_call_id: str, name: str | None = None) -> Message:
        return cls("tool", content, tool_call_id=tool_call_id, name=name)

    @property
    def text(self) -> str:
        return self.content

    @property
    def usage(self) -> Usage:
        return self.meta.usage if self.meta else Usage()

    def __repr__(self) -> str:
        preview = self.content if len(self.content) <= 60 else self.content[:57] + "..."
        extra = f", tool_calls={len(self.tool_calls)}" if self.tool_calls else ""
        return f"Message.{self.role}({preview!r}{extra})"

    # The OpenAI chat format is our wire format: providers take it, and guide B's
    # context managers return it. Cached because long histories are re-sent every turn.
    @cached_property
    def _wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            wire["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            wire["tool_call_id"] = self.tool_call_id
        return wire

    def to_openai(self) -> dict[str, Any]:
        """This message as an OpenAI chat message dict (a fresh shallow copy)."""
        return dict(self._wire)

    @classmethod
    def from_openai(cls, data: dict[str, Any]) -> Message:
        """Parse an OpenAI-style chat message dict (as guide B's ``set_session_context`` takes)."""
        if not isinstance(data, dict) or "role" not in data:
            raise ConfigurationError(f"a message must be a dict with 'role' and 'content', got {data!r:.80}")
        content = data.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        calls = tuple(
            ToolCall(c["id"], c["function"]["name"], c["function"].get("arguments") or "{}")
            for c in data.get("tool_calls") or ()
        )
        return cls(
            role=data["role"],
            content=content or "",
            tool_calls=calls,
            tool_call_id=data.get("tool_call_id"),
            name=data.get("name"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON for storage; round-trips through ``Message.from_dict``."""
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        if self.meta is not None:
            data["meta"] = self.meta.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Message:
        try:
            meta = data.get("meta")
            return cls(
                role=cast(Role, data["role"]),
                content=data.get("content") or "",
                tool_calls=tuple(
                    ToolCall(c["id"], c["name"], c.get("arguments") or "{}") for c in data.get("tool_calls") or ()
                ),
                tool_call_id=data.get("tool_call_id"),
                name=data.get("name"),
                meta=MessageMeta.from_dict(meta) if meta else None,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise SessionDataError(f"not a valid message: {data!r:.120} ({exc})") from None
