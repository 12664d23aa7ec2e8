"""Scripted answers: ``Reply`` and its builders (text, tool calls, HTTP errors, in-stream errors,
stalls, dropped connections, raw events), and the unscripted echo answer."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .wire import Json, RecordedRequest, dumps, error_object, reason, text_of

ToolCallSpec = tuple[str, dict[str, Any] | str] | Json
_Kind = Literal["completion", "http_error", "error_event", "stall", "drop", "raw_sse"]


def _split_words(text: str) -> list[str]:
    """One piece per word, each carrying its leading whitespace (like LLM tokens)."""
    pieces: list[str] = re.findall(r"\s*\S+(?:\s+$)?", text)
    return pieces or ([text] if text else [])


def _split_even(text: str, parts: int) -> list[str]:
    if parts < 1:
        raise ValueError(f"need at least one chunk, got {parts}")
    size = len(text)
    return [text[size * i // parts : size * (i + 1) // parts] for i in range(parts)]


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@dataclass(frozen=True)
class _ToolCall:
    id: str
    name: str
    arguments: str


def _tool_call(index: int, spec: ToolCallSpec, ids: list[str] | None) -> _ToolCall:
    if isinstance(spec, tuple):
        name, arguments, call_id = spec[0], spec[1], None
    else:
        # Accept both {"name", "arguments"} and OpenAI's {"id", "function": {...}} shapes.
        function = spec.get("function", spec)
        name, arguments, call_id = function["name"], function.get("arguments", ""), spec.get("id")
    if ids is not None:
        call_id = ids[index]
    return _ToolCall(
        id=call_id or f"call_{uuid.uuid4().hex[:24]}",
        name=name,
        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments),
    )


def _call_delta(index: int, **fields: Any) -> Json:
    return {"tool_calls": [{"index": index, **fields}]}


def _tool_deltas(calls: list[_ToolCall], arg_chunks: int, interleave: bool) -> list[Json]:
    pieces = [_split_even(call.arguments, arg_chunks) for call in calls]
    order = list(itertools.product(range(len(calls)), range(arg_chunks)))
    if interleave:
        order.sort(key=lambda pair: (pair[1], pair[0]))
    deltas: list[Json] = []
    for index, piece in order:
        if piece == 0:
            call = calls[index]
            header = {"name": call.name, "arguments": ""}
            deltas.append(_call_delta(index, id=call.id, type="function", function=header))
        deltas.append(_call_delta(index, function={"arguments": pieces[index][piece]}))
    return deltas


def _with_role(deltas: list[Json]) -> list[Json]:
    # OpenAI folds the role into the first tool-call header, but sends a separate
    # empty-content role chunk before text; consumers must cope with both.
    if deltas and "tool_calls" in deltas[0]:
        return [{"role": "assistant", "content": None, **deltas[0], "refusal": None}, *deltas[1:]]
    return [{"role": "assistant", "content": "", "refusal": None}, *deltas]


@dataclass(frozen=True, repr=False)
class Reply:
    """A scripted answer to one request. Immutable; build it with the classmethods.

    The streamed deltas and the non-streaming message are JSON-encoded once, here,
    so serving a request only wraps pre-built strings.
    """

    kind: _Kind
    summary: str  # shown by repr(), e.g. in assert_complete() failures
    deltas: tuple[str, ...] = ()  # encoded delta objects, role first
    message: str = "null"  # encoded non-streaming `message` object
    finish_reason: str | None = None
    prompt_tokens: int | None = None  # None: count the request's words
    completion_tokens: int = 0
    model: str | None = None  # None: echo the request's model
    delay: float = 0.0
    status: int = 200
    error: str = "null"  # encoded OpenAI error object
    retry_after: float | None = None
    seconds: float = 0.0  # how long a stall lasts
    events: tuple[str, ...] = ()  # raw_sse payloads

    def __repr__(self) -> str:
        return f"Reply.{self.summary}"

    @classmethod
    def text(
        cls,
        text: str,
        *,
        chunks: int | None = None,
        model: str | None = None,
        finish_reason: str | None = "stop",
        usage: tuple[int, int] | None = None,
        refusal: str | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """Stream ``text`` (one chunk per word, or ``chunks`` even pieces), then ``refusal``.

        ``finish_reason=None`` imitates a broken server: ``[DONE]`` arrives but no
        chunk ever carries a finish reason. ``usage`` is ``(prompt, completion)``
        tokens; by default the request's word count and the number of chunks.
        ``delay`` seconds pass between chunks.
        """
        pieces = _split_words(text) if chunks is None else _split_even(text, chunks)
        refusal_pieces = _split_words(refusal) if refusal else []
        deltas: list[Json] = [{"content": piece} for piece in pieces]
        deltas += [{"refusal": piece} for piece in refusal_pieces]
        message = {"role": "assistant", "content": text or (None if refusal else ""), "refusal": refusal}
        return cls._completion(
            f"text({_short(text)}, {len(deltas)} chunks)",
            deltas,
            message,
            finish_reason=finish_reason,
            usage=usage,
            model=model,
            delay=delay,
        )

    @classmethod
    def tool_calls(
        cls,
        calls: Sequence[ToolCallSpec],
        *,
        text: str = "",
        arg_chunks: int = 3,
        interleave: bool = True,
        ids: list[str] | None = None,
        finish_reason: str = "tool_calls",
        usage: tuple[int, int] | None = None,
        model: str | None = None,
    ) -> Reply:
        """Stream optional leading ``text``, then tool calls the way OpenAI does.

        Each call is ``(name, arguments)``; a dict is JSON-encoded, a string is sent
        verbatim (so it may be deliberately invalid JSON). The first delta of a call
        carries index, id, type and name; later ones only argument pieces, which
        alternate between calls when ``interleave`` is true.
        """
        if ids is not None and len(ids) != len(calls):
            raise ValueError(f"{len(ids)} ids for {len(calls)} tool calls")
        parsed = [_tool_call(index, spec, ids) for index, spec in enumerate(calls)]
        deltas: list[Json] = [{"content": piece} for piece in _split_words(text)]
        deltas += _tool_deltas(parsed, arg_chunks, interleave)
        message = {
            "role": "assistant",
            "content": text or None,
            "refusal": None,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in parsed
            ],
        }
        names = ", ".join(call.name for call in parsed)
        return cls._completion(
            f"tool_calls([{names}])", deltas, message, finish_reason=finish_reason, usage=usage, model=model
        )

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> Reply:
        """Answer with an OpenAI-style JSON error body (message defaults to the reason phrase)."""
        type_ = type or ("server_error" if status >= 500 else "invalid_request_error")
        return cls(
            kind="http_error",
            summary=f"http_error({status})",
            status=status,
            error=error_object(message or reason(status), type_, code),
            retry_after=retry_after,
        )

    @classmethod
    def error_event(cls, message: str, *, after_text: str = "", code: str | None = None) -> Reply:
        """HTTP 200 stream of ``after_text``, then an ``{"error": ...}`` event, then the end."""
        return cls(
            kind="error_event",
            summary=f"error_event({_short(message)})",
            deltas=cls._partial(after_text),
            error=error_object(message, "server_error", code),
        )

    @classmethod
    def stall(cls, seconds: float, *, after_text: str = "") -> Reply:
        """Stream ``after_text``, go silent for ``seconds`` (or until stop()), then hang up."""
        return cls(kind="stall", summary=f"stall({seconds})", deltas=cls._partial(after_text), seconds=seconds)

    @classmethod
    def drop(cls, *, after_text: str = "") -> Reply:
        """Stream ``after_text``, then close the TCP connection mid-body."""
        return cls(kind="drop", summary=f"drop(after_text={_short(after_text)})", deltas=cls._partial(after_text))

    @classmethod
    def raw_sse(cls, events: list[str], *, status: int = 200) -> Reply:
        """Send each string verbatim as one ``data: <string>`` event; nothing is added."""
        return cls(kind="raw_sse", summary=f"raw_sse({len(events)} events)", status=status, events=tuple(events))

    @classmethod
    def _completion(
        cls,
        summary: str,
        deltas: list[Json],
        message: Json,
        *,
        finish_reason: str | None,
        usage: tuple[int, int] | None,
        model: str | None,
        delay: float = 0.0,
    ) -> Reply:
        return cls(
            kind="completion",
            summary=summary,
            deltas=tuple(dumps(delta) for delta in _with_role(deltas)),
            message=dumps(message),
            finish_reason=finish_reason,
            prompt_tokens=None if usage is None else usage[0],
            completion_tokens=len(deltas) if usage is None else usage[1],
            model=model,
            delay=delay,
        )

    @staticmethod
    def _partial(after_text: str) -> tuple[str, ...]:
        return tuple(dumps(delta) for delta in _with_role([{"content": p} for p in _split_words(after_text)]))


def echo(request: RecordedRequest) -> Reply:
    """The unscripted answer: 'Echo: <last user message>' for plain chat; for structured
    output, tool results or a requested tool call, what the offline echo provider answers."""
    body = request.body or {}
    after_tools = bool(request.messages) and request.messages[-1].get("role") == "tool"
    if body.get("response_format") or after_tools:
        return _like_echo_provider(body)
    if body.get("tools"):
        reply = _like_echo_provider(body)
        if reply.kind == "completion" and '"tool_calls"' in reply.message:
            return reply
    users = [m for m in request.messages if isinstance(m, dict) and m.get("role") == "user"]
    return Reply.text("Echo: " + (text_of(users[-1].get("content")) if users else ""))


def _like_echo_provider(body: Json) -> Reply:
    from ..providers.base import ProviderRequest
    from ..providers.echo import plan_answer

    request = ProviderRequest(
        model=str(body.get("model") or "echo"),
        messages=list(body.get("messages") or []),
        tools=list(body.get("tools") or []),
        tool_choice=body.get("tool_choice"),
        response_format=body.get("response_format"),
        params={k: body[k] for k in ("max_tokens", "max_completion_tokens") if k in body},
    )
    _, completion = plan_answer(request)
    if completion.tool_calls:
        return Reply.tool_calls([(c.name, c.arguments) for c in completion.tool_calls])
    return Reply.text(completion.text, finish_reason=completion.finish_reason)
