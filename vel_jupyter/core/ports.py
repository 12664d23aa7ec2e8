"""The ports: what the engine needs from a model backend and from a store, and how the
outer layer plugs its adapters in.

The engine (``core``) is written against these protocols only. ``providers`` and ``stores``
implement them; the package root (``vel_jupyter/__init__``, the composition root) plugs the
factories that turn a name or a URL into one (``plug``), so the dependencies point one way:
``providers`` and ``stores`` import ``core``, never the reverse. A program that wants other
adapters (a test, an embedding application) calls ``plug`` with its own.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigurationError
from .message import ToolCall, Usage
from .response import StreamEvent

# -- a model backend ------------------------------------------------------------------------


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


# -- a store ------------------------------------------------------------------------------------


class SessionStore:
    """Base class of every store, and all a custom store needs to implement.

    Subclasses override the four methods below (guide A's "Custom Store"); a store with
    only these works everywhere a built-in one does, saving the whole session each turn.
    """

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        """Store ``data`` (a ``Session.to_dict()``) under ``session_id``, replacing what was there."""
        raise NotImplementedError

    def load(self, session_id: str) -> dict[str, Any] | None:
        """The data last saved under ``session_id``, or None if there is none (or it expired)."""
        raise NotImplementedError

    def delete(self, session_id: str) -> bool:
        """Remove the session; True if it existed."""
        raise NotImplementedError

    def list_sessions(self) -> list[str]:
        """Ids of every stored, unexpired session, sorted."""
        raise NotImplementedError


class HeadConflict(Exception):
    """Another writer changed the session since we read it (compare-and-swap failed)."""

    def __init__(self, session_id: str, expected: int | None, found: int | None) -> None:
        super().__init__(f"session {session_id!r} changed: expected revision {expected}, found {found}")
        self.session_id = session_id
        self.expected = expected
        self.found = found


@runtime_checkable
class TurnStore(Protocol):
    """Incremental writes into conversation trees: a turn costs O(1) in history length.

    ``append`` inserts ``messages`` into the tree ``header["tree"]`` (ids the tree already has
    are kept as they are) and writes ``header`` as the session's, in one transaction, only if
    the stored revision is ``expected_rev`` and the stored header points into the same tree
    (``expected_rev`` None: the session must not exist, or be expired); otherwise it raises
    HeadConflict and writes nothing — so a writer still holding a session that was deleted and
    started again (a new tree) can never write into it. A header naming a head, or messages
    naming a parent, that the tree does not hold is refused with StoreError (the tree was freed
    meanwhile): no session can ever point at a missing message.
    """

    def append(
        self, session_id: str, messages: list[dict[str, Any]], header: dict[str, Any], expected_rev: int | None
    ) -> None: ...

    def read_header(self, session_id: str) -> dict[str, Any] | None: ...

    def read_messages(self, tree: str, ids: Iterable[str]) -> list[dict[str, Any]]: ...

    def list_summaries(self) -> list[dict[str, Any]]:
        """A line per live session, sorted by id, from headers alone (see ``summary_of``)."""
        ...


@runtime_checkable
class ExpiringStore(Protocol):
    """Sessions that expire: ``ttl`` seconds after their last write (store-wide or per session)."""

    def purge_expired(self) -> int: ...


# -- the adapters the package root plugs in ------------------------------------------------------

ProviderFactory = Callable[..., Provider]
"""``create_provider(name, **options)``: the provider registered as ``name``."""
ProviderChooser = Callable[..., str]
"""``resolve_provider_name(name, *, base_url, api_key, turn=False)``: which provider a request for
``name`` means (``turn=True``: a turn is about to run on it, and a fallback is announced)."""
StoreOpener = Callable[[Any], "SessionStore | None"]
"""``open_store(spec)``: a ``session_storage=`` value as a store (None: this process only)."""


@dataclass(frozen=True)
class Adapters:
    """The outer layer's factories, as ``plug`` received them."""

    create_provider: ProviderFactory
    resolve_provider_name: ProviderChooser
    open_store: StoreOpener


_plugged: dict[str, Any] = {}
_current: Adapters | None = None
_lock = threading.Lock()


def plug(
    *,
    create_provider: ProviderFactory | None = None,
    resolve_provider_name: ProviderChooser | None = None,
    open_store: StoreOpener | None = None,
) -> None:
    """Give the engine the functions that make providers and stores (the ones given replace)."""
    global _current
    given = {
        "create_provider": create_provider,
        "resolve_provider_name": resolve_provider_name,
        "open_store": open_store,
    }
    with _lock:
        _plugged.update({name: value for name, value in given.items() if value is not None})
        _current = Adapters(**_plugged) if len(_plugged) == len(given) else None


def adapters() -> Adapters:
    """What is plugged in; importing ``vel_jupyter`` plugs the built-in providers and stores."""
    if _current is None:
        raise ConfigurationError(
            "vel_jupyter's providers and stores are not plugged in: import vel_jupyter (its __init__ plugs them), "
            "or call vel_jupyter.core.ports.plug(...)"
        )
    return _current
