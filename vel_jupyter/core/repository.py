"""The one owner of persistence: loaded sessions, their trees, and every store call.

A ``Repository`` belongs to an ``Agent``. It keeps the identity map (one ``Session`` object
per id, one ``MessageTree`` per conversation tree, shared by a session and its forks) and
is the only code that talks to the store: create, load, fork, delete, list, the pre-turn
sync, refresh, and the compare-and-swap loop that commits turns and header changes.

Every operation that touches the store is written once, as a generator of *steps* — a store
call (``_Io``) or a back-off pause (``_Pause``) — and driven either synchronously or from
async code, where store calls run in a worker thread and pauses are awaited: the event loop
never waits on a database. No lock is held while a store call runs; concurrent writers are
serialised by the store's compare-and-swap on the header revision. (A user's four-method
store has no compare-and-swap, so writes to one session through it are serialised by a
per-session lock instead.)
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import AgentError, SessionDataError, StoreError
from ..formats import clean_text
from ..formats.records import damaged, join_record
from .catch_up import CatchUp
from .listing import SessionSummary, list_summaries
from .message import Message
from .ports import HeadConflict, TurnStore
from .restore import Restore
from .secrets import redact_text
from .serialize import new_header, node_to_dict, parse_record
from .session import Session
from .state import SessionState
from .steps import MAX_CONFLICT_RETRIES, Io, Pause, Steps, backoff, run_steps, run_steps_async
from .store_reads import chainable, store_call
from .transitions import moved_heads, next_header
from .tree import MessageTree, Node, new_id, utcnow

if TYPE_CHECKING:
    from .agent import Agent
    from .context import SummaryRecord
    from .ports import SessionStore

T = TypeVar("T")


class Repository(CatchUp, Restore):
    """Sessions of one agent and their persistence in ``store`` (None: this process only)."""

    def __init__(self, agent: Agent, store: SessionStore | None) -> None:
        self.agent = agent
        self.store = store
        # The same store, typed for its incremental capability (None for a four-method store).
        self._turns: TurnStore | None = store if isinstance(store, TurnStore) else None
        self._incremental = self._turns is not None
        self._sessions: dict[str, Session] = {}
        self._trees: weakref.WeakValueDictionary[str, MessageTree] = weakref.WeakValueDictionary()
        self._save_locks: dict[str, threading.Lock] = {}
        # Each session's state, which only this repository writes (a Session reads its own).
        self._states: weakref.WeakKeyDictionary[Session, SessionState] = weakref.WeakKeyDictionary()
        self._lock = threading.RLock()  # guards the maps above; never held during a store call

    # -- the identity map ----------------------------------------------------------------------

    def loaded(self) -> list[Session]:
        """The sessions this process holds, by id."""
        with self._lock:
            return [self._sessions[sid] for sid in sorted(self._sessions)]

    def tree_for(self, tree_id: str) -> MessageTree:
        """The one in-memory tree for ``tree_id`` (shared by every loaded session in it)."""
        with self._lock:
            tree = self._trees.get(tree_id)
            if tree is None:
                tree = self._trees[tree_id] = MessageTree()
            return tree

    def new_session(self, header: dict[str, Any], tree: MessageTree | None = None) -> Session:
        """A session handle on ``header`` in ``tree`` (a new tree when None), not registered."""
        state = SessionState(header, tree)
        session = Session(self.agent, state)
        self._states[session] = state
        return session

    def state_of(self, session: Session) -> SessionState:
        """The state behind ``session`` (this repository's sessions only): the repository writes
        it; the context window reads the path from it through ``Session.path_view``."""
        return self._states[session]

    def _absorb(self, session: Session, header: dict[str, Any], nodes: Iterable[Node] = (), **how: Any) -> None:
        """Apply a header (and nodes) to ``session``'s state, then tell its views."""
        if self._states[session].absorb(header, nodes, **how):
            self.agent.notify(session)

    def register(self, session: Session) -> Session:
        with self._lock:
            self._sessions[session.session_id] = session
        return session

    def cached(self, session_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(session_id)

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, session_id: str) -> Session | None:
        """The session, from this process or else the store; None if neither has it."""
        session = self.cached(session_id)
        if session is not None:
            return session
        store = self.store
        if store is None:
            return None
        data = store_call(session_id, lambda: store.load(session_id))
        return None if data is None else self._session_from_record(session_id, data)

    def exists(self, session_id: str) -> bool:
        if self.cached(session_id) is not None:
            return True
        store = self.store
        if store is None:
            return False
        turns = self._turns
        try:
            if turns is not None:
                return store_call(session_id, lambda: turns.read_header(session_id)) is not None
            return store_call(session_id, lambda: store.load(session_id)) is not None
        except SessionDataError:
            return True  # stored, though damaged

    def list_ids(self) -> list[str]:
        """Ids of the sessions in this process and, with a store, every stored one."""
        store = self.store
        stored = store_call("*", store.list_sessions) if store is not None else []
        with self._lock:
            live = {sid for sid, s in self._sessions.items() if s.persistent}
        return sorted(live | set(stored))

    def summaries(self) -> list[SessionSummary]:
        """A line per session for listings, from headers only where the store can (no messages)."""
        return list_summaries(self.store, self._turns, self.loaded(), self.agent.model)

    def _session_from_record(self, session_id: str, data: Any) -> Session:
        """The session a store's record holds (the record is data from outside: checked whole)."""

        if isinstance(data, dict) and data.get("session_id") != session_id:
            data = {**data, "session_id": session_id}  # a record saved under another id is that session
        try:
            header, parsed = parse_record(data)
        except SessionDataError as exc:
            raise damaged(exc, session_id) from None
        if isinstance(header.get("system"), str):  # the one text rule (formats.text), as for every message
            header["system"] = clean_text(header["system"])
        with self._lock:
            existing = self._sessions.get(header["session_id"])
            if existing is not None:
                return existing
            tree = self.tree_for(header["tree"])
            with tree.lock:
                for node in parsed.nodes():
                    tree.add(node)
            return self.register(self.new_session(header, tree))

    # -- creating, forking, deleting, restoring --------------------------------------------------

    def create(self, session_id: str | None, *, system: str | None) -> Session:
        """A new, empty session, written to the store; one created meanwhile elsewhere wins."""

        header = new_header(session_id or new_id(), system=system)
        return self._create(self.new_session(header, self.tree_for(header["tree"])))

    def fork(self, source: Session, session_id: str, at: str | None) -> Session:
        from ..errors import ConfigurationError

        if self.exists(session_id):
            raise ConfigurationError(f"session {session_id!r} already exists; pick another id for the fork")
        header = new_header(
            session_id,
            tree=source.tree_id,
            system=source.system,
            settings=source.settings,
            head=at,
            forked_from={"session_id": source.session_id, "message_id": at},
            lineage=[source.session_id, *source.lineage],
        )
        header["summaries"] = [s.to_dict() for s in source.summaries.values()]
        if at == source.head:  # the fork's stats are its origin's: no walk through the history
            header["stats"] = source.stats
        return self._create(self.new_session(header, self._states[source].tree))

    def _create(self, session: Session) -> Session:
        try:
            self.update_header(session)
        except HeadConflict:  # created by someone else between our check and our write
            with self._lock:
                self._sessions.pop(session.session_id, None)
            loaded = self.get(session.session_id)
            if loaded is None:
                raise StoreError(f"session {session.session_id!r} could not be created; retry") from None
            return loaded
        self.register(session)
        self.agent.notify(session)  # again, now that it is loaded: views of its family list it
        return session

    def delete(self, session_id: str) -> bool:
        """Forget a session and delete its header from the store; its tree stays while others use it."""
        with self._lock:
            gone = self._sessions.pop(session_id, None)
        store = self.store
        stored = store_call(session_id, lambda: store.delete(session_id)) if store is not None else False
        if gone is not None:
            self.agent.notify(gone)  # views of its family drop it
        return gone is not None or bool(stored)

    # -- commits ----------------------------------------------------------------------------------------

    def commit(self, session: Session, messages: list[Message], **where: Any) -> list[Node]:
        """Append ``messages`` as one atomic step: the store first, then memory (see ``_commit_steps``)."""
        return run_steps(self._commit_steps(session, messages, **where))

    async def commit_async(self, session: Session, messages: list[Message], **where: Any) -> list[Node]:
        return await run_steps_async(self._commit_steps(session, messages, **where))

    def update_header(self, session: Session, **changes: Any) -> None:
        """Write a header change (system prompt, settings, checkout...) the same careful way."""
        run_steps(self._header_steps(session, changes))

    def sync(self, session: Session) -> None:
        """Before a turn: one header read tells whether another process moved the session."""
        run_steps(self._sync_steps(session))

    async def sync_async(self, session: Session) -> None:
        await run_steps_async(self._sync_steps(session))

    def _commit_steps(
        self,
        session: Session,
        messages: list[Message],
        *,
        parent: str | None = None,
        explicit_parent: bool = False,
        cell_id: str | None = None,
        summary: SummaryRecord | None = None,
    ) -> Steps[list[Node]]:
        """If another process moved the session meanwhile (the store's compare-and-swap fails),
        the session is refreshed and the messages are appended after the new head: nothing is
        lost and each branch stays one chain."""

        def build() -> tuple[list[Node], dict[str, Any], str | None, int]:
            with self._states[session].tree.lock:
                base = parent if explicit_parent else session.head
                now = utcnow()
                nodes: list[Node] = []
                parent_id = base
                for message in messages:
                    node = Node(new_id(), parent_id, message, session.session_id, now, cell_id)
                    nodes.append(node)
                    parent_id = node.id
                state = self._states[session]
                header = next_header(
                    state, now, added=nodes, **moved_heads(state.header, base, parent_id, explicit_parent)
                )
                if summary is not None:
                    header["summaries"] = [*header["summaries"], summary.to_dict()]
                return nodes, header, base, session.rev

        if self.store is None or not session.persistent:
            with self._states[session].tree.lock:
                nodes, header, base, _ = build()
                self._absorb(session, header, nodes, extends=base)
            return nodes
        if not self._incremental:
            # No compare-and-swap: build, save and apply under the session's lock, all in the
            # step (so in a worker thread from async code, never blocking the event loop).
            def save() -> list[Node]:
                with self._save_lock(session):
                    nodes, header, base, rev = build()
                    self._write(session, nodes, header, rev)
                    self._absorb(session, header, nodes, extends=base)
                    return nodes

            result: list[Node] = yield Io(save)
            return result
        for attempt in range(MAX_CONFLICT_RETRIES):
            nodes, header, base, rev = build()
            try:
                yield Io(lambda: self._write(session, nodes, header, rev))  # noqa: B023 - used at once
            except HeadConflict:
                pass
            else:
                self._absorb(session, header, nodes, extends=base)
                return nodes
            yield Pause(backoff(attempt))
            yield from self._refresh_steps(session)
        raise StoreError(
            f"session {session.session_id!r} kept changing in another process; the turn was not added, retry it"
        )

    def _header_steps(self, session: Session, changes: dict[str, Any]) -> Steps[None]:
        if self.store is None or not session.persistent:
            with self._states[session].tree.lock:
                self._absorb(session, next_header(self._states[session], utcnow(), **changes))
            return
        if not self._incremental:

            def save() -> None:
                with self._save_lock(session):
                    header, rev = next_header(self._states[session], utcnow(), **changes), session.rev
                    self._write(session, [], header, rev)
                    self._absorb(session, header)

            yield Io(save)
            return
        for attempt in range(MAX_CONFLICT_RETRIES):
            with self._states[session].tree.lock:
                header, rev = next_header(self._states[session], utcnow(), **changes), session.rev
            try:
                yield Io(lambda: self._write(session, [], header, rev))  # noqa: B023 - used at once
            except HeadConflict:
                if rev == 0:
                    raise  # a new session: _create decides
            else:
                self._absorb(session, header)
                return
            yield Pause(backoff(attempt))
            yield from self._refresh_steps(session)
        raise StoreError(f"session {session.session_id!r} kept changing in another process; retry")

    def _save_lock(self, session: Session) -> threading.Lock:
        """Serialises one session's writes through a four-method store (it has no compare-and-swap).

        With an incremental store the compare-and-swap does that job, and no lock is held
        while the store is called.
        """
        with self._lock:
            lock = self._save_locks.get(session.session_id)
            if lock is None:
                lock = self._save_locks[session.session_id] = threading.Lock()
            return lock

    def _write(self, session: Session, nodes: Iterable[Node], header: dict[str, Any], rev: int | None) -> None:
        """Persist a header and new messages; the session's memory is not touched."""
        store = self.store
        assert store is not None
        sid = session.session_id
        try:
            if self._turns is not None:
                self._turns.append(sid, [node_to_dict(n) for n in nodes], header, rev if rev else None)
            else:  # a four-method store: save the whole session as it will be (its new heads' paths)
                with self._states[session].tree.lock:
                    known = self._states[session].tree.nodes()
                store.save(sid, join_record(header, [node_to_dict(n) for n in [*known, *nodes]]))
        except HeadConflict:
            raise
        except StoreError as exc:
            if repr(sid) in str(exc):
                raise
            raise StoreError(redact_text(f"could not save session {sid!r}: {exc}")) from chainable(exc)
        except AgentError:
            raise
        except Exception as exc:
            raise StoreError(
                redact_text(
                    f"could not save session {sid!r} ({type(exc).__name__}: {exc}); "
                    "nothing was changed: check the store, then retry"
                )
            ) from chainable(exc)
