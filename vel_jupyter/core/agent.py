"""Agent: a provider and model, tools, a context manager, and the sessions it holds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..errors import ConfigurationError, SessionNotFoundError
from .context import ContextManager
from .listing import SessionSummary
from .message import Message
from .ports import adapters
from .repository import Repository
from .response import Answer
from .routing import Routing
from .serialize import new_header
from .session import AsyncTurnStream, Session
from .tools import Tool, as_tools
from .tree import new_id, validate_session_id

if TYPE_CHECKING:
    from .ports import Provider, SessionStore

T = TypeVar("T")

_MISSING: Any = object()


class Agent:
    """Talks to one model; holds the sessions of its conversations.

    Guide A: ``Agent(provider="openai", model="gpt-4o", tools=[...])``, then
    ``agent.session(...)``. Guide B: ``Agent(id=..., model={"provider": ..., "model": ...},
    session_storage="memory", context_manager=...)``, then ``await agent.run(...)``.
    With no API key and no base URL configured, the offline ``echo`` provider answers.
    """

    def __init__(
        self,
        provider: str | Provider | None = None,
        model: str | dict[str, Any] | None = None,
        *,
        id: str | None = None,
        tools: Iterable[Tool | Any] = (),
        system: str | None = None,
        session_storage: Any = "memory",
        context_manager: ContextManager | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_steps: int = 10,
        params: dict[str, Any] | None = None,
        allow_incomplete: bool = True,
    ) -> None:
        if isinstance(model, dict):
            config = dict(model)
            provider = provider or config.pop("provider", None)
            base_url = base_url or config.pop("base_url", None)
            api_key = api_key or config.pop("api_key", None)
            model = config.pop("model", None)
            params = {**config, **(params or {})}  # anything else: request parameters
        if model is not None and not isinstance(model, str):
            raise ConfigurationError(f"model must be a name like 'gpt-4o' or a dict, got {type(model).__name__}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ConfigurationError(f"max_steps must be a positive int, got {max_steps!r}")
        self.id = id or "agent"
        self.routing = Routing(
            provider, model, base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )
        self.tools: dict[str, Tool] = as_tools(tools)
        self.system = system
        self.max_steps = max_steps
        # Keep answers cut off at max_tokens (marked by finish_reason); False: raise instead.
        self.allow_incomplete = bool(allow_incomplete)
        self.params: dict[str, Any] = dict(params or {})
        self.ctxmgr = context_manager if context_manager is not None else ContextManager()
        if not isinstance(self.ctxmgr, ContextManager):
            raise ConfigurationError("context_manager must be a ContextManager (or subclass) instance")
        self.ctxmgr.bind(self)
        self._listeners: list[Callable[[Session], None]] = []
        self._lock = threading.RLock()
        self.repository = Repository(self, adapters().open_store(session_storage))

    def __repr__(self) -> str:
        return (
            f"Agent(id={self.id!r}, provider={self.provider_name!r}, model={self.model!r}, "
            f"tools={list(self.tools)}, sessions={len(self.repository.loaded())})"
        )

    @property
    def model(self) -> str:
        """The model name: as given, else ``VEL_MODEL`` for openai, else the provider's default."""
        return self.routing.model

    @model.setter
    def model(self, name: str) -> None:
        self.routing.model = name

    @property
    def provider_name(self) -> str:
        """The provider sessions without a setting of their own use (``openai``, ``echo``, ...)."""
        return self.routing.provider_name

    @property
    def provider(self) -> Provider:
        """The provider instance, created on first use (so importing is cheap)."""
        return self.routing.provider

    def reconfigure(self, **changes: Any) -> None:
        """Change the defaults of sessions with no setting of their own: ``provider``,
        ``model``, ``base_url`` (``None`` removes one). ``%config ChatMagics.base_url = ...``
        does this, so a server configured after the agent was made is the one used."""
        self.routing.reconfigure(**changes)

    def provider_name_for(self, name: str | None, base_url: str | None) -> str:
        """Which provider a session with these settings uses (same fallback rules as the agent)."""
        return self.routing.provider_name_for(name, base_url)

    def provider_for(self, name: str | None, base_url: str | None, *, session_id: str | None = None) -> Provider:
        """The provider for a session's own ``provider``/``base_url`` settings (cached)."""
        return self.routing.provider_for(name, base_url, session_id=session_id)

    # -- storage ----------------------------------------------------------------------

    @property
    def store(self) -> SessionStore | None:
        """Where sessions are persisted (None: in this process only)."""
        return self.repository.store

    # -- sessions -------------------------------------------------------------------------

    def session(
        self,
        session_id: str | None = None,
        *,
        system: str | None = None,
        messages: Iterable[Message] | None = None,
    ) -> Session:
        """Create a session, or resume ``session_id`` if this agent or its store has it."""
        with self._lock:
            if session_id is not None:
                validate_session_id(session_id)
                existing = self.repository.get(session_id)
                if existing is not None:
                    if messages is not None:
                        raise ConfigurationError(
                            f"session {session_id!r} already exists; resume it with agent.session({session_id!r}) "
                            "and add_message(), or pick a new session_id for a pre-populated history"
                        )
                    if system is not None and system != existing.system:
                        existing.system = system
                    return existing
            session = self.repository.create(session_id, system=system if system is not None else self.system)
        history = list(messages or [])
        for message in history:
            if not isinstance(message, Message):
                raise ConfigurationError(f"messages= takes Message values, got {type(message).__name__}")
        if history:
            session.replace_history(history)
        return session

    @overload
    def get_session(self, session_id: str) -> Session: ...

    @overload
    def get_session(self, session_id: str, default: T) -> Session | T: ...

    def get_session(self, session_id: str, default: Any = _MISSING) -> Any:
        """The session with that id; raises SessionNotFoundError (or returns ``default``)."""
        session = self.repository.get(session_id)
        if session is None:
            if default is not _MISSING:
                return default
            known = ", ".join(s.session_id for s in self.repository.loaded()[:20]) or "none yet"
            raise SessionNotFoundError(f"no session {session_id!r}; known sessions: {known}")
        return session

    def list_sessions(self) -> list[str]:
        """Ids of this agent's sessions: live ones and, with a store, every stored one."""
        return self.repository.list_ids()

    def session_summaries(self) -> list[SessionSummary]:
        """One line per session (id, model, messages, branches, tokens, updated), from headers only."""
        return self.repository.summaries()

    def loaded_sessions(self) -> list[Session]:
        """The sessions this process holds (a store may have more: ``list_sessions()``)."""
        return self.repository.loaded()

    def delete_session(self, session_id: str) -> bool:
        """Forget a session (and delete it from the store); returns whether it existed.

        Messages that other sessions (its forks, or its origin) still reach are kept.
        """
        return self.repository.delete(session_id)

    def add_listener(self, callback: Callable[[Session], None]) -> None:
        """Call ``callback(session)`` after any session of this agent changes (turns, forks, checkouts)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[Session], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def notify(self, session: Session) -> None:
        """Tell the listeners that ``session`` changed (the repository calls this)."""
        for callback in list(self._listeners):
            try:
                callback(session)
            except Exception as exc:  # a broken view must not break a committed turn
                import warnings

                warnings.warn(f"vel_jupyter listener {callback!r} failed: {exc}", RuntimeWarning, stacklevel=2)

    # -- guide B ----------------------------------------------------------------------------

    def _session_for_run(self, session_id: str | None) -> Session:
        if session_id is None:  # no session: a one-off conversation nobody keeps
            session = self.repository.new_session(new_header(f"run-{new_id()}", system=self.system))
            session.persistent = False
            return session
        return self.session(session_id=session_id)

    async def run(self, input: str | dict[str, Any], session_id: str | None = None, **params: Any) -> Answer:
        """Guide B: ``await agent.run({'message': ...}, session_id=...)``; returns the answer text."""
        session = self._session_for_run(session_id)
        response = await session.run_async(_prompt_of(input), **params)
        return Answer(response)

    def run_stream(self, input: str | dict[str, Any], session_id: str | None = None, **params: Any) -> AsyncTurnStream:
        """Guide B: ``async for event in agent.run_stream(...)``; history kept like ``run``."""
        return self._session_for_run(session_id).stream_async(_prompt_of(input), **params)


def _prompt_of(input: str | dict[str, Any]) -> str:
    if isinstance(input, str):
        return input
    if isinstance(input, dict) and isinstance(input.get("message"), str):
        return str(input["message"])
    raise ConfigurationError(f"agent.run() takes a str or {{'message': 'text'}}, got {input!r:.80}")
