"""Provider registry: names to factories, plus third-party providers from entry points.

A package adds a provider by declaring, in its pyproject::

    [project.entry-points."vel_jupyter.providers"]
    myllm = "my_package:MyProvider"

where ``MyProvider(**options)`` returns an object following ``base.Provider``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from ..errors import UnknownProviderError
from .base import BaseProvider, Completion, Provider, ProviderEvent, ProviderRequest

__all__ = [
    "FALLBACK_NOTICE",
    "BaseProvider",
    "Completion",
    "Provider",
    "ProviderEvent",
    "ProviderRequest",
    "available_providers",
    "create_provider",
    "register_provider",
    "resolve_provider_name",
    "set_fallback_notice",
]

ENTRY_POINT_GROUP = "vel_jupyter.providers"
ProviderFactory = Callable[..., Provider]


def _openai(**options: Any) -> Provider:
    from .openai import OpenAIProvider  # lazy: importing openai costs ~0.5 s

    return OpenAIProvider(**options)


def _echo(**options: Any) -> Provider:
    from .echo import EchoProvider

    return EchoProvider(**options)


_factories: dict[str, ProviderFactory] = {"echo": _echo, "openai": _openai}
_lock = threading.Lock()


def register_provider(name: str, factory: ProviderFactory) -> None:
    """Make ``factory(**options)`` available as ``Agent(provider=name)``."""
    with _lock:
        _factories[name] = factory


def _from_entry_points(name: str) -> ProviderFactory | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            factory: ProviderFactory = ep.load()
            register_provider(name, factory)
            return factory
    return None


def available_providers() -> list[str]:
    names = set(_factories) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def create_provider(name: str, **options: Any) -> Provider:
    """Build the provider registered as ``name`` with its options (base_url, api_key, ...)."""
    factory = _factories.get(name) or _from_entry_points(name)
    if factory is None:
        raise UnknownProviderError(
            f"unknown provider {name!r}; available: {', '.join(available_providers())}. "
            "Third-party providers register under the 'vel_jupyter.providers' entry point."
        )
    return factory(**options)


FALLBACK_NOTICE = (
    "vel_jupyter: no OPENAI_API_KEY or OPENAI_BASE_URL is set, so the offline 'echo' provider answers "
    "(set one of them, or pass base_url= to Agent() or session.configure(), to use a model)"
)
"""The line a script prints on stderr the first time a turn runs on the fallback echo."""

_notice_shown = False


def _notice_on_stderr() -> None:
    global _notice_shown
    if not _notice_shown:
        _notice_shown = True
        print(FALLBACK_NOTICE, file=sys.stderr)


_notice: Callable[[], None] = _notice_on_stderr


def set_fallback_notice(show: Callable[[], None] | None) -> None:
    """How a turn on the fallback echo is announced: ``show()`` is called before each such turn
    (the notebook prints its own words, once per kernel). None: ``FALLBACK_NOTICE`` on stderr,
    once per process."""
    global _notice
    _notice = show if show is not None else _notice_on_stderr


def resolve_provider_name(name: str | None, *, base_url: str | None, api_key: str | None, turn: bool = False) -> str:
    """Pick the provider: ``openai`` when it is configured, else the offline ``echo``.

    Asking for ``openai`` with no key and no base URL anywhere also falls back to echo, so
    every example runs offline. ``turn=True``: a turn is about to run on the answer, and a
    fallback is announced (see ``set_fallback_notice``): never when an agent is only made.
    """
    if name not in (None, "openai"):
        return name
    configured = base_url or api_key or os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
    if configured:
        return "openai"
    if turn:
        _notice()
    return "echo"
