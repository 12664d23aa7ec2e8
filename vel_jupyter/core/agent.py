"""Agent: a provider and model, tools, a context manager, and the sessions it holds."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, SessionNotFoundError
from .context import ContextManager
from .message import Message
from .response import Answer
from .session import AsyncTurnStream, Session, validate_session_id
from .tools import Tool, as_tools
from .tree import Node, new_id

if TYPE_CHECKING:
    from ..providers.base import Provider

_MISSING: Any = object()


class Secret:
    """Holds an API key so that no repr, log line or vars() dump can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


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
    ) -> None:
        from ..providers import resolve_provider_name

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
        options: dict[str, Any] = {}
        if base_url is not None:
            options["base_url"] = base_url
        if api_key is not None:
            options["api_key"] = Secret(api_key)
        if timeout is not None:
            options["timeout"] = timeout
        if max_retries is not None:
            options["max_retries"] = max_retries
        self._provider_options = options
        self._provider: Provider | None = None
        if provider is None or isinstance(provider, str):
            self.provider_name = resolve_provider_name(provider, base_url=base_url, api_key=api_key)
        else:
            self._provider = provider
            self.provider_name = getattr(provider, "name", type(provider).__name__)
        self._model = model
        self.tools: dict[str, Tool] = as_tools(tools)
        self.system = system
        self.max_steps = max_steps
        self.params: dict[str, Any] = dict(params or {})
        self.ctxmgr = context_manager if context_manager is not None else ContextManager()
        if not isinstance(self.ctxmgr, ContextManager):
            raise ConfigurationError("context_manager must be a ContextManager (or subclass) instance")
        self.ctxmgr.bind(self)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.RLock()
        self._open_storage(session_storage)

    def __repr__(self) -> str:
        return (
            f"Agent(id={self.id!r}, provider={self.provider_name!r}, model={self.model!r}, "
            f"tools={list(self.tools)}, sessions={len(self._sessions)})"
        )

    @property
    def model(self) -> str:
        """The model name: as given, else ``VEL_MODEL`` for openai, else the provider's default."""
        if self._model:
            return self._model
        if self.provider_name == "openai" and os.environ.get("VEL_MODEL"):
            return os.environ["VEL_MODEL"]
        return str(getattr(self.provider, "default_model", "") or "default")

    @model.setter
    def model(self, name: str) -> None:
        self._model = name

    @property
    def provider(self) -> Provider:
        """The provider instance, created on first use (so importing is cheap)."""
        if self._provider is None:
            from ..providers import create_provider

            with self._lock:
                if self._provider is None:
                    options = {k: (v.get() if isinstance(v, Secret) else v) for k, v in self._provider_options.items()}
                    if self.provider_name != "openai":
                        options = {
                            k: v
                            for k, v in options.items()
                            if k not in ("base_url", "api_key", "timeout", "max_retries")
                        }
                    self._provider = create_provider(self.provider_name, **options)
        return self._provider

    # -- storage (memory only for now; stores plug in here) ------------------------------

    def _open_storage(self, session_storage: Any) -> None:
        if session_storage in (None, "memory"):
            return None
        raise ConfigurationError(f"session_storage={session_storage!r} is not available yet; use 'memory'")

    def _persist_turn(self, session: Session, nodes: list[Node], header: dict[str, Any]) -> None:
        """Write a turn before it becomes visible in memory (a no-op for memory storage)."""

    def _persist_header(self, session: Session, header: dict[str, Any]) -> None:
        """Write a header change (head move, system prompt, settings)."""

    # -- sessions -------------------------------------------------------------------------

    def session(
        self,
        session_id: str | None = None,
        *,
        system: str | None = None,
        messages: Iterable[Message] | None = None,
    ) -> Session:
        """Create a session, or resume ``session_id`` if this agent already has it."""
        with self._lock:
            if session_id is not None:
                validate_session_id(session_id)
                existing = self._sessions.get(session_id)
                if existing is not None:
                    if messages is not None:
                        raise ConfigurationError(
                            f"session {session_id!r} already exists; resume it with agent.session({session_id!r}) "
                            "and add_message(), or pick a new session_id for a pre-populated history"
                        )
                    if system is not None and system != existing.system:
                        existing.system = system
                    return existing
            session = Session(self, session_id or new_id(), system=system if system is not None else self.system)
            self._register(session)
        history = list(messages or [])
        for message in history:
            if not isinstance(message, Message):
                raise ConfigurationError(f"messages= takes Message values, got {type(message).__name__}")
        if history:
            session.replace_history(history)
        return session

    def get_session(self, session_id: str, default: Any = _MISSING) -> Session:
        """The session with that id; raises SessionNotFoundError (or returns ``default``)."""
        session = self._sessions.get(session_id)
        if session is None:
            if default is not _MISSING:
                return default
            known = ", ".join(sorted(self._sessions)[:20]) or "none yet"
            raise SessionNotFoundError(f"no session {session_id!r}; known sessions: {known}")
        return session

    def list_sessions(self) -> list[str]:
        return sorted(self._sessions)

    def delete_session(self, session_id: str) -> bool:
        """Forget a session; returns whether it existed."""
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def _register(self, session: Session) -> None:
        with self._lock:
            self._sessions[session.session_id] = session

    def _fork(self, source: Session, session_id: str) -> Session:
        with self._lock:
            if session_id in self._sessions:
                raise ConfigurationError(f"session {session_id!r} already exists; pick another id for the fork")
            fork = Session(
                self,
                session_id,
                system=source.system,
                tree=source._tree,
                head=source.head,
                heads=[source.head],
                current=0,
                settings=source.settings,
                summaries=dict(source._summaries),
                forked_from={"session_id": source.session_id, "message_id": source.head},
            )
            self._persist_header(fork, fork._header())
            self._register(fork)
            return fork

    # -- guide B ----------------------------------------------------------------------------

    def _session_for_run(self, session_id: str | None) -> Session:
        if session_id is None:  # no session: a one-off conversation nobody keeps
            return Session(self, f"run-{new_id()}", system=self.system)
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
