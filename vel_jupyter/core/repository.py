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

import asyncio
import random
import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ..errors import AgentError, SessionDataError, StoreError
from ..formats import check_links, check_message, check_record, clean_text
from ..formats.records import damaged, header_heads, join_record, stored_header, summary_line, summary_of, tree_of
from .message import Message
from .ports import HeadConflict, TurnStore
from .secrets import redact_text
from .serialize import new_header, node_from_dict, node_to_dict, parse_record
from .session import Session
from .state import SessionState
from .transitions import moved_heads, next_header
from .tree import MessageTree, Node, new_id, utcnow

if TYPE_CHECKING:
    from .agent import Agent
    from .context import SummaryRecord
    from .ports import SessionStore

T = TypeVar("T")

MAX_CONFLICT_RETRIES = 100
"""Compare-and-swap retries before a busy session gives up."""


@dataclass(frozen=True)
class _Io:
    """A store call: run inline (sync) or in a worker thread (async)."""

    call: Callable[[], Any]


@dataclass(frozen=True)
class _Pause:
    seconds: float


Steps = Generator[_Io | _Pause, Any, T]


class SessionSummary(NamedTuple):
    """What ``%chat list`` shows of a session, read from its header alone (a tuple: listings are long).

    ``damaged`` is why a stored session cannot be loaded (one line naming the field, as loading
    it would raise), or None: a listing shows a damaged session beside the others.
    """

    session_id: str
    model: str
    messages: int
    branches: int
    tokens: int
    updated: str  # ISO 8601, as stored; ``updated_at`` parses it
    damaged: str | None = None

    @property
    def updated_at(self) -> datetime:
        """When it was last written (``datetime.min``, in UTC, when a damaged header does not say)."""
        try:
            return datetime.fromisoformat(self.updated)
        except ValueError:
            return datetime.min.replace(tzinfo=timezone.utc)


def _backoff(attempt: int) -> float:
    # A random, growing wait keeps two busy writers from colliding in lock-step.
    return random.uniform(0, min(0.05, 0.0005 * 2**attempt))


