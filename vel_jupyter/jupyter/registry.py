"""The kernel's sessions: one Agent (provider, model, store) and every session it holds.

``%%chat`` cells and Python code share it: ``vel_jupyter.sessions()`` returns its sessions,
``vel_jupyter.registry()`` the registry itself.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from ..core.agent import Agent
from ..core.context import ContextManager
from ..core.listing import SessionSummary
from ..core.secrets import KEYRING
from ..core.session import Session
from ..core.tree import Node
from ..errors import SessionNotFoundError
from .shown import ShownTrees, ShownTurns

if TYPE_CHECKING:
    import pandas


DEFAULT_MAX_TOKENS = 2048
"""The notebook's default answer cap (``%config ChatMagics.max_tokens``): a chat answer rarely needs
more (about 1,500 words), and a model that loops stops within seconds instead of filling its
context. The engine has none, as the OpenAI API has none: a script asks for what it wants."""


class Registry:
    """Named sessions of this kernel, backed by a store (memory unless configured).

    ``defaults`` (provider, model, base_url, system) are applied to sessions when they are
    created; a session keeps its own settings afterwards.
    """

    def __init__(self, *, store: Any = None, context_window: int | None = None, **defaults: Any) -> None:
        self.defaults: dict[str, Any] = {k: v for k, v in defaults.items() if v is not None}
        self.context_window = context_window
        # What a %%chat turn may generate when neither the cell nor the session says (None: no cap).
        self.max_tokens: int | None = DEFAULT_MAX_TOKENS
        self.keep_stopped = True  # %config ChatMagics.keep_stopped: a stopped turn keeps its answer so far
        self._lock = threading.RLock()
        spec: Any = store if store is not None else os.environ.get("VEL_STORE") or "memory"
        self.shown = ShownTurns()  # %%chat outputs, redrawn when their session moves off (or back on) them
        self.shown_trees = ShownTrees()  # %chat tree outputs, redrawn when their family changes
        self.agent = self._make_agent(spec)
        self.store_spec = _shown(spec)

    def __repr__(self) -> str:
        store = self.agent.store
        return f"<Registry sessions={len(self.agent.list_sessions())} store={store!r}>"

    def _make_agent(self, store: Any) -> Agent:
        context = ContextManager(max_history=self.context_window) if self.context_window else None
        agent = Agent(
            provider=self.defaults.get("provider"),
            model=self.defaults.get("model"),
            base_url=self.defaults.get("base_url"),
            session_storage=store,
            context_manager=context,
        )
        agent.add_listener(self.shown.changed)
        agent.add_listener(self.shown_trees.changed)
        return agent

    # -- sessions ------------------------------------------------------------------------

    def get(self, session_id: str, *, create: bool = False) -> Session:
        """The session ``session_id``; with ``create=True`` a new one if it does not exist."""
        with self._lock:
            existing = self.agent.get_session(session_id, default=None)
            if existing is not None:
                return existing
            if not create:
                raise SessionNotFoundError(self._unknown(session_id))
            session = self.agent.session(session_id=session_id, system=self.defaults.get("system"))
            settings = {k: self.defaults[k] for k in ("provider", "model", "base_url") if k in self.defaults}
            if settings:
                session.configure(**settings)
            return session

    def _unknown(self, session_id: str) -> str:
        known = ", ".join(self.ids())
        if not known:
            return (
                f"this kernel has no session {session_id!r} yet: after a restart, %chat restore --notebook "
                f"NOTEBOOK.ipynb brings back the sessions a saved notebook holds; a %%chat {session_id} cell starts it anew"
            )
        return f"no session {session_id!r}; sessions: {known} (name one of them)"

    def set_default(self, name: str, value: Any) -> None:
        """A new default (``provider``, ``model``, ``base_url``; None removes it): sessions
        created from now on take it as their own setting, and sessions with no setting of their
        own use it from their next turn."""
        with self._lock:
            if value is None:
                self.defaults.pop(name, None)
            else:
                self.defaults[name] = value
            self.agent.reconfigure(**{name: value})

    def ids(self) -> list[str]:
        return self.agent.list_sessions()

    def summaries(self) -> list[SessionSummary]:
        """A line per session (id, model, messages, branches, tokens, updated), from headers only."""
        return self.agent.session_summaries()

    def sessions(self) -> dict[str, Session]:
        """Every session by id (stored ones are loaded)."""
        return {sid: self.agent.get_session(sid) for sid in self.ids()}

    def fork(self, source: str, new: str) -> Session:
        return self.get(source).fork(session_id=new)

    def delete(self, session_id: str) -> bool:
        if not self.agent.delete_session(session_id):
            raise SessionNotFoundError(self._unknown(session_id))
        return True

    def restore(self) -> list[str]:
        """Load every stored session into this kernel (after a restart); returns their ids."""
        return sorted(self.sessions())

    def use_store(self, store: Any) -> None:
        """Switch to another store, copying this kernel's sessions into it (nothing is lost).

        A session the new store holds already keeps its stored version. The kernel's sessions
        are copied with ``Session.from_dict``, so a family (a session and its forks) lands in
        one conversation tree of the new store, whatever order their ids sort in.
        """
        with self._lock:
            current = [self.agent.get_session(sid) for sid in self.ids()]
            agent = self._make_agent(store)
            stored = set(agent.list_sessions())
            for session in current:
                if session.session_id not in stored:
                    Session.from_dict(session.to_dict(), agent)
            self.agent = agent
            self.store_spec = _shown(store)

    def set_context_window(self, messages: int | None) -> None:
        """Send at most ``messages`` history messages from now on (None: all); sessions stay as they are."""
        with self._lock:
            self.context_window = messages
            context = ContextManager(max_history=messages) if messages else ContextManager()
            context.bind(self.agent)
            self.agent.ctxmgr = context

    def to_dataframe(self, *, branches: bool = False) -> pandas.DataFrame:
        """Every message of every session, one row each (see ``Session.to_dataframe``)."""
        from ..export.dataframe import sessions_to_dataframe

        return sessions_to_dataframe(self.sessions().values(), branches=branches)


def turn_parent(session: Session, cell_id: str | None, append: bool) -> dict[str, Any]:
    """Where a cell's turn attaches: re-running a cell regenerates its turn as a new branch.

    If the cell already has a turn on the current path, the new turn branches from just
    before it (re-running an earlier cell branches from that point); otherwise it appends.
    """
    if append or cell_id is None:
        return {}
    previous = _cell_turn(session.nodes, cell_id)
    if previous is None:
        return {}
    return {"parent": previous.parent_id}


def forked_by(session: Session, origin: str, cell_id: str) -> bool:
    """Whether ``cell_id`` made ``session`` as a fork of ``origin`` (``%%chat ID --fork-from
    ORIGIN``): the fork is of ``origin`` and this cell asked its first turn (a question right
    below the fork point)."""
    forked_from = session.forked_from
    if forked_from is None or forked_from["session_id"] != origin:
        return False
    return any(
        n.cell_id == cell_id and n.session_id == session.session_id and n.message.role == "user"
        for n in session.children(forked_from["message_id"])
    )


def _cell_turn(path: list[Node], cell_id: str) -> Node | None:
    for node in path:
        if node.cell_id == cell_id and node.message.role == "user":
            return node
    return None


_registry: Registry | None = None
_registry_lock = threading.Lock()


def registry() -> Registry:
    """This kernel's registry (created with defaults on first use)."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = Registry()
        return _registry


def set_registry(new: Registry) -> None:
    global _registry
    with _registry_lock:
        _registry = new


def sessions() -> dict[str, Session]:
    """Every session of this kernel's registry, by id."""
    return registry().sessions()


def _shown(spec: Any) -> Any:
    """A store URL as it may be kept and shown (its password ``***``, the whole URL only in
    this process's key ring); any other spec as it is."""
    return KEYRING.keep(spec) if isinstance(spec, str) else spec
