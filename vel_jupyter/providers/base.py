"""The provider protocol (defined by the engine, ``core.ports``) and a base class for providers.

One request in, a stream of text deltas and one Completion out.

Requests and histories use the OpenAI chat format (a list of ``{"role", "content", ...}``
dicts), which every OpenAI-compatible server speaks and guide B's context managers
return. A provider implements ``astream``; ``stream`` (sync) defaults to driving
``astream`` on a private loop, and providers with a native sync client override it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from .._loop import iterate_sync
from ..core.ports import Completion, Provider, ProviderEvent, ProviderRequest

__all__ = ["BaseProvider", "Completion", "Provider", "ProviderEvent", "ProviderRequest"]


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
