"""Test doubles for your tests and ours: a scripted provider and a loopback OpenAI server.

Both are scripted with the same vocabulary, ``Reply``::

    from vel_jupyter import Agent
    from vel_jupyter.testing import Reply, ScriptedProvider

    provider = ScriptedProvider()
    provider.enqueue("Hello!", Reply.tool_calls([("lookup", {"q": "x"})]), Reply.http_error(429))
    agent = Agent(provider=provider)

``ScriptedProvider`` answers in-process (no sockets); ``OpenAIServer`` speaks real HTTP and
SSE on 127.0.0.1, so the official ``openai`` client can be tested without mocks::

    with OpenAIServer() as server:
        server.enqueue(Reply.text("Hi there"))
        agent = Agent(provider="openai", base_url=server.base_url, api_key="test")
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ._loopback import OpenAIServer, RecordedRequest, Reply
from .core.message import ToolCall, Usage
from .core.response import StreamEvent
from .errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    StreamError,
)
from .providers.base import Completion, ProviderEvent, ProviderRequest

__all__ = ["OpenAIServer", "RecordedRequest", "Reply", "ScriptedProvider"]

Scripted = Reply | str | BaseException


class ScriptedProvider:
    """A provider that plays back what you enqueue, and records every request.

    ``enqueue`` takes strings (a text answer), ``Reply`` objects (text, tool calls, HTTP
    errors, mid-stream errors, drops, stalls) and exceptions (raised when reached).
    ``calls`` holds the ``ProviderRequest`` of each model call; ``assert_complete()``
    fails if anything enqueued was never used. With an empty queue it raises, so a test
    never silently gets an answer it did not script (pass ``default=`` to change that).
    """

    name = "scripted"
    default_model = "scripted-model"

    def __init__(self, *replies: Scripted, default: Scripted | None = None) -> None:
        self._queue: list[Scripted] = list(replies)
        self.default = default
        self.calls: list[ProviderRequest] = []

    def __repr__(self) -> str:
        return f"ScriptedProvider(pending={len(self._queue)}, calls={len(self.calls)})"

    def enqueue(self, *replies: Scripted) -> None:
        self._queue.extend(replies)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def reset(self) -> None:
        """Forget the replies not used yet and the requests seen (a fresh start between tests)."""
        self._queue.clear()
        self.calls.clear()

    def assert_complete(self) -> None:
        if self._queue:
            raise AssertionError(f"{len(self._queue)} scripted replies were never used: {self._queue!r}")

    def _next(self, request: ProviderRequest) -> Scripted:
        self.calls.append(request)
        if self._queue:
            return self._queue.pop(0)
        if self.default is not None:
            return self.default
        raise AssertionError(f"ScriptedProvider got an unscripted request (call #{len(self.calls)}); enqueue a reply")

    def stream(self, request: ProviderRequest) -> Iterator[ProviderEvent]:
        plan = _plan(self._next(request), request)
        yield from plan.deltas
        if plan.stall:
            time.sleep(plan.stall)
        if plan.error is not None:
            raise plan.error
        assert plan.completion is not None
        yield plan.completion

    async def astream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        plan = _plan(self._next(request), request)
        for delta in plan.deltas:
            await asyncio.sleep(0)
            yield delta
        if plan.stall:
            await asyncio.sleep(plan.stall)
        if plan.error is not None:
            raise plan.error
        assert plan.completion is not None
        yield plan.completion


class _Plan:
    def __init__(
        self,
        deltas: list[StreamEvent],
        completion: Completion | None = None,
        error: BaseException | None = None,
        stall: float = 0.0,
    ) -> None:
        self.deltas = deltas
        self.completion = completion
        self.error = error
        self.stall = stall


def _deltas(reply: Reply) -> list[StreamEvent]:
    out = []
    for raw in reply.deltas:
        content = json.loads(raw).get("content")
        if content:
            out.append(StreamEvent("text_delta", text=content))
    return out


_STATUS_ERRORS: dict[int, type[ProviderError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: ModelNotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def _plan(item: Scripted, request: ProviderRequest) -> _Plan:
    if isinstance(item, BaseException):
        return _Plan([], error=item)
    reply = Reply.text(item) if isinstance(item, str) else item
    partial = "".join(d.text for d in _deltas(reply))
    if reply.kind == "completion":
        message = json.loads(reply.message)
        calls = tuple(
            ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
            for c in message.get("tool_calls") or ()
        )
        prompt_tokens = reply.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in request.messages)
        completion = Completion(
            text=message.get("content") or "",
            finish_reason=reply.finish_reason,
            tool_calls=calls,
            usage=Usage(prompt_tokens, reply.completion_tokens),
            model=reply.model or request.model,
            refusal=message.get("refusal"),
        )
        return _Plan(_deltas(reply), completion)
    if reply.kind == "http_error":
        error = json.loads(reply.error)["message"]
        cls = _STATUS_ERRORS.get(reply.status, ProviderUnavailableError)
        kwargs: dict[str, Any] = {"status_code": reply.status, "provider": "scripted"}
        if cls is RateLimitError:
            kwargs["retry_after"] = reply.retry_after
        return _Plan([], error=cls(f"scripted HTTP {reply.status}: {error}", **kwargs))
    if reply.kind == "error_event":
        message = json.loads(reply.error)["message"]
        return _Plan(_deltas(reply), error=StreamError(f"scripted error mid-stream: {message}", partial_text=partial))
    if reply.kind == "drop":
        return _Plan(_deltas(reply), error=StreamError("scripted dropped connection", partial_text=partial))
    if reply.kind == "stall":
        return _Plan(
            _deltas(reply),
            error=ProviderTimeoutError("scripted stall timed out", partial_text=partial),
            stall=reply.seconds,
        )
    raise ConfigurationError(f"{reply!r} needs the HTTP server (OpenAIServer), not ScriptedProvider")
