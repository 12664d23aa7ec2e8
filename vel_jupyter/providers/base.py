"""The provider protocol: one request in, a stream of text deltas and one Completion out.

Requests and histories use the OpenAI chat format (a list of ``{"role", "content", ...}``
dicts), which every OpenAI-compatible server speaks and guide B's context managers
return. A provider implements ``astream``; ``stream`` (sync) defaults to driving
``astream`` on a private loop, and providers with a native sync client override it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .._loop import iterate_sync
from ..core.message import ToolCall, Usage
from ..core.response import StreamEvent


@dataclass(frozen=True)
class ProviderRequest:
    """Everything a provider needs for one model call."""

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | None = None
    response_format: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    """The last item of every provider stream: how the model call ended."""

    text: str
    finish_reason: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    model: str = ""
    refusal: str | None = None


ProviderEvent = StreamEvent | Completion


@runtime_checkable
class Provider(Protocol):
    """What the engine needs from a model backend.

    Both methods yield ``StreamEvent(type="text_delta")`` items and then exactly one
    ``Completion``. A stream that ends without a Completion is a failed call. Errors
    are raised as ``vel_jupyter.errors.ProviderError`` subclasses.
    """

    name: str
    default_model: str

    def stream(self, request: ProviderRequest) -> Iterator[ProviderEvent]: ...

    def astream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]: ...


class BaseProvider:
    """Convenience base: implement ``astream``; ``stream`` is derived from it."""

    name = "base"
    default_model = ""

    def astream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        raise NotImplementedError(f"{type(self).__name__} must implement astream()")

    def stream(self, request: ProviderRequest) -> Iterator[ProviderEvent]:
        return iterate_sync(self.astream(request))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
