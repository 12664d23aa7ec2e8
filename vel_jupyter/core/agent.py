"""Agent: a provider and model, tools, a context manager, and the sessions it holds."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..errors import AgentError, ConfigurationError, SessionDataError, SessionNotFoundError, StoreError
from .context import ContextManager
from .message import Message
from .response import Answer
from .session import AsyncTurnStream, Session, new_header, node_from_dict, node_to_dict, session_from_dict
from .tools import Tool, as_tools
from .tree import MessageTree, Node, new_id, validate_session_id

if TYPE_CHECKING:
    from ..providers.base import Provider
    from ..stores.base import SessionStore

T = TypeVar("T")

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
        allow_incomplete: bool = True,
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
        self._providers: dict[tuple[str, str | None], Provider] = {}  # per-session overrides
        if provider is None or isinstance(provider, str):
            self.provider_name = resolve_provider_name(provider, base_url=base_url, api_key=api_key)
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
        self._sessions: dict[str, Session] = {}
        self._listeners: list[Callable[[Session], None]] = []
        self._lock = threading.RLock()
        from ..stores import open_store

        self._store: SessionStore | None = open_store(session_storage)

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

    def provider_name_for(self, name: str | None, base_url: str | None) -> str:
        """Which provider a session with these settings uses (same fallback rules as the agent)."""
        if name is None and base_url is None:
            return self.provider_name
        from ..providers import resolve_provider_name

        api_key = self._provider_options.get("api_key")
        return resolve_provider_name(name or self.provider_name, base_url=base_url, api_key=api_key and "set")

    def provider_for(self, name: str | None, base_url: str | None) -> Provider:
        """The provider for a session's own ``provider``/``base_url`` settings (cached)."""
        if name is None and base_url is None:
            return self.provider
        resolved = self.provider_name_for(name, base_url)
        key = (resolved, base_url)
        with self._lock:
            provider = self._providers.get(key)
            if provider is None:
                from ..providers import create_provider

                options = {k: (v.get() if isinstance(v, Secret) else v) for k, v in self._provider_options.items()}
                if base_url is not None:
                    options["base_url"] = base_url
                if resolved != "openai":
                    options = {}
                provider = self._providers[key] = create_provider(resolved, **options)
            return provider

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

    # -- storage ----------------------------------------------------------------------

    @property
    def store(self) -> SessionStore | None:
        """Where sessions are persisted (None: in this process only)."""
        return self._store

    def _write(self, session: Session, nodes: list[Node], header: dict[str, Any]) -> None:
        """Persist a header change and new messages; the session's memory is not touched yet."""
        store = self._store
        if store is None or not session.persistent:
            return
        from ..stores.base import HeadConflict, TurnStore, join_record

        try:
            if isinstance(store, TurnStore):
                expected = session.rev if session.rev > 0 else None
                store.append(session.session_id, [node_to_dict(n) for n in nodes], header, expected)
            else:  # a four-method store: save the whole session as it will be
                known = session._tree.closure([*session._heads, session.head])
                messages = [node_to_dict(n) for n in [*known, *nodes]]
                store.save(session.session_id, join_record(header, messages))
        except HeadConflict:
            raise
        except StoreError as exc:
            if repr(session.session_id) in str(exc):
                raise
            raise StoreError(f"could not save session {session.session_id!r}: {exc}") from exc
        except AgentError:
            raise
        except Exception as exc:
            raise StoreError(
                f"could not save session {session.session_id!r} ({type(exc).__name__}: {exc}); "
                "nothing was changed: check the store, then retry"
            ) from exc

    def _persist_turn(self, session: Session, nodes: list[Node], header: dict[str, Any]) -> None:
        self._write(session, nodes, header)

    def _persist_header(self, session: Session, header: dict[str, Any]) -> None:
        self._write(session, [], header)

    def _sync(self, session: Session) -> None:
        """Before a turn: one header read tells whether another process moved the session."""
        from ..stores.base import TurnStore

        store = self._store
        if store is None or not session.persistent or session.rev == 0 or not isinstance(store, TurnStore):
            return
        sid = session.session_id
        header = _store_call(sid, lambda: store.read_header(sid))
        if header is None:
            raise StoreError(
                f"session {sid!r} is no longer in the store (deleted or expired); start it again with "
                f"agent.session({sid!r}), or restore it with store.save({sid!r}, session.to_dict())"
            )
        if header.get("rev") != session.rev:
            self._refresh(session)

    def _refresh(self, session: Session) -> None:
        """Catch up with what other processes wrote to this session."""
        from ..stores.base import TurnStore

        store = self._store
        if store is None or not isinstance(store, TurnStore):
            return
        sid = session.session_id
        header = _store_call(sid, lambda: store.read_header(sid))
        if header is None:
            raise StoreError(f"session {sid!r} was deleted from the store by another process")
        fetched: dict[str, Node] = {}
        wanted = [h for h in [header.get("head"), *(header.get("heads") or [])] if h and h not in session._tree]
        while wanted:
            batch = wanted
            rows = _store_call(sid, lambda batch=batch: store.read_messages(batch))  # type: ignore[misc]
            missing = set(batch) - {row["id"] for row in rows}
            if missing:
                raise StoreError(f"session {sid!r}: messages {sorted(missing)} are missing from the store")
            wanted = []
            for row in rows:
                node = node_from_dict(row, sid)
                fetched[node.id] = node
                parent = node.parent_id
                if parent is not None and parent not in session._tree and parent not in fetched:
                    wanted.append(parent)
        session._absorb(header, _parents_first(fetched, session._tree))

    def _load(self, session_id: str) -> Session | None:
        store = self._store
        if store is None:
            return None
        data = _store_call(session_id, lambda: store.load(session_id))
        if data is None:
            return None
        try:
            session = session_from_dict(data, self)
        except SessionDataError as exc:
            raise StoreError(f"the store holds unreadable data: {exc}") from None
        self._register(session)
        return session

    def _create(self, session: Session) -> Session:
        """Write a new session; if another process created it first, use theirs."""
        from ..stores.base import HeadConflict

        try:
            session._update_header()
        except HeadConflict:
            loaded = self._load(session.session_id)
            if loaded is None:
                raise StoreError(f"session {session.session_id!r} could not be created; retry") from None
            return loaded
        self._register(session)
        return session

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
                existing = self._sessions.get(session_id) or self._load(session_id)
                if existing is not None:
                    if messages is not None:
                        raise ConfigurationError(
                            f"session {session_id!r} already exists; resume it with agent.session({session_id!r}) "
                            "and add_message(), or pick a new session_id for a pre-populated history"
                        )
                    if system is not None and system != existing.system:
                        existing.system = system
                    return existing
            header = new_header(session_id or new_id(), system=system if system is not None else self.system)
            session = self._create(Session(self, header))
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
        session = self._sessions.get(session_id) or self._load(session_id)
        if session is None:
            if default is not _MISSING:
                return default
            known = ", ".join(sorted(self._sessions)[:20]) or "none yet"
            raise SessionNotFoundError(f"no session {session_id!r}; known sessions: {known}")
        return session

    def list_sessions(self) -> list[str]:
        """Ids of this agent's sessions: live ones and, with a store, every stored one."""
        store = self._store
        stored = _store_call("*", store.list_sessions) if store is not None else []
        return sorted(set(self._sessions) | set(stored))

    def delete_session(self, session_id: str) -> bool:
        """Forget a session (and delete it from the store); returns whether it existed."""
        with self._lock:
            live = self._sessions.pop(session_id, None) is not None
            store = self._store
            stored = _store_call(session_id, lambda: store.delete(session_id)) if store is not None else False
            return live or bool(stored)

    def add_listener(self, callback: Callable[[Session], None]) -> None:
        """Call ``callback(session)`` after any session of this agent changes (turns, forks, checkouts)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[Session], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _notify(self, session: Session) -> None:
        for callback in list(self._listeners):
            try:
                callback(session)
            except Exception as exc:  # a broken view must not break a committed turn
                import warnings

                warnings.warn(f"vel_jupyter listener {callback!r} failed: {exc}", RuntimeWarning, stacklevel=2)

    def _register(self, session: Session) -> None:
        with self._lock:
            self._sessions[session.session_id] = session

    def _fork(self, source: Session, session_id: str, at: str | None) -> Session:
        with self._lock:
            if session_id in self._sessions or self._load(session_id) is not None:
                raise ConfigurationError(f"session {session_id!r} already exists; pick another id for the fork")
            header = new_header(
                session_id,
                system=source.system,
                settings=source.settings,
                head=at,
                forked_from={"session_id": source.session_id, "message_id": at},
                lineage=[source.session_id, *source.lineage],
            )
            header["summaries"] = list(source._h["summaries"])
            return self._create(Session(self, header, tree=source._tree))

    # -- guide B ----------------------------------------------------------------------------

    def _session_for_run(self, session_id: str | None) -> Session:
        if session_id is None:  # no session: a one-off conversation nobody keeps
            session = Session(self, new_header(f"run-{new_id()}", system=self.system))
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


def _store_call(session_id: str, call: Callable[[], T]) -> T:
    """Run a store read; any failure becomes a StoreError naming the session."""
    try:
        return call()
    except StoreError as exc:
        if session_id == "*" or repr(session_id) in str(exc):
            raise
        raise StoreError(f"could not read session {session_id!r}: {exc}") from exc
    except AgentError:
        raise
    except Exception as exc:
        raise StoreError(
            f"could not read session {session_id!r} from the store ({type(exc).__name__}: {exc}); "
            "check that the store is reachable, then retry"
        ) from exc


def _parents_first(nodes: dict[str, Node], tree: MessageTree) -> list[Node]:
    ordered: list[Node] = []
    placed: set[str] = set()
    pending = list(nodes.values())
    while pending:
        rest = [n for n in pending if not (n.parent_id is None or n.parent_id in tree or n.parent_id in placed)]
        for node in pending:
            if node not in rest:
                ordered.append(node)
                placed.add(node.id)
        if len(rest) == len(pending):
            raise StoreError(f"messages {[n.id for n in rest][:5]} have parents that are not stored")
        pending = rest
    return ordered


def _prompt_of(input: str | dict[str, Any]) -> str:
    if isinstance(input, str):
        return input
    if isinstance(input, dict) and isinstance(input.get("message"), str):
        return str(input["message"])
    raise ConfigurationError(f"agent.run() takes a str or {{'message': 'text'}}, got {input!r:.80}")