class Repository:
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

    # -- driving steps ----------------------------------------------------------------------

    def _run(self, steps: Steps[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.send(value) if error is None else steps.throw(error)
            except StopIteration as done:
                return done.value
            value, error = None, None
            if isinstance(step, _Pause):
                time.sleep(step.seconds)
                continue
            try:
                value = step.call()
            except Exception as exc:
                error = exc

    async def _run_async(self, steps: Steps[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.send(value) if error is None else steps.throw(error)
            except StopIteration as done:
                return done.value
            value, error = None, None
            if isinstance(step, _Pause):
                await asyncio.sleep(step.seconds)
                continue
            try:
                value = await asyncio.to_thread(step.call)
            except Exception as exc:
                error = exc

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
        data = _store_call(session_id, lambda: store.load(session_id))
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
                return _store_call(session_id, lambda: turns.read_header(session_id)) is not None
            return _store_call(session_id, lambda: store.load(session_id)) is not None
        except SessionDataError:
            return True  # stored, though damaged

    def list_ids(self) -> list[str]:
        """Ids of the sessions in this process and, with a store, every stored one."""
        store = self.store
        stored = _store_call("*", store.list_sessions) if store is not None else []
        with self._lock:
            live = {sid for sid, s in self._sessions.items() if s.persistent}
        return sorted(live | set(stored))

    def summaries(self) -> list[SessionSummary]:
        """A line per session for listings, from headers only where the store can (no messages).

        A session whose stored data is damaged is listed with its problem (``damaged``), never
        left out, and never stops the listing of the others.
        """
        lines: dict[str, dict[str, Any]] = {}
        store = self.store
        if self._turns is not None:
            for raw in _store_call("*", self._turns.list_summaries):
                sid = raw.get("session_id") if isinstance(raw, dict) else None
                if isinstance(sid, str):  # (built-in stores check their lines; a store of the user's may not)
                    lines[sid] = summary_line(sid, raw) or {
                        **summary_of({}, session_id=sid),
                        "damaged": f"session {sid!r}: the store gave an unreadable listing line",
                    }
        elif store is not None:  # a four-method store: only whole records can be read
            for sid in _store_call("*", store.list_sessions):
                lines[sid] = self._summary_of_record(store, sid)
        for session in self.loaded():  # what this process holds is at least as fresh
            if session.persistent:
                lines[session.session_id] = summary_of(session.header())
        default_model = self.agent.model
        return [
            SessionSummary(
                line["session_id"],
                line["model"] or default_model,
                line["messages"],
                line["branches"],
                line["tokens"],
                line["updated_at"] or "",
                line.get("damaged"),
            )
            for line in (lines[sid] for sid in sorted(lines))
            if line
        ]

    @staticmethod
    def _summary_of_record(store: SessionStore, sid: str) -> dict[str, Any]:
        """The listing line of a four-method store's session: its whole record, checked."""
        data: Any = None
        try:
            data = _store_call(sid, lambda: store.load(sid))
            if data is None:
                return {}  # deleted meanwhile
            check_record({**data, "session_id": sid} if isinstance(data, dict) else data, f"session {sid!r}")
        except (SessionDataError, StoreError) as exc:
            return {**summary_of(data if isinstance(data, dict) else {}, session_id=sid), "damaged": str(exc)}
        return summary_of({"stats": _stats_of_record(data), **data, "session_id": sid}, session_id=sid, check=True)

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
        stored = _store_call(session_id, lambda: store.delete(session_id)) if store is not None else False
        if gone is not None:
            self.agent.notify(gone)  # views of its family drop it
        return gone is not None or bool(stored)

    def adopt(self, data: Any) -> Session:
        """``Session.from_dict``: register the session and, with a store, write it there.

        When the store holds the session already, the record is merged into it: its messages
        join the stored tree, its header (head, system prompt, settings) becomes the session's,
        and stored branches the record does not know stay reachable as further branches.
        """

        header, parsed = parse_record(data)
        sid = header["session_id"]
        with self._lock:
            old = self._sessions.pop(sid, None)
        try:
            if self.store is None:
                tree = self.tree_for(header["tree"])
                with tree.lock:
                    for node in parsed.nodes():
                        tree.add(node)
                session = self.new_session(header, tree)
            else:
                session = self._run(self._restore_steps(header, parsed))
        except BaseException:
            if old is not None:
                self.register(old)
            raise
        return self.register(session)

    def _restore_steps(self, record: dict[str, Any], parsed: MessageTree) -> Steps[Session]:

        sid = record["session_id"]
        nodes = parsed.nodes()
        turns, store = self._turns, self.store
        assert store is not None
        for attempt in range(MAX_CONFLICT_RETRIES):
            # What is stored is data from outside: checked before it is merged with the record.
            if turns is not None:
                stored = yield _Io(_reader(sid, partial(turns.read_header, sid)))
                stored = None if stored is None else _checked_header(sid, stored)
                stored_messages: list[dict[str, Any]] = []
            else:
                whole = yield _Io(_reader(sid, partial(store.load, sid)))
                if whole is not None:
                    whole = {**whole, "session_id": sid} if isinstance(whole, dict) else whole
                    try:
                        check_record(whole, f"session {sid!r}")
                    except SessionDataError as exc:
                        raise damaged(exc, sid) from None
                stored = None if whole is None else {k: v for k, v in whole.items() if k != "messages"}
                stored_messages = [] if whole is None else list(whole.get("messages") or [])
            header = {**record, "updated_at": utcnow().isoformat()}
            expected = None
            if stored is not None:
                expected = int(stored.get("rev") or 0)
                header["tree"] = stored.get("tree") or header["tree"]  # the record joins the stored tree
                kept = [h for h in header_heads(stored) if h not in parsed]  # branches the record lacks
                header["heads"] = [*header["heads"], *kept]
            header["rev"] = (expected or 0) + 1
            tree = self.tree_for(header["tree"])
            with tree.lock:
                for node in nodes:
                    tree.add(node)
                for entry in stored_messages:
                    if entry.get("id") not in tree:
                        tree.add(node_from_dict(entry, sid, checked=True))
            session = self.new_session({**header, "rev": expected or 0}, tree)
            try:
                if turns is not None:
                    yield _Io(partial(self._write, session, nodes, header, expected))
                else:
                    everything = [*stored_messages, *(node_to_dict(n) for n in nodes)]
                    yield _Io(partial(store.save, sid, join_record(header, everything)))
            except HeadConflict:
                yield _Pause(_backoff(attempt))
                continue
            self._states[session].apply(header)
            if turns is not None and any(h not in tree for h in header_heads(header)):
                yield from self._absorb_steps(session, header)  # the stored branches' messages
            return session
        raise StoreError(f"session {sid!r} kept changing in another process; it was not restored, retry")

    # -- commits ----------------------------------------------------------------------------------------

    def commit(self, session: Session, messages: list[Message], **where: Any) -> list[Node]:
        """Append ``messages`` as one atomic step: the store first, then memory (see ``_commit_steps``)."""
        return self._run(self._commit_steps(session, messages, **where))

    async def commit_async(self, session: Session, messages: list[Message], **where: Any) -> list[Node]:
        return await self._run_async(self._commit_steps(session, messages, **where))

    def update_header(self, session: Session, **changes: Any) -> None:
        """Write a header change (system prompt, settings, checkout...) the same careful way."""
        self._run(self._header_steps(session, changes))

    def sync(self, session: Session) -> None:
        """Before a turn: one header read tells whether another process moved the session."""
        self._run(self._sync_steps(session))

    async def sync_async(self, session: Session) -> None:
        await self._run_async(self._sync_steps(session))

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

            result: list[Node] = yield _Io(save)
            return result
        for attempt in range(MAX_CONFLICT_RETRIES):
            nodes, header, base, rev = build()
            try:
                yield _Io(lambda: self._write(session, nodes, header, rev))  # noqa: B023 - used at once
            except HeadConflict:
                pass
            else:
                self._absorb(session, header, nodes, extends=base)
                return nodes
            yield _Pause(_backoff(attempt))
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

            yield _Io(save)
            return
        for attempt in range(MAX_CONFLICT_RETRIES):
            with self._states[session].tree.lock:
                header, rev = next_header(self._states[session], utcnow(), **changes), session.rev
            try:
                yield _Io(lambda: self._write(session, [], header, rev))  # noqa: B023 - used at once
            except HeadConflict:
                if rev == 0:
                    raise  # a new session: _create decides
            else:
                self._absorb(session, header)
                return
            yield _Pause(_backoff(attempt))
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
            raise StoreError(redact_text(f"could not save session {sid!r}: {exc}")) from _chainable(exc)
        except AgentError:
            raise
        except Exception as exc:
            raise StoreError(
                redact_text(
                    f"could not save session {sid!r} ({type(exc).__name__}: {exc}); "
                    "nothing was changed: check the store, then retry"
                )
            ) from _chainable(exc)

    def _sync_steps(self, session: Session) -> Steps[None]:
        turns = self._turns
        if turns is None or not session.persistent or session.rev == 0:
            return
        sid = session.session_id
        header = yield _Io(lambda: _store_call(sid, lambda: turns.read_header(sid)))
        if header is None:
            raise StoreError(
                f"session {sid!r} is no longer in the store (deleted or expired); start it again with "
                f"agent.session({sid!r}), or restore it with Session.from_dict(data, agent)"
            )
        header = _checked_header(sid, header)
        if header.get("rev") != session.rev:
            yield from self._absorb_steps(session, header)

    def _refresh_steps(self, session: Session) -> Steps[None]:
        """Catch up with what other processes wrote to this session."""
        turns = self._turns
        if turns is None:
            return
        sid = session.session_id
        header = yield _Io(lambda: _store_call(sid, lambda: turns.read_header(sid)))
        if header is None:
            raise StoreError(f"session {sid!r} was deleted from the store by another process")
        yield from self._absorb_steps(session, _checked_header(sid, header))

    def _absorb_steps(self, session: Session, header: dict[str, Any]) -> Steps[None]:
        """Take a checked stored header, and the messages it needs, as the session's state.

        Rows are data from outside: each is checked and their parent links must reach the
        tree without a loop, before anything changes in memory.
        """
        turns = self._turns
        assert turns is not None
        sid = session.session_id
        tree_id = tree_of(header)
        restarted = tree_id != session.tree_id
        tree = self.tree_for(tree_id) if restarted else self._states[session].tree
        fetched: dict[str, Node] = {}
        wanted = [h for h in [header.get("head"), *(header.get("heads") or [])] if h and h not in tree]
        while wanted:
            batch = list(dict.fromkeys(wanted))
            rows: list[Any] = yield _Io(_reader(sid, partial(turns.read_messages, tree_id, batch)))
            found: dict[str, dict[str, Any]] = {}
            for row in rows:
                mid = row.get("id") if isinstance(row, dict) else None
                try:
                    check_message(row, f"session {sid!r}: message {mid!r}")
                except SessionDataError as exc:
                    raise damaged(exc, sid) from None
                if row["id"] in batch:
                    found[row["id"]] = row
            missing = set(batch) - set(found)
            if missing:
                raise StoreError(f"session {sid!r}: messages {sorted(missing)} are missing from its tree")
            wanted = []
            for row in found.values():
                node = node_from_dict(row, sid, checked=True)
                fetched[node.id] = node
                parent = node.parent_id
                if parent is not None and parent not in tree and parent not in fetched:
                    wanted.append(parent)
        parents = {node.id: node.parent_id for node in fetched.values()}
        try:
            check_links(
                parents, f"session {sid!r}", outside=[p for p in parents.values() if p is not None and p in tree]
            )
        except SessionDataError as exc:
            raise damaged(exc, sid) from None
        if restarted:
            # Deleted and started again (or replaced) elsewhere: a new conversation under the same
            # id. Take it, and refuse the action that was meant for the old one.
            with tree.lock:
                for node in _parents_first(fetched, tree):
                    tree.add(node)
            self._states[session].rebase(header, tree)
            self.agent.notify(session)
            raise StoreError(
                f"session {sid!r} was deleted from the store by another process and started again (or replaced); "
                "this session now shows that conversation, and nothing was changed: look at it, then retry"
            )
        self._absorb(session, header, _parents_first(fetched, tree), stored=True)


def _stats_of_record(data: dict[str, Any]) -> dict[str, int]:
    """``stats`` of a record whose header has none (written before format 2): walk its head."""
    by_id = {m.get("id"): m for m in data.get("messages") or [] if isinstance(m, dict)}
    count = tokens = 0
    current = data.get("head")
    while current is not None and current in by_id:
        message = by_id[current]
        meta = message.get("meta") or {}
        count += 1
        tokens += int(meta.get("prompt_tokens") or 0) + int(meta.get("completion_tokens") or 0)
        current = message.get("parent_id")
    return {"messages": count, "tokens": tokens}


def _reader(session_id: str, call: Callable[[], T]) -> Callable[[], T]:
    return lambda: _store_call(session_id, call)


def _checked_header(session_id: str, header: Any) -> dict[str, Any]:
    """A header a TurnStore read back (data from outside: a user's store may not check it)."""
    if not isinstance(header, dict):
        raise damaged(SessionDataError(f"session {session_id!r}: its stored header is not an object"), session_id)
    return stored_header(session_id, header)


def _store_call(session_id: str, call: Callable[[], T]) -> T:
    """Run a store read; any failure becomes a StoreError naming the session (SessionDataError
    for data that fails the validator), its text redacted."""
    try:
        return call()
    except SessionDataError as exc:
        raise damaged(exc, None if session_id == "*" else session_id) from None
    except StoreError as exc:
        if session_id == "*" or repr(session_id) in str(exc):
            raise
        raise StoreError(redact_text(f"could not read session {session_id!r}: {exc}")) from exc
    except AgentError:
        raise
    except Exception as exc:
        raise StoreError(
            redact_text(
                f"could not read session {session_id!r} from the store ({type(exc).__name__}: {exc}); "
                "check that the store is reachable, then retry"
            )
        ) from _chainable(exc)


def _chainable(exc: BaseException) -> BaseException | None:
    """``exc`` as a cause to chain, unless its text holds a credential (a traceback would show it)."""
    return exc if redact_text(str(exc)) == str(exc) else None


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
