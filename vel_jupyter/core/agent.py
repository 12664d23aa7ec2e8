"""Agent: a provider and model, tools, a context manager, and the sessions it holds."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..errors import ConfigurationError, SessionNotFoundError, UnconfirmedServerError
from .context import ContextManager
from .listing import SessionSummary
from .message import Message
from .ports import adapters
from .repository import Repository
from .response import Answer
from .secrets import KEYRING, MASK, MissingKeyError, Secret, default_server, origin
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
        options: dict[str, Any] = {}
        if base_url is not None:
            options["base_url"] = _url_secret(base_url)
        if api_key is not None:
            KEYRING.keep_value(api_key)
            options["api_key"] = Secret(api_key)
        # An api_key= belongs to the server it was given with (the default one when none was):
        # it is sent there and nowhere else, whatever URL a session later names.
        self._key_origin = origin(options["base_url"].get() if "base_url" in options else default_server())
        if timeout is not None:
            options["timeout"] = timeout
        if max_retries is not None:
            options["max_retries"] = max_retries
        self._provider_options = options
        self._provider: Provider | None = None
        self._providers: dict[tuple[str, str | None], Provider] = {}  # per-session overrides
        # What was asked for ("openai if configured, else echo" for None): reconfigure() resolves it again.
        self._provider_request = provider if isinstance(provider, str) else None
        self._own_provider = provider is not None and not isinstance(provider, str)  # an instance: never replaced
        if provider is None or isinstance(provider, str):
            self.provider_name = adapters().resolve_provider_name(provider, base_url=base_url, api_key=api_key)
        else:
            self._provider = provider
            self.provider_name = getattr(provider, "name", type(provider).__name__)
        self._model = model
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
        if self._model:
            return self._model
        if self.provider_name == "openai" and os.environ.get("VEL_MODEL"):
            return os.environ["VEL_MODEL"]
        return str(getattr(self.provider, "default_model", "") or "default")

    @model.setter
    def model(self, name: str) -> None:
        self._model = name

    def reconfigure(self, **changes: Any) -> None:
        """Change the defaults of sessions with no setting of their own: ``provider``,
        ``model``, ``base_url`` (``None`` removes one). ``%config ChatMagics.base_url = ...``
        does this, so a server configured after the agent was made is the one used."""
        unknown = set(changes) - {"provider", "model", "base_url"}
        if unknown:
            raise ConfigurationError(f"reconfigure() takes provider, model or base_url, not {sorted(unknown)}")
        with self._lock:
            if "model" in changes:
                self._model = changes["model"]
            if "base_url" in changes:
                if changes["base_url"] is None:
                    self._provider_options.pop("base_url", None)
                else:
                    self._provider_options["base_url"] = _url_secret(changes["base_url"])
            if "provider" in changes:
                self._provider_request = changes["provider"]
            if ("provider" in changes or "base_url" in changes) and not self._own_provider:
                url = self._provider_options.get("base_url")
                key = self._provider_options.get("api_key")
                self.provider_name = adapters().resolve_provider_name(
                    self._provider_request, base_url=url and url.get(), api_key=key and key.get()
                )
                self._provider = None
                self._providers.clear()

    def provider_name_for(self, name: str | None, base_url: str | None) -> str:
        """Which provider a session with these settings uses (same fallback rules as the agent)."""
        if name is None and base_url is None:
            return self.provider_name
        if name in (None, "echo") and base_url is not None:
            # A session's own server URL is what it asked for, whatever the agent's default (and
            # echo, which has no server, cannot be what a URL was given for).
            return "openai"
        api_key = self._provider_options.get("api_key")
        return adapters().resolve_provider_name(name, base_url=base_url, api_key=api_key and "set")

    def provider_for(self, name: str | None, base_url: str | None, *, session_id: str | None = None) -> Provider:
        """The provider for a session's own ``provider``/``base_url`` settings (cached).

        ``base_url`` is the stored (redacted) form; the whole URL comes from this process's
        key ring, and when it is not there (a new process) the error says what to supply.
        """
        if name is None and base_url is None:
            return self.provider
        if base_url is not None and not KEYRING.accepted(base_url):
            raise _unconfirmed(base_url, session_id)
        resolved = self.provider_name_for(name, base_url)
        key = (resolved, base_url)
        with self._lock:
            provider = self._providers.get(key)
            if provider is None:
                options = self._options_for(_revealed(base_url, session_id) if base_url is not None else None)
                if resolved != "openai":
                    options = {}
                provider = self._providers[key] = adapters().create_provider(resolved, **options)
            return provider

    @property
    def provider(self) -> Provider:
        """The provider instance, created on first use (so importing is cheap)."""
        if self._provider is None:
            with self._lock:
                if self._provider is None:
                    options = self._options_for(None)
                    if self.provider_name != "openai":
                        options = {
                            k: v
                            for k, v in options.items()
                            if k not in ("base_url", "api_key", "timeout", "max_retries")
                        }
                    self._provider = adapters().create_provider(self.provider_name, **options)
        return self._provider

    def _options_for(self, url: str | None) -> dict[str, Any]:
        """Provider options for talking to ``url`` (None: the agent's own server): the api_key
        only when ``url`` is the server it was given for."""
        options = {k: (v.get() if isinstance(v, Secret) else v) for k, v in self._provider_options.items()}
        if url is not None:
            options["base_url"] = url
        target = options.get("base_url") or default_server()
        if "api_key" in options and origin(target) != self._key_origin:
            del options["api_key"]
        return options

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


def _url_secret(url: str) -> Secret:
    """A server URL as a Secret (a key in it, user:KEY@ or ?api-key=KEY, is one); a URL given
    in its stored form (with ``***``) is looked up in this process's key ring."""
    full = _revealed(url, None)
    return Secret(full, KEYRING.keep(full))


def _unconfirmed(base_url: str, session_id: str | None) -> UnconfirmedServerError:
    """One line for a session whose server came with saved data: what to name to use it."""
    who = f"session {session_id!r}" if session_id else "this session"
    if MASK in base_url:  # a key was in the URL: the whole URL is needed again anyway
        what = f"give the whole URL again (session.configure(base_url=...), %chat config {session_id or 'ID'} --base-url URL"
    else:
        what = f"name it (session.configure(base_url='{base_url}'), %chat config {session_id or 'ID'} --base-url {base_url}"
    return UnconfirmedServerError(
        f"{who} talks to {base_url}, a server that came with saved data (a notebook or a store) and was not named "
        f"in this process, so nothing was sent; to use it, {what}, or OPENAI_BASE_URL)",
        session_id=session_id,
        url=base_url,
    )


def _revealed(base_url: str, session_id: str | None) -> str:
    """The whole URL behind a stored one, or one line that says what to supply."""
    try:
        return KEYRING.reveal(base_url)
    except MissingKeyError:
        who = f"session {session_id!r}" if session_id else "this session"
        flag = f"%%chat {session_id} --base-url '<the whole URL>'" if session_id else "session.configure(base_url=...)"
        raise ConfigurationError(
            f"{who} talks to {base_url}, whose key is never stored and is not in this process: "
            f"give the whole URL again ({flag}, or set OPENAI_BASE_URL to it)"
        ) from None


def _prompt_of(input: str | dict[str, Any]) -> str:
    if isinstance(input, str):
        return input
    if isinstance(input, dict) and isinstance(input.get("message"), str):
        return str(input["message"])
    raise ConfigurationError(f"agent.run() takes a str or {{'message': 'text'}}, got {input!r:.80}")
